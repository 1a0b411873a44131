/**
 * `kv cluster up`: a foreground supervisor. It finds or starts a broker, runs replicas n1…nN as
 * child processes, waits until every one serves, says how to use them, and on SIGINT/SIGTERM stops
 * them all (SIGTERM, then SIGKILL after a grace period) and then the private broker, if any.
 */
import path from 'node:path'
import {KvClient} from '../client/kv-client.js'
import {KvError} from '../core/errors.js'
import {redactUrl} from '../redis/connect.js'
import {ChildReplica} from './child-replica.js'
import {type Broker, chooseBroker} from './embedded-redis.js'
import {delay} from './process-helpers.js'

export interface SupervisorOptions {
  /** Absolute path of bin/run.js, run with process.execPath for each replica. */
  readonly binPath: string
  readonly nodes: number
  readonly mode: 'eventual' | 'quorum'
  /** Base directory; replica nK keeps its data in `<dataDir>/nK`. */
  readonly dataDir: string
  readonly allowFaults: boolean
  /** --redis or an environment variable; undefined lets the supervisor find or start one. */
  readonly explicitRedisUrl: string | undefined
  readonly cluster: string
  /** --secret-file (absolute), handed to every replica; `secrets` are its contents, for the supervisor's own client. */
  readonly secretFile?: string
  readonly secrets?: readonly Buffer[]
}

/**
 * Where the supervisor writes: replica output lines, its own notes, and the "ready" report. Plain
 * callbacks, handed on detached (to each ChildReplica, to the replica watcher).
 */
export interface SupervisorOutput {
  readonly stdout: (line: string) => void
  readonly stderr: (line: string) => void
  readonly ready: (report: ClusterReport) => void
}

/** What the supervisor tells the user once every replica serves. */
export interface ClusterReport {
  cluster: string
  redis: string
  embeddedRedis: boolean
  mode: 'eventual' | 'quorum'
  dataDir: string
  nodes: {id: string; pid: number; dataDir: string}[]
}

/** Every replica must serve within this long after start. */
export const STARTUP_DEADLINE_MS = 30_000
/** A replica that ignores SIGTERM this long is killed. */
export const STOP_GRACE_MS = 10_000
const POLL_INTERVAL_MS = 250

/**
 * Called by the `cluster up` command; resolves when the cluster was stopped by a signal (exit 0),
 * rejects if it could not start or every replica died.
 */
export async function superviseCluster(opts: SupervisorOptions, out: SupervisorOutput): Promise<void> {
  const stop = new StopSignal()
  const replicas: ChildReplica[] = []
  let broker: Broker | undefined
  const forget = stop.listen(
    () =>
      out.stderr(
        `stopping ${replicas.filter((r) => r.running).length} replicas… (press Ctrl-C again to kill them at once)`,
      ),
    () => {
      for (const r of replicas) r.kill()
      broker?.embedded?.kill()
    },
  )
  const killOnExit = (): void => {
    for (const r of replicas) r.kill() // the supervisor itself is dying: leave no orphans behind
  }
  process.once('exit', killOnExit)
  try {
    broker = await chooseBroker(opts.explicitRedisUrl, out.stderr)
    if (stop.isRequested()) return
    await startReplicas(opts, broker, replicas, out, stop)
    if (stop.isRequested()) return
    out.ready(report(opts, broker, replicas))
    await Promise.race([stop.wait, watchReplicas(replicas, out.stderr)])
  } finally {
    await Promise.all(replicas.map((r) => r.stop(STOP_GRACE_MS)))
    await broker?.embedded?.stop()
    forget()
    process.removeListener('exit', killOnExit)
  }
}

/** Spawns n1…nN and waits until each one answers a status request. */
async function startReplicas(
  opts: SupervisorOptions,
  broker: Broker,
  replicas: ChildReplica[],
  out: SupervisorOutput,
  stop: StopSignal,
): Promise<void> {
  const client = await KvClient.connect({
    redisUrl: broker.url,
    cluster: opts.cluster,
    timeoutMs: 1000,
    secrets: opts.secrets,
  })
  try {
    const ids = Array.from({length: opts.nodes}, (_, i) => `n${i + 1}`)
    for (const id of ids) {
      const spec = {
        id,
        peers: ids,
        mode: opts.mode,
        dataDir: path.join(opts.dataDir, id),
        allowFaults: opts.allowFaults,
        redisUrl: broker.url,
        cluster: opts.cluster,
        secretFile: opts.secretFile,
      }
      replicas.push(new ChildReplica(spec, opts.binPath, {stdout: out.stdout, stderr: out.stderr}))
    }
    await waitUntilServing(client, replicas, stop)
  } finally {
    await client.close()
  }
}

/** Polls `status` until every replica answers; a replica that exits during startup fails it at once. */
async function waitUntilServing(client: KvClient, replicas: readonly ChildReplica[], stop: StopSignal): Promise<void> {
  const deadline = Date.now() + STARTUP_DEADLINE_MS
  let waiting = replicas.map((r) => r.spec.id)
  while (!stop.isRequested()) {
    const dead = replicas.find((r) => !r.running)
    if (dead) {
      throw new KvError(
        'UNAVAILABLE',
        `replica ${dead.spec.id} exited during startup (${await dead.exited}); see its output above`,
      )
    }
    const status = await client.status({timeoutMs: 1000})
    // Serving means alive and caught up: a replica that started empty refuses writes until then.
    const alive = new Set(status.nodes.filter((n) => n.alive && n.recovering !== true).map((n) => n.id))
    waiting = replicas.map((r) => r.spec.id).filter((id) => !alive.has(id))
    if (waiting.length === 0) return
    if (Date.now() > deadline) break
    await Promise.race([delay(POLL_INTERVAL_MS), stop.wait])
  }
  if (stop.isRequested()) return
  throw new KvError(
    'UNAVAILABLE',
    `replicas ${waiting.join(', ')} did not start serving within ${STARTUP_DEADLINE_MS / 1000} s; see their output above`,
  )
}

/** Reports each unexpected exit; the others keep running. Rejects only when none is left. */
async function watchReplicas(replicas: readonly ChildReplica[], note: (line: string) => void): Promise<never> {
  await Promise.all(
    replicas.map(async (r) => {
      const how = await r.exited
      if (!r.stopRequested) note(`[${r.spec.id}] exited unexpectedly (${how}); the other replicas keep running`)
    }),
  )
  throw new KvError('UNAVAILABLE', 'every replica has exited; see their output above')
}

function report(opts: SupervisorOptions, broker: Broker, replicas: readonly ChildReplica[]): ClusterReport {
  return {
    cluster: opts.cluster,
    redis: redactUrl(broker.url),
    embeddedRedis: broker.embedded !== undefined,
    mode: opts.mode,
    dataDir: opts.dataDir,
    nodes: replicas.map((r) => ({id: r.spec.id, pid: r.pid, dataDir: r.spec.dataDir})),
  }
}

/** SIGINT/SIGTERM: the first asks for a clean stop, a second one forces it. */
class StopSignal {
  private requested = false
  readonly wait: Promise<void>
  private resolve!: () => void

  constructor() {
    this.wait = new Promise((resolve) => (this.resolve = resolve))
  }

  /**
   * Whether a stop was asked for. A signal handler sets it between any two awaits, so this is a
   * method: TypeScript would keep a field narrowed to false across an await.
   */
  isRequested(): boolean {
    return this.requested
  }

  /** Installs the handlers; returns a function that removes them. */
  listen(onFirst: () => void, onSecond: () => void): () => void {
    const handler = (): void => {
      if (this.requested) return onSecond()
      this.requested = true
      onFirst()
      this.resolve()
    }
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
    return () => {
      process.removeListener('SIGINT', handler)
      process.removeListener('SIGTERM', handler)
    }
  }
}
