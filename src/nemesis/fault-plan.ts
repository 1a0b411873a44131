/**
 * The nemesis's fault schedule, planned up front from a seeded Rng: the same seed, replica ids, mode
 * and duration always give the same list of faults (kind, start, hold time, targets), so a run that
 * found a bug can be repeated with `--seed`. Only the execution's timing differs between runs.
 *
 * Budget: most of the time at most FAULTY_MAX replicas are affected at once (killed, paused or cut
 * off from the majority side), so the cluster keeps making progress; in quorum mode about one fault
 * in MAJORITY_CHANCE⁻¹ deliberately takes a majority away (three replicas down, or a partition with
 * no majority side), which must make writes fail or time out but never break safety.
 *
 * Disk faults (`wipe`: the data directory is deleted; `corrupt`: one byte of log.bin or snapshot.json
 * is flipped) kill the replica first and restart it when they end, so they count as a down replica
 * exactly like a kill. They hit one replica each and are never part of a deliberate majority fault:
 * a majority of lost disks loses acknowledged writes by design, which no checker should call a bug.
 */
import {invariant} from '../core/invariant.js'
import type {Rng} from '../core/rng.js'

export type FaultKind = 'kill' | 'pause' | 'partition' | 'redis-restart' | 'wipe' | 'corrupt'

/** Every kind, in the order the summary lists them; the default mix of a run. */
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'partition', 'redis-restart', 'wipe', 'corrupt']

/** Kinds that kill a replica and restart it when they end (all but the first also damage its disk). */
export const DOWN_KINDS: readonly FaultKind[] = ['kill', 'wipe', 'corrupt']

/**
 * What a `corrupt` fault flips, drawn by the plan. The file may turn out to be unusable when the
 * fault runs (no snapshot yet, too few log frames): the injector then takes the other one.
 */
export interface CorruptSpec {
  readonly file: 'log' | 'snapshot'
  /** Where in the file's eligible bytes, as a fraction in [0.25, 0.75): "in the middle". */
  readonly position: number
  /** XORed into the chosen byte; 1..255, so the byte always changes. */
  readonly mask: number
}

/** One planned fault: begins `atMs` after the run starts and is undone `holdMs` later. */
export interface PlannedFault {
  readonly seq: number
  readonly kind: FaultKind
  readonly atMs: number
  readonly holdMs: number
  /** kill/pause/wipe/corrupt: the targets; partition: the replicas outside the biggest group; redis: none. */
  readonly nodes: readonly string[]
  /** partition only: the groups passed to `kv fault partition`. */
  readonly groups?: readonly (readonly string[])[]
  /** True when this fault (with the others active) leaves no majority of healthy replicas. */
  readonly majority: boolean
  /**
   * Quorum mode, a kill or pause of one replica: hit whoever leads at that moment instead of the
   * planned target, if the leader is healthy (the plan cannot know who will lead; the count of
   * affected replicas, which is what the budget limits, stays the same).
   */
  readonly preferLeader?: boolean
  /** corrupt only: which file and byte to damage. */
  readonly corrupt?: CorruptSpec
}

/** At most this many replicas are affected at once, except by a deliberate majority fault. */
export const FAULTY_MAX = 2
/** The chance that a quorum-mode fault takes a majority away. */
const MAJORITY_CHANCE = 0.15
/** Nothing happens in the first moments, so the run starts with a healthy cluster. */
const WARMUP_MS = 1500
/** Gap between two fault starts: GAP_MS_MIN plus up to GAP_MS_SPREAD. */
const GAP_MS_MIN = 1000
const GAP_MS_SPREAD = 2500
/** The chance that a quorum-mode kill or pause of one replica goes for the leader. */
const LEADER_CHANCE = 0.5
/** A broker restart never starts within this long of a partition change (and vice versa). */
const BROKER_MARGIN_MS = 2500

/** [min, max) hold time per kind, ms. The broker's is its downtime. */
const HOLD_MS: Record<FaultKind, readonly [number, number]> = {
  kill: [2000, 5000],
  pause: [1500, 4000],
  partition: [2000, 6000],
  'redis-restart': [500, 2500],
  wipe: [2000, 5000],
  corrupt: [2000, 5000],
}
const WEIGHT: Record<FaultKind, number> = {
  kill: 30,
  pause: 25,
  partition: 25,
  'redis-restart': 20,
  wipe: 10,
  corrupt: 10,
}
/** The eligible bytes of a corrupted file are hit between these fractions of the way through. */
const CORRUPT_POSITION_MIN = 0.25
const CORRUPT_POSITION_SPREAD = 0.5

/**
 * Called once per run by the nemesis (its test checks the plan too) with the kinds the run enables
 * (`--faults`, default all). Until every enabled kind has been planned once, the next missing kind
 * (in a seeded order) is tried first, so even a short run exercises each kind; after that kinds are
 * drawn by weight.
 */
export function planFaults(
  rng: Rng,
  ids: readonly string[],
  mode: 'eventual' | 'quorum',
  durationMs: number,
  kinds: readonly FaultKind[] = FAULT_KINDS,
): PlannedFault[] {
  invariant(kinds.length > 0, 'planFaults needs at least one fault kind')
  const enabled = FAULT_KINDS.filter((k) => kinds.includes(k))
  const plan: PlannedFault[] = []
  const firstKinds = rng.shuffle([...enabled])
  let at = WARMUP_MS
  for (;;) {
    at += GAP_MS_MIN + rng.int(GAP_MS_SPREAD)
    if (at >= durationMs - GAP_MS_MIN) break
    const majority = mode === 'quorum' && rng.next() < MAJORITY_CHANCE
    const missing = firstKinds.filter((k) => !plan.some((f) => f.kind === k))
    const first = missing.length > 0 ? missing : [weightedKind(rng, enabled)]
    const order = [...first, ...rng.shuffle(enabled.filter((k) => !first.includes(k)))]
    for (const kind of order) {
      const fault = tryPlan(rng, ids, plan, kind, at, majority, mode === 'quorum')
      if (fault) {
        plan.push(fault)
        break
      }
    }
  }
  return plan
}

function weightedKind(rng: Rng, kinds: readonly FaultKind[]): FaultKind {
  const total = kinds.reduce((sum, k) => sum + WEIGHT[k], 0)
  let x = rng.int(total)
  for (const k of kinds) {
    if (x < WEIGHT[k]) return k
    x -= WEIGHT[k]
  }
  return kinds[0] as FaultKind
}

function activeAt(plan: readonly PlannedFault[], at: number, endMs: number): PlannedFault[] {
  return plan.filter((f) => f.atMs < endMs && at < f.atMs + f.holdMs)
}

/** A fault of `kind` starting at `at` that fits the budget and the rules, or null. */
function tryPlan(
  rng: Rng,
  ids: readonly string[],
  plan: readonly PlannedFault[],
  kind: FaultKind,
  at: number,
  majority: boolean,
  leaderTargets: boolean,
): PlannedFault | null {
  const [lo, hi] = HOLD_MS[kind]
  const holdMs = lo + rng.int(hi - lo)
  const overlapping = activeAt(plan, at, at + holdMs)
  const affected = new Set(overlapping.flatMap((f) => f.nodes))
  const healthy = ids.filter((id) => !affected.has(id))
  const majorityOf = Math.floor(ids.length / 2) + 1
  const seq = plan.length + 1
  switch (kind) {
    case 'kill':
    case 'pause': {
      // Normal: one or two more, within the budget. Majority: enough to leave a minority healthy.
      const want = majority
        ? Math.max(1, ids.length - majorityOf + 1 - affected.size)
        : Math.min(FAULTY_MAX - affected.size, 1 + (rng.next() < 0.25 ? 1 : 0))
      if (want < 1 || healthy.length < want) return null
      const nodes = rng
        .shuffle([...healthy])
        .slice(0, want)
        .sort()
      const fault = {seq, kind, atMs: at, holdMs, nodes, majority: affected.size + want >= ids.length - majorityOf + 1}
      return leaderTargets && want === 1 && rng.next() < LEADER_CHANCE ? {...fault, preferLeader: true} : fault
    }
    case 'wipe':
    case 'corrupt': {
      // One replica, within the normal budget; never a majority fault (see the header).
      if (majority || affected.size + 1 > Math.min(FAULTY_MAX, ids.length - majorityOf) || healthy.length === 0)
        return null
      const nodes = [rng.pick(healthy)]
      const corrupt: CorruptSpec | undefined =
        kind === 'corrupt'
          ? {
              file: rng.next() < 0.5 ? 'log' : 'snapshot',
              position: CORRUPT_POSITION_MIN + rng.next() * CORRUPT_POSITION_SPREAD,
              mask: 1 + rng.int(255),
            }
          : undefined
      const fault: PlannedFault = {seq, kind, atMs: at, holdMs, nodes, majority: false, ...(corrupt ? {corrupt} : {})}
      return leaderTargets && rng.next() < LEADER_CHANCE ? {...fault, preferLeader: true} : fault
    }
    case 'partition': {
      if (overlapping.some((f) => f.kind === 'partition')) return null // one partition at a time
      if (plan.some((f) => f.kind === 'redis-restart' && nearBroker(f, at, holdMs))) return null
      if (majority) {
        // Groups of at most two: no side holds a majority.
        const shuffled = rng.shuffle([...ids])
        const groups: string[][] = []
        for (let i = 0; i < shuffled.length; i += 2) groups.push(shuffled.slice(i, i + 2).sort())
        return {seq, kind, atMs: at, holdMs, nodes: [...ids].sort(), groups, majority: true}
      }
      // A minority of one or two that includes the already affected replicas, so the budget holds.
      const size = 1 + rng.int(FAULTY_MAX)
      if (affected.size > size) return null
      const extra = rng.shuffle([...healthy]).slice(0, size - affected.size)
      const minority = [...affected, ...extra].sort()
      if (minority.length === 0) return null
      const rest = ids.filter((id) => !minority.includes(id))
      return {seq, kind, atMs: at, holdMs, nodes: minority, groups: [minority, rest], majority: false}
    }
    case 'redis-restart': {
      if (overlapping.some((f) => f.kind === 'redis-restart')) return null
      const near = plan.filter((f) => f.kind === 'partition' && partitionChangeNear(f, at, holdMs))
      if (near.length > 0) return null
      return {seq, kind, atMs: at, holdMs, nodes: [], majority: false}
    }
  }
}

/** A partition starting at `at` would change state too close to the broker outage `f`. */
function nearBroker(f: PlannedFault, at: number, holdMs: number): boolean {
  const outage: [number, number] = [f.atMs - BROKER_MARGIN_MS, f.atMs + f.holdMs + BROKER_MARGIN_MS]
  return within(at, outage) || within(at + holdMs, outage)
}

/** Partition `f` starts or heals too close to a broker outage from `at` for `holdMs`. */
function partitionChangeNear(f: PlannedFault, at: number, holdMs: number): boolean {
  const outage: [number, number] = [at - BROKER_MARGIN_MS, at + holdMs + BROKER_MARGIN_MS]
  return within(f.atMs, outage) || within(f.atMs + f.holdMs, outage)
}

function within(t: number, [from, to]: [number, number]): boolean {
  return t >= from && t <= to
}
