/**
 * One logical nemesis client: a loop of random puts (values unique in the run, `c3-17`), deletes
 * and reads on a small key set, one operation at a time over its own KvClient connection, each
 * recorded in the history with its outcome. It reconnects by itself when the broker restarts.
 * In eventual mode it also varies --w and --r, and half its writes carry the context of its last
 * read of that key (read-modify-write), so context-based supersession is exercised under faults.
 */
import type {HistoryOp, ReadItem} from '../check/history.js'
import {KvError} from '../core/errors.js'
import type {Rng} from '../core/rng.js'
import type {PutResult, ReadResult, ReplicaCount} from '../core/client-messages.js'
import {resolveReplicaCount} from '../core/replica-count.js'
import {delay} from '../cluster/process-helpers.js'
import type {HistoryRecorder} from './history-recorder.js'
import {outcomeOfError} from './op-outcome.js'
import type {ReconnectingClient} from './reconnecting-client.js'

/** Operation mix: puts, then deletes, the rest reads. */
const PUT_SHARE = 0.5
const DELETE_SHARE = 0.1
/** Target choice: let the client pick, else a replica the nemesis believes up, else any replica. */
const CLIENT_PICKS_SHARE = 0.4
const LIVE_NODE_SHARE = 0.5
/** Eventual mode: share of writes that pass the context of this worker's last read of the key. */
const CONTEXT_SHARE = 0.5
/** Eventual mode: how many replicas a write waits for (--w) and a read asks (--r); undefined = default. */
const REPLICA_COUNTS: readonly (ReplicaCount | undefined)[] = [undefined, undefined, 1, 2, 'quorum']
/** Pause before retrying a connection to a broker that is down. */
const RECONNECT_PAUSE_MS = 100

/** What every worker of a run shares. */
export interface WorkerContext {
  readonly mode: 'eventual' | 'quorum'
  readonly ids: readonly string[]
  readonly keys: readonly string[]
  readonly opTimeoutMs: number
  readonly thinkMsMax: number
  readonly recorder: HistoryRecorder
  /** Replicas the fault injector has not killed or paused right now. */
  readonly liveNodes: () => readonly string[]
  /** True once the run wants its clients to stop (checked between operations). */
  readonly stopped: () => boolean
}

/** Runs until ctx.stopped(); resolves after its last operation was recorded. */
export async function runClientWorker(
  name: string,
  rng: Rng,
  conn: ReconnectingClient,
  ctx: WorkerContext,
): Promise<void> {
  let seq = 0
  // Read-modify-write: the context of this worker's last read of each key (never another key's).
  const contexts = new Map<string, string>()
  while (!ctx.stopped()) {
    const connected = await conn.get()
    if (!connected) {
      await delay(RECONNECT_PAUSE_MS)
      continue
    }
    const {client, watch} = connected
    const x = rng.next()
    const kind = x < PUT_SHARE ? 'put' : x < PUT_SHARE + DELETE_SHARE ? 'delete' : 'read'
    const key = rng.pick(ctx.keys)
    const node = pickTarget(rng, ctx)
    const count = rng.pick(REPLICA_COUNTS)
    const context = rng.next() < CONTEXT_SHARE ? contexts.get(key) : undefined
    const eventual = ctx.mode === 'eventual'
    const value = kind === 'put' ? `${name}-${++seq}` : kind === 'delete' ? null : undefined
    const base = {client: name, kind, key, ...(value !== undefined ? {value} : {})} as const
    const invoke = ctx.recorder.now()
    watch.begin()
    try {
      if (kind === 'read') {
        const result = await client.read(key, {
          node,
          timeoutMs: ctx.opTimeoutMs,
          ...(eventual && count !== undefined ? {r: count} : {}),
        })
        if (eventual) contexts.set(key, result.context)
        ctx.recorder.record({
          ...base,
          invoke,
          complete: ctx.recorder.now(),
          status: 'ok',
          node: result.node,
          read: readItems(result, ctx.mode),
        })
      } else {
        const opts = {
          node,
          timeoutMs: ctx.opTimeoutMs,
          ...(eventual && count !== undefined ? {w: count} : {}),
          ...(eventual && context ? {context} : {}),
        }
        const result = kind === 'put' ? await client.put(key, value as string, opts) : await client.delete(key, opts)
        ctx.recorder.record({
          ...base,
          invoke,
          complete: ctx.recorder.now(),
          status: 'ok',
          ...writeFields(result, eventual ? count : undefined, ctx.ids.length),
        })
      }
    } catch (error) {
      const complete = ctx.recorder.now()
      const outcome = outcomeOfError(error, watch.mayHaveDelivered)
      const op: Omit<HistoryOp, 'id'> = {
        ...base,
        invoke,
        complete: outcome.status === 'fail' ? complete : null,
        ...outcome,
        ...(node ? {node} : {}),
      }
      ctx.recorder.record(op, (error as Error).message)
      if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await conn.reset()
    }
    if (ctx.thinkMsMax > 0) await delay(rng.int(ctx.thinkMsMax + 1))
  }
}

function pickTarget(rng: Rng, ctx: WorkerContext): string | undefined {
  const x = rng.next()
  if (x < CLIENT_PICKS_SHARE) return undefined
  if (x < CLIENT_PICKS_SHARE + LIVE_NODE_SHARE) {
    const live = ctx.liveNodes()
    return live.length > 0 ? rng.pick(live) : undefined
  }
  return rng.pick(ctx.ids)
}

/** The values a read saw; eventual ones with their clocks (the checker recovers dots from them). */
export function readItems(result: ReadResult, mode: 'eventual' | 'quorum'): ReadItem[] {
  return result.values.map((v) =>
    mode === 'eventual' && v.clock ? {value: v.value, clock: v.clock} : {value: v.value},
  )
}

/**
 * An acknowledged write: the coordinating replica, and in eventual mode the new version's clock and
 * how many replicas held it durably when acknowledged: the reply's `replicas`, and never fewer than
 * the --w asked for (`w` undefined: the replica's default, 1), so the checker excuses no more losses
 * than the request allows.
 */
export function writeFields(
  result: PutResult,
  w: ReplicaCount | undefined,
  members: number,
): Pick<HistoryOp, 'node' | 'clock' | 'dot' | 'w'> {
  if (!('clock' in result)) return {node: result.node}
  const asked = resolveReplicaCount(w, members, 1)
  const durable = Math.max(typeof asked === 'number' ? asked : 1, result.replicas ?? 0)
  return {node: result.node, clock: result.clock, ...(result.dot ? {dot: result.dot} : {}), w: durable}
}
