/**
 * One nemesis run, as a function (main.ts and the scenario test call it): a private redis-server,
 * five real replicas started through bin/run.js, concurrent clients recording a history, a seeded
 * fault schedule, then heal, quiet, collect and judge. Every process it started is stopped before
 * it returns, also when it fails or is interrupted (and killed if the Node process exits first).
 */
import {randomBytes} from 'node:crypto'
import {cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {
  combineVerdicts,
  type FinalStates,
  type HistoryOp,
  type ObservedKeyState,
  type Verdict,
} from '../check/history.js'
import {checkEventual} from '../check/eventual-history.js'
import {checkLinearizable} from '../check/linearizability.js'
import {readSecretFile} from '../auth/secret-file.js'
import type {NodeStatus} from '../core/client-messages.js'
import {KvError} from '../core/errors.js'
import {Rng} from '../core/rng.js'
import {LocalCluster, RUN_JS, uniqueCluster} from '../cluster/local-cluster.js'
import {PrivateRedis} from '../cluster/private-redis.js'
import {waitFor} from '../cluster/wait-for.js'
import {runClientWorker} from './client-worker.js'
import {FaultInjector, type FaultRecord, at, diskLossesOf} from './fault-injector.js'
import {type PlannedFault, planFaults} from './fault-plan.js'
import {collectFinalStates, finalQuorumReads} from './final-state.js'
import {HistoryRecorder} from './history-recorder.js'
import {type StatusSample, checkLeaderPerTerm} from './leader-check.js'
import type {NemesisOptions} from './options.js'
import {ReconnectingClient} from './reconnecting-client.js'
import {ReplicaLogs} from './replica-logs.js'
import {currentLeader, pollStatus} from './status-poller.js'

/** The replicas of every run. */
export const REPLICA_IDS: readonly string[] = ['n1', 'n2', 'n3', 'n4', 'n5']

/** The compiled `kv node start` that bin/run.js runs for every replica. */
const REPLICA_ENTRY = resolve(RUN_JS, '../../dist/commands/node/start.js')

/** Deadlines of the phases around the fault window. */
const STARTUP_DEADLINE_MS = 30_000
const RECOVERY_DEADLINE_MS = 30_000
const FINAL_READ_DEADLINE_MS = 30_000

/** Everything a run produced; saved as JSON when the verdict is not ok (or on request). */
export interface NemesisReport {
  readonly options: NemesisOptions
  readonly cluster: string
  readonly redisUrl: string
  readonly startedAt: string
  /** ms from the first client operation to the end of the fault window. */
  readonly faultWindowMs: number
  readonly totalMs: number
  readonly ops: readonly HistoryOp[]
  /** op id → error message of its fail/unknown outcome. */
  readonly errorMessages: Readonly<Record<number, string>>
  readonly plan: readonly PlannedFault[]
  readonly faults: readonly FaultRecord[]
  readonly statusSamples: readonly StatusSample[]
  /** Eventual mode: replica → key → state, as checkEventual saw it. */
  readonly finals?: Record<string, Record<string, ObservedKeyState>>
  readonly finalsConverged?: boolean
  /** Replica processes that exited without being killed by the nemesis. */
  readonly crashes: readonly string[]
  readonly replicaWarnings: Record<string, number>
  readonly suspiciousLogLines: readonly string[]
  /**
   * With --secret: replica → messages its authenticator refused, by reason (no-mac, bad-mac, stale,
   * replayed), from a last status after the final reads (since the replica's last start; null if it
   * did not answer), and summed over every start (earlier starts from their last WARN line, which
   * misses up to 10 s before a kill).
   */
  readonly rejected?: {
    readonly final: Record<string, Record<string, number> | null>
    readonly overStarts: Record<string, Record<string, number>>
  }
  readonly verdict: Verdict
  /** Set when the run could not be completed (then the verdict is unknown). */
  readonly harnessError?: string
  /** Where the history and logs were written, if they were. */
  readonly savedTo?: string
}

/** How the caller watches and stops a run. */
export interface RunHooks {
  /** Progress lines (fault starts and ends, phases); default: none. */
  readonly log?: (line: string) => void
  /** Aborting stops the run early (Ctrl-C); the verdict is then unknown. */
  readonly signal?: AbortSignal
}

/** Runs one nemesis and returns its report; never leaves a process behind. */
export async function runNemesis(opts: NemesisOptions, hooks: RunHooks = {}): Promise<NemesisReport> {
  const ids = [...REPLICA_IDS]
  const keys = Array.from({length: opts.keys}, (_, i) => `k${i}`)
  const rng = new Rng(opts.seed)
  const plan = planFaults(rng.fork(), ids, opts.mode, opts.durationS * 1000, opts.faults)
  const workerRngs = Array.from({length: opts.clients}, () => rng.fork())
  const work = mkdtempSync(join(tmpdir(), 'kv-nemesis-'))
  const logs = new ReplicaLogs(join(work, 'logs'))
  const say = (line: string): void => {
    hooks.log?.(line)
    logs.note(line)
  }
  const startedAt = new Date().toISOString()
  const started = performance.now()
  const interrupted = (): boolean => hooks.signal?.aborted === true

  let redis: PrivateRedis | undefined
  let cluster: LocalCluster | undefined
  const conns: ReconnectingClient[] = []
  const crashes: string[] = []
  let stopping = false
  const killOnExit = (): void => {
    // The Node process is exiting without our cleanup (a second Ctrl-C): kill what we started.
    for (const pid of [...(cluster?.pids() ?? []), redis?.pid]) {
      if (pid === undefined) continue
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  process.once('exit', killOnExit)

  let recorder: HistoryRecorder | undefined
  let injector: FaultInjector | undefined
  const samples: StatusSample[] = []
  let faultWindowMs = 0
  let finals: FinalStates | undefined
  let finalsConverged: boolean | undefined
  let verdict: Verdict
  let harnessError: string | undefined
  // Whatever happens, the finally block stops these before it stops the processes they touch.
  let clientsStopped = false
  let pollerStopped = false
  const stopFaults = new AbortController()
  let background: Promise<unknown>[] = []
  // --secret: one secret file in the run's private temp dir, for the replicas and every client.
  let secretFile: string | undefined
  let secrets: Buffer[] | undefined
  let finalRejected: Record<string, Record<string, number> | null> | undefined
  const connect = (timeoutMs: number): ReconnectingClient => {
    const conn = new ReconnectingClient((redis as PrivateRedis).url, (cluster as LocalCluster).name, timeoutMs, secrets)
    conns.push(conn)
    return conn
  }

  // Ctrl-C: stop injecting and issuing at once; replica exits from now on are ours, not crashes
  // (a terminal's Ctrl-C reaches the replicas and the redis-server too).
  const onInterrupt = (): void => {
    stopping = true
    clientsStopped = true
    pollerStopped = true
    injector?.abandon()
    stopFaults.abort()
  }
  hooks.signal?.addEventListener('abort', onInterrupt, {once: true})

  try {
    if (!existsSync(REPLICA_ENTRY))
      throw new Error(`${REPLICA_ENTRY} is missing: replicas run from dist/; build first (npx tsc -p tsconfig.json)`)
    if (opts.secret) {
      secretFile = join(work, 'secret')
      writeFileSync(secretFile, `${randomBytes(48).toString('base64')}\n`, {mode: 0o600})
      secrets = readSecretFile(secretFile)
    }
    redis = await PrivateRedis.start()
    cluster = new LocalCluster(redis.url, uniqueCluster(`nemesis-${opts.mode}`), ids, opts.mode, {
      secretFile,
      onLine: (id, line) => logs.line(id, line),
      onExit: (id, code, signal) => {
        // The nemesis only ever sends SIGKILL (and SIGSTOP/SIGCONT); anything else is a crash.
        if (!stopping && signal !== 'SIGKILL') {
          crashes.push(
            `${id} exited by itself (${signal ? `signal ${signal}` : `exit code ${code}`}) at ${at(recorder?.now() ?? 0)}`,
          )
          say(`replica ${id} exited by itself (${signal ?? `code ${code}`}); see its log`)
        }
      },
    })
    say(
      `nemesis ${opts.mode} seed ${opts.seed}: redis ${redis.url}, cluster ${cluster.name}${secretFile ? ' (signed)' : ''}, ${plan.length} faults planned over ${opts.durationS} s`,
    )
    cluster.startAll()
    await cluster.waitAlive(ids, STARTUP_DEADLINE_MS)
    const control = connect(opts.opTimeoutMs)
    if (opts.mode === 'quorum') await waitForOneLeader(control, ids, STARTUP_DEADLINE_MS)
    if (interrupted()) throw new Interrupted()
    say('all replicas serve; clients start')

    const rec = new HistoryRecorder(performance.now())
    recorder = rec
    const leader = opts.mode === 'quorum' ? () => currentLeader(samples, rec.now()) : undefined
    const inj = new FaultInjector({
      cluster,
      redis,
      conn: connect(opts.opTimeoutMs),
      ids,
      now: () => rec.now(),
      log: say,
      leader,
    })
    injector = inj
    const workers = workerRngs.map((wrng, i) =>
      runClientWorker(`c${i + 1}`, wrng, connect(opts.opTimeoutMs), {
        mode: opts.mode,
        ids,
        keys,
        opTimeoutMs: opts.opTimeoutMs,
        thinkMsMax: opts.thinkMsMax,
        recorder: rec,
        liveNodes: () => inj.liveNodes(),
        stopped: () => clientsStopped,
      }),
    )
    const poller =
      opts.mode === 'quorum'
        ? pollStatus(
            connect(1000),
            ids,
            () => rec.now(),
            samples,
            () => pollerStopped,
          )
        : Promise.resolve()

    const faultsDone = inj.run(plan, stopFaults.signal)
    background = [...workers, poller, faultsDone]
    await sleepAbortable(opts.durationS * 1000, hooks.signal)
    stopFaults.abort()
    await faultsDone
    faultWindowMs = rec.now()
    if (interrupted()) throw new Interrupted()
    say(`${at(rec.now())} fault window over: healing everything`)

    const problems: string[] = []
    try {
      await inj.healAll()
      await cluster.waitAlive(ids, RECOVERY_DEADLINE_MS)
      await inj.verifyHealed()
      if (opts.mode === 'quorum') await waitForOneLeader(control, ids, RECOVERY_DEADLINE_MS)
    } catch (error) {
      if (interrupted()) throw new Interrupted()
      problems.push(
        `liveness: the cluster did not recover within ${RECOVERY_DEADLINE_MS / 1000} s after every fault was healed: ${(error as Error).message}`,
      )
    }
    say(`${at(rec.now())} healed; stopping clients`)
    clientsStopped = true
    await Promise.all(workers)
    await sleepAbortable(opts.quietS * 1000, hooks.signal)
    if (interrupted()) throw new Interrupted()
    say(`${at(rec.now())} ${rec.ops.length} operations recorded; reading final states`)

    const verdicts: Verdict[] = []
    if (opts.mode === 'quorum') {
      const finalConns = new Map(ids.map((id) => [id, connect(opts.opTimeoutMs)]))
      for (const stuck of await finalQuorumReads(finalConns, keys, rec, FINAL_READ_DEADLINE_MS))
        problems.push(`liveness: ${stuck}`)
      pollerStopped = true
      await poller
      if (interrupted()) throw new Interrupted()
      verdicts.push(checkLinearizable(rec.ops, {timeLimitMs: opts.checkTimeLimitMs}), checkLeaderPerTerm(samples))
    } else {
      const touched = [...new Set(rec.ops.map((op) => op.key))].sort()
      const collected = await collectFinalStates(control, ids, touched, FINAL_READ_DEADLINE_MS)
      if (interrupted()) throw new Interrupted()
      finals = collected.finals
      finalsConverged = collected.converged
      for (const id of collected.unreadable) problems.push(`liveness: replica ${id} could not be read at the end`)
      for (const bad of collected.badContexts)
        problems.push(`a read returned a context token that does not decode: ${bad}`)
      // Writes lost as their --w allows after a wipe or corrupt fault are noted, not violations.
      verdicts.push(checkEventual(rec.ops, collected.finals, {diskLosses: diskLossesOf(inj.records)}))
    }
    if (opts.secret) finalRejected = await lastRejectedCounts(control, ids)
    for (const crash of crashes) problems.push(`crash: ${crash}`)
    verdicts.push({verdict: problems.length > 0 ? 'violation' : 'ok', problems, stats: {}})
    verdict = combineVerdicts(verdicts)
  } catch (error) {
    // Interrupted (Ctrl-C): nothing is judged, the history so far is saved for a look.
    harnessError = error instanceof Interrupted ? error.message : ((error as Error).stack ?? String(error))
    verdict = {
      verdict: 'unknown',
      problems: [error instanceof Interrupted ? error.message : `harness error: ${(error as Error).message}`],
      stats: {},
    }
  } finally {
    hooks.signal?.removeEventListener('abort', onInterrupt)
    clientsStopped = true
    pollerStopped = true
    stopFaults.abort()
    await Promise.allSettled(background)
    stopping = true
    await Promise.all(conns.map((c) => c.close()))
    await cluster?.close().catch(() => {})
    await redis?.stop().catch(() => {})
    process.removeListener('exit', killOnExit)
  }

  await logs.close()
  const report: NemesisReport = {
    options: opts,
    cluster: cluster?.name ?? '',
    redisUrl: redis?.url ?? '',
    startedAt,
    faultWindowMs,
    totalMs: Math.round(performance.now() - started),
    ops: recorder?.ops ?? [],
    errorMessages: recorder?.errorMessages ?? {},
    plan,
    faults: injector?.records ?? [],
    statusSamples: samples,
    ...(finals ? {finals: finalsAsJson(finals), finalsConverged} : {}),
    crashes,
    replicaWarnings: Object.fromEntries(logs.warnings),
    suspiciousLogLines: logs.suspicious,
    ...(opts.secret
      ? {rejected: {final: finalRejected ?? {}, overStarts: logs.rejectedOverStarts(finalRejected ?? {})}}
      : {}),
    verdict,
    ...(harnessError ? {harnessError} : {}),
  }
  let saved = report
  if (report.verdict.verdict !== 'ok' || opts.save) saved = {...report, savedTo: save(report, logs.dir)}
  rmSync(work, {recursive: true, force: true})
  return saved
}

/** Writes history.json and the replica logs to `<outDir>/<mode>-seed<N>-<time>/`; returns that dir. */
function save(report: NemesisReport, logsDir: string): string {
  const stamp = report.startedAt.replace(/[:.]/g, '-')
  const dir = resolve(report.options.outDir, `${report.options.mode}-seed${report.options.seed}-${stamp}`)
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'history.json'), `${JSON.stringify({...report, savedTo: dir}, null, 1)}\n`)
  cpSync(logsDir, join(dir, 'logs'), {recursive: true})
  return dir
}

function finalsAsJson(finals: FinalStates): Record<string, Record<string, ObservedKeyState>> {
  return Object.fromEntries([...finals].map(([id, byKey]) => [id, Object.fromEntries(byKey)]))
}

/** Quorum mode: waits until every replica answers and exactly one of them leads, named by all. */
async function waitForOneLeader(conn: ReconnectingClient, ids: readonly string[], timeoutMs: number): Promise<string> {
  return waitFor(
    'one leader every replica agrees on',
    async () => {
      const connected = await conn.get()
      if (!connected) return null
      const st = await connected.client.status({timeoutMs: 1000}).catch(async (error: unknown) => {
        if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await conn.reset()
        throw error
      })
      const live = st.nodes.filter((n) => ids.includes(n.id) && n.alive)
      if (live.length !== ids.length || !st.leader) return null
      const leaders = live.filter((n) => n.role === 'leader')
      return leaders.length === 1 && live.every((n) => n.leader === st.leader) ? st.leader : null
    },
    {timeoutMs, intervalMs: 250},
  )
}

/** The replicas' authenticator refusal counts from one last status (null for a replica that did not answer). */
async function lastRejectedCounts(
  conn: ReconnectingClient,
  ids: readonly string[],
): Promise<Record<string, Record<string, number> | null>> {
  const counts: Record<string, Record<string, number> | null> = Object.fromEntries(ids.map((id) => [id, null]))
  try {
    const connected = await conn.get()
    const st = await connected?.client.status({timeoutMs: 1500})
    for (const n of st?.nodes ?? []) {
      const rejected = (n as NodeStatus & {rejected?: Record<string, number>}).rejected
      if (n.alive && rejected) counts[n.id] = {...rejected}
    }
  } catch {
    // Reported as not answered; the run's verdict does not depend on it.
  }
  return counts
}

/** Thrown inside runNemesis when its signal aborts, to skip to the cleanup. */
class Interrupted extends Error {
  constructor() {
    super('interrupted before the run completed')
  }
}

/** Waits `ms`, or less if `signal` aborts. */
async function sleepAbortable(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, {once: true})
  })
}
