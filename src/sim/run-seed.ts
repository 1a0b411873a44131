/**
 * One simulated run, start to verdict, from one seed: five real cores, concurrent clients, the
 * seed's fault schedule, then every fault healed and a quiet period, then the checkers.
 *
 * Phases (in ticks of the mode's tickMs): faults and clients together (`faultTicks`); calm with
 * clients still running (`calmTicks`, so a healed cluster must serve again); clients stop and the
 * cluster settles (at most `settleTicksMax`). Verdicts:
 * - quorum: the QuorumSafetyChecker on every Output (one leader per term, committed entries agree and
 *   are never lost, applied states match the committed log), the per-key linearizability of the
 *   client history, no NO_QUORUM value on any disk, and liveness: once healed, every replica
 *   reaches the same commit index;
 * - eventual: convergence, no lost acknowledged write, pairwise-concurrent siblings, no phantom values.
 */
import {
  combineVerdicts,
  type FinalStates,
  type HistoryOp,
  type ObservedKeyState,
  type Verdict,
} from '../check/history.js'
import {checkEventual} from '../check/eventual-history.js'
import {checkLinearizable} from '../check/linearizability.js'
import {QuorumSafetyChecker} from '../check/quorum-safety.js'
import {Rng} from '../core/rng.js'
import {SNAPSHOT_EVERY_RECORDS_DEFAULT} from '../runtime/replica-runner.js'
import {DEFAULT_EVENTUAL_TIMING, type EventualReplica} from '../eventual/replica.js'
import {contextOf, liveValues, versionClock} from '../eventual/siblings.js'
import {DEFAULT_QUORUM_TIMING} from '../quorum/config.js'
import type {QuorumRecord} from '../quorum/records.js'
import type {QuorumReplica} from '../quorum/replica.js'
import type {ClientRequest} from '../core/client-messages.js'
import {SimClients} from './sim-clients.js'
import {SimCluster, type SimCore, type SimOptions} from './sim-cluster.js'
import {eventualFactory, quorumFactory} from './sim-modes.js'
import {SimNemesis} from './sim-nemesis.js'

export type SimMode = 'eventual' | 'quorum'

export interface SeedOptions {
  readonly faultTicks?: number
  readonly calmTicks?: number
  readonly settleTicksMax?: number
  /** Receives the run's trace (faults, client operations) when set. */
  readonly trace?: (line: string) => void
  /** Bound on the linearizability search per run. */
  readonly searchMs?: number
  /** Sabotage (tests of the checkers): crashes also lose records the disk had reported fsynced. */
  readonly fsyncLies?: boolean
  /** Sabotage (tests of the checkers): restarts ignore lost data, as replicas did before they recovered from it. */
  readonly lossBlind?: boolean
  /**
   * Run an authenticated cluster (signed messages, an attacker without the secret). Default: half
   * the seeds, chosen by a hash of the seed (signedBySeed), so unsigned seeds run as they always did.
   */
  readonly signed?: boolean
}

/** Whether a seed runs signed by default: one draw of a generator of its own, about half the seeds. */
export function signedBySeed(seed: number): boolean {
  return new Rng(seed + SIGNING_SEED_OFFSET).next() < 0.5
}

/** Offsets the signing's own Rng from the seed's main one. */
const SIGNING_SEED_OFFSET = 0x51_6e_ed

export interface SeedResult {
  readonly mode: SimMode
  readonly seed: number
  readonly verdict: Verdict
  readonly history: readonly HistoryOp[]
  readonly ticks: number
  readonly faults: Readonly<Record<string, number>>
  readonly cluster: Readonly<Record<string, number>>
}

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5']

export function runSeed(mode: SimMode, seed: number, opts: SeedOptions = {}): SeedResult {
  return mode === 'quorum' ? runQuorum(seed, opts) : runEventual(seed, opts)
}

interface Harness<C extends SimCore> {
  cluster: SimCluster<C>
  clients: SimClients
  nemesis: SimNemesis<C>
}

function harness<C extends SimCore>(
  mode: SimMode,
  seed: number,
  rng: Rng,
  cluster: SimCluster<C>,
  tickMs: number,
  opts: SeedOptions,
  leader?: () => string | undefined,
): Harness<C> {
  opts.trace?.(`seed ${seed} mode ${mode}`)
  cluster.trace = opts.trace ?? null
  cluster.fsyncLies = opts.fsyncLies ?? false
  cluster.lossBlind = opts.lossBlind ?? false
  const clients = new SimClients(
    {
      get now() {
        return cluster.now
      },
      get ids() {
        return cluster.ids
      },
      clock: () => cluster.clock(),
      isUp: (id) => cluster.isUp(id),
      request: (id, req: ClientRequest) => cluster.request(id, req),
    },
    {
      mode,
      clients: rng.pick([3, 5, 8]),
      keys: rng.pick([1, 3, 6]),
      busy: rng.pick([0.1, 0.3, 0.6]),
      timeoutMs: 3000,
      tickMs,
    },
    rng.fork(),
    opts.trace ?? null,
  )
  cluster.onReply = (channel, msg) => clients.onReply(channel, msg)
  const nemesis = new SimNemesis(cluster, rng.fork(), leader)
  return {cluster, clients, nemesis}
}

/**
 * The runners' snapshot policy: the real default (no compaction in a run this short) or a budget
 * small enough that the runner compacts on its own, racing appends, crashes and slow disks.
 */
function simOptions(rng: Rng, seed: number, opts: SeedOptions): SimOptions {
  const signed = opts.signed ?? signedBySeed(seed)
  return {
    snapshotEveryRecords: rng.pick([SNAPSHOT_EVERY_RECORDS_DEFAULT, SNAPSHOT_EVERY_RECORDS_DEFAULT, 200, 40]),
    ...(signed ? {signing: {rng: new Rng(seed + SIGNING_SEED_OFFSET + 1)}} : {}),
  }
}

/**
 * Faults and clients, then calm with clients, then clients stop and `settled` is awaited.
 * `during` runs once per tick of the faulty phase (mode-specific events such as a join).
 */
function drive<C extends SimCore>(
  h: Harness<C>,
  opts: SeedOptions,
  settled: () => boolean,
  during: (t: number) => void = () => {},
): boolean {
  const {cluster, clients, nemesis} = h
  for (let t = 0; t < (opts.faultTicks ?? 400); t++) {
    during(t)
    if (t >= 20) nemesis.tick()
    cluster.tick()
    clients.tick()
  }
  nemesis.healAll()
  opts.trace?.(`t${cluster.now} HEAL ALL`)
  for (let t = 0; t < (opts.calmTicks ?? 100); t++) {
    cluster.tick()
    clients.tick()
  }
  clients.stopped = true
  for (let t = 0; t < (opts.settleTicksMax ?? 1500); t++) {
    if (clients.inFlight === 0 && t % 10 === 0 && settled()) return true
    cluster.tick()
    clients.tick()
  }
  return false
}

function runQuorum(seed: number, opts: SeedOptions): SeedResult {
  const rng = new Rng(seed)
  const retain = rng.pick([10_000, 10_000, 40])
  // Half the seeds run with tiny batches, so APPENDs and read rounds are cut at their limits.
  const batchEntriesMax = rng.next() < 0.5 ? rng.pick([1, 2, 3]) : undefined
  const options = simOptions(rng, seed, opts)
  const cluster = new SimCluster<QuorumReplica>(
    IDS,
    quorumFactory(IDS, {...DEFAULT_QUORUM_TIMING, logRetainEntries: retain, batchEntriesMax}),
    rng.fork(),
    options,
  )
  const safety = new QuorumSafetyChecker(() => `seed ${seed} tick ${cluster.now}`)
  cluster.onOutput = (core, out) => {
    safety.persisted(out.persist as QuorumRecord[])
    safety.observe(core)
  }
  const leader = () => cluster.upCores().find((c) => c.currentRole === 'leader' && !cluster.isPaused(c.id))?.id
  const h = harness('quorum', seed, rng, cluster, DEFAULT_QUORUM_TIMING.tickMs, opts, leader)
  const caughtUp = () => {
    const cores = cluster.upCores()
    const commit = Math.max(...cores.map((c) => c.commit))
    return (
      cores.length === IDS.length &&
      cores.every((c) => c.commit === commit && c.applied === commit) &&
      cores.some((c) => c.serving)
    )
  }
  const live = drive(h, opts, caughtUp)
  safety.checkAppliedStates(cluster.upCores())
  const history = h.clients.history
  const problems = [...safety.violations, ...cluster.authBreaches]
  for (const op of history) {
    if (op.kind === 'put' && op.status === 'fail' && typeof op.value === 'string' && safety.everWritten.has(op.value)) {
      problems.push(`op #${op.id}: put ${op.key}=${op.value} failed with ${op.error} but the value reached a disk`)
    }
  }
  if (!live)
    problems.push(
      `liveness: ${settleTicks(opts)} ticks after every fault healed, replicas still disagree on the commit index: ${cluster
        .upCores()
        .map((c) => `${c.id}:${c.commit}/${c.applied}${c.serving ? '*' : ''}`)
        .join(' ')}`,
    )
  const state: Verdict = {
    verdict: problems.length ? 'violation' : 'ok',
    problems,
    stats: {committed: safety.highestCommitted, terms: safety.leaderOfTerm.size},
  }
  const lin = checkLinearizable(history, {timeLimitMs: opts.searchMs ?? 10_000})
  return result('quorum', seed, combineVerdicts([state, lin]), h)
}

function runEventual(seed: number, opts: SeedOptions): SeedResult {
  const rng = new Rng(seed)
  // Half the seeds run with tiny batches, so replication, reads and anti-entropy are cut and held at their limits.
  const limits = rng.next() < 0.5 ? {batchEntriesMax: rng.pick([1, 2, 3]), replHoldKeysMax: rng.pick([1, 2, 4])} : {}
  const options = simOptions(rng, seed, opts)
  const cluster = new SimCluster<EventualReplica>(IDS, eventualFactory(IDS, limits), rng.fork(), options)
  const h = harness('eventual', seed, rng, cluster, DEFAULT_EVENTUAL_TIMING.tickMs, opts)
  // Seed 004: in some runs a sixth replica joins in the middle of the faults (it starts empty,
  // catches up, then coordinates writes with a clock entry of its own).
  const joinAt = rng.next() < 0.3 ? rng.int(opts.faultTicks ?? 400) : -1
  const converged = () => {
    const cores = cluster.upCores()
    if (cores.length !== cluster.ids.length) return false
    const first = JSON.stringify([...observe(cores[0] as EventualReplica)])
    return cores.every((c) => JSON.stringify([...observe(c)]) === first)
  }
  drive(h, opts, converged, (t) => {
    if (t === joinAt) cluster.join('n6')
  })
  const finals: FinalStates = new Map(cluster.upCores().map((c) => [c.id, observe(c)]))
  const verdict = checkEventual(h.clients.history, finals, {diskLosses: h.cluster.diskFaultLog})
  return result('eventual', seed, withBreaches(verdict, cluster.authBreaches), h)
}

/** What a client reading every key of a replica would see (live siblings, clocks, context). */
function observe(core: EventualReplica): Map<string, ObservedKeyState> {
  const m = new Map<string, ObservedKeyState>()
  for (const key of core.keys().sort()) {
    const s = core.stateOf(key)
    m.set(key, {
      values: liveValues(s).map((v) => ({value: v.value as string, clock: versionClock(v)})),
      context: contextOf(s),
    })
  }
  return m
}

/** An attack a replica accepted makes the run a violation, whatever else the checkers found. */
function withBreaches(verdict: Verdict, breaches: readonly string[]): Verdict {
  if (breaches.length === 0) return verdict
  return {...verdict, verdict: 'violation', problems: [...verdict.problems, ...breaches]}
}

function settleTicks(opts: SeedOptions): number {
  return (opts.calmTicks ?? 100) + (opts.settleTicksMax ?? 1500)
}

function result<C extends SimCore>(mode: SimMode, seed: number, verdict: Verdict, h: Harness<C>): SeedResult {
  return {
    mode,
    seed,
    verdict,
    history: h.clients.history,
    ticks: h.cluster.now,
    faults: {...h.nemesis.counts},
    cluster: {...h.cluster.stats},
  }
}
