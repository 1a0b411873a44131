/**
 * Simulated clients: each issues one operation at a time (put, delete or read on a small key set,
 * so operations contend), to a random replica, with a deadline, and records what happened as a
 * HistoryOp, exactly as the nemesis records real clients. Put values are unique in the run.
 *
 * Outcomes follow the client library: a crashed replica is UNAVAILABLE before anything is sent
 * (its presence key is gone), a broker outage refuses the publish (REDIS_UNAVAILABLE, not sent);
 * both are certain failures. A reply's NO_QUORUM, BAD_REQUEST and UNAVAILABLE are certain failures
 * too; TIMEOUT or no reply by the deadline leaves the outcome unknown.
 */
import type {Rng} from '../core/rng.js'
import type {HistoryOp, OpKind, ReadItem} from '../check/history.js'
import type {Clock, Dot} from '../eventual/types.js'
import type {ClientRequest, PutResultEventual, ReadResult, ReplicaCount} from '../core/client-messages.js'

/** What a client can do to the simulated cluster. */
export interface ClientWorld {
  readonly now: number
  readonly ids: readonly string[]
  clock(): number
  isUp(id: string): boolean
  request(nodeId: string, req: ClientRequest): boolean
}

export interface ClientMix {
  readonly mode: 'eventual' | 'quorum'
  readonly clients: number
  readonly keys: number
  /** Chance per tick that an idle client starts an operation. */
  readonly busy: number
  /** The client's wait, in ms, and the tick length that converts it. */
  readonly timeoutMs: number
  readonly tickMs: number
}

interface Waiting {
  readonly client: string
  readonly id: number
  readonly reqId: string
  readonly kind: OpKind
  readonly key: string
  readonly value?: string | null
  readonly node: string
  readonly invoke: number
  readonly deadlineTick: number
  /** Eventual writes: how many replicas must hold it before the reply (the checker's w). */
  readonly w?: number
}

const FAIL_CODES = new Set(['NO_QUORUM', 'BAD_REQUEST', 'UNAVAILABLE', 'REDIS_UNAVAILABLE'])

export class SimClients {
  readonly history: HistoryOp[] = []
  private readonly waiting = new Map<string, Waiting>()
  private readonly busyClients = new Set<string>()
  /** Eventual: the context each client last read per key (read-modify-write). */
  private readonly contexts = new Map<string, string>()
  private opSeq = 0
  stopped = false

  constructor(
    private readonly world: ClientWorld,
    private readonly mix: ClientMix,
    private readonly rng: Rng,
    private readonly trace: ((line: string) => void) | null = null,
  ) {}

  get inFlight(): number {
    return this.waiting.size
  }

  /** Called every tick: idle clients may start an operation; overdue ones give up. */
  tick(): void {
    for (const [channel, w] of this.waiting) {
      if (this.world.now >= w.deadlineTick) {
        this.waiting.delete(channel)
        this.finish(w, {status: 'unknown', error: 'TIMEOUT', complete: null})
      }
    }
    if (this.stopped) return
    for (let c = 0; c < this.mix.clients; c++) {
      const client = `c${c}`
      if (this.busyClients.has(client) || this.rng.next() >= this.mix.busy) continue
      this.start(client)
    }
  }

  /** A reply reached a client's channel (the cluster's reply listener). */
  onReply(channel: string, msg: Record<string, unknown>): void {
    const w = this.waiting.get(channel)
    if (!w || msg.id !== w.reqId) return // late, duplicate or foreign: the client stopped listening
    this.waiting.delete(channel)
    const complete = this.world.clock()
    if (msg.ok === true) {
      const result = msg.result as Record<string, unknown>
      if (w.kind === 'read') {
        const r = result as unknown as ReadResult
        const read: ReadItem[] = r.values.map((v) => (v.clock ? {value: v.value, clock: v.clock} : {value: v.value}))
        if (this.mix.mode === 'eventual') this.contexts.set(`${w.client}|${w.key}`, r.context)
        this.finish(w, {status: 'ok', complete, read})
      } else {
        const put = this.mix.mode === 'eventual' ? (result as unknown as PutResultEventual) : undefined
        const held = typeof result.replicas === 'number' ? result.replicas : 0
        this.finish(w, {
          status: 'ok',
          complete,
          clock: put?.clock,
          ...(put?.dot ? {dot: put.dot} : {}),
          ...(w.w !== undefined ? {w: Math.max(w.w, held)} : {}),
        })
      }
      return
    }
    const code = String((msg.error as {code?: unknown} | undefined)?.code)
    // A refused epoch says this copy was not applied, not that the request never was: a replay of a
    // request the replica applied before it restarted draws the same answer (KvClient: TIMEOUT).
    const stale = typeof msg.epoch === 'string' && w.kind !== 'read'
    if (FAIL_CODES.has(code) && !stale) this.finish(w, {status: 'fail', error: code, complete})
    else this.finish(w, {status: 'unknown', error: code, complete: null})
  }

  private start(client: string): void {
    const world = this.world
    const id = this.opSeq++
    const roll = this.rng.next()
    const kind: OpKind = roll < 0.45 ? 'put' : roll < 0.55 ? 'delete' : 'read'
    const key = `k${this.rng.int(this.mix.keys)}`
    const node = this.rng.pick(world.ids)
    const reqId = `q${id}`
    const channel = `reply.${client}.${id}`
    const value = kind === 'put' ? `v${id}` : kind === 'delete' ? null : undefined
    const base = {id: reqId, replyTo: channel, key, timeoutMs: this.mix.timeoutMs}
    let req: ClientRequest
    if (kind === 'read') {
      req = {type: 'client.read', ...base, ...(this.mix.mode === 'eventual' ? {r: this.pickCount()} : {})}
    } else {
      const extra: {w?: ReplicaCount; context?: string} = {}
      if (this.mix.mode === 'eventual') {
        extra.w = this.pickCount()
        const ctx = this.contexts.get(`${client}|${key}`)
        if (ctx && this.rng.next() < 0.5) extra.context = ctx
      }
      req = {type: 'client.put', ...base, value: value as string | null, ...extra}
    }
    const invoke = world.clock()
    const needed =
      kind === 'read' || this.mix.mode !== 'eventual' ? undefined : this.replicasFor((req as {w?: ReplicaCount}).w ?? 1)
    const w: Waiting = {
      client,
      id,
      reqId,
      kind,
      key,
      value,
      node,
      invoke,
      deadlineTick: world.now + Math.ceil(this.mix.timeoutMs / this.mix.tickMs) + 2,
      ...(needed !== undefined ? {w: needed} : {}),
    }
    this.busyClients.add(client)
    this.trace?.(`t${world.now} ${client} invokes #${id} ${kind} ${key}${value ? `=${value}` : ''} at ${node}`)
    if (!world.isUp(node)) return this.finish(w, {status: 'fail', error: 'UNAVAILABLE', complete: invoke})
    if (!world.request(node, req)) return this.finish(w, {status: 'fail', error: 'REDIS_UNAVAILABLE', complete: invoke})
    this.waiting.set(channel, w)
  }

  /** What --w asks for, in replicas (the replica resolves it against the members it knows). */
  private replicasFor(count: ReplicaCount): number {
    const n = this.world.ids.length
    return count === 'quorum' ? Math.floor(n / 2) + 1 : count === 'all' ? n : count
  }

  private pickCount(): ReplicaCount {
    return this.rng.pick<ReplicaCount>([1, 1, 1, 2, 'quorum', 'all'])
  }

  private finish(
    w: Waiting,
    end: {
      status: HistoryOp['status']
      complete: number | null
      error?: string
      read?: ReadItem[]
      clock?: Clock
      dot?: Dot
      w?: number
    },
  ): void {
    this.busyClients.delete(w.client)
    const op: HistoryOp = {
      id: w.id,
      client: w.client,
      kind: w.kind,
      key: w.key,
      ...(w.kind === 'read' ? {} : {value: w.value}),
      invoke: w.invoke,
      complete: end.complete,
      status: end.status,
      node: w.node,
      ...(end.error ? {error: end.error} : {}),
      ...(end.read ? {read: end.read} : {}),
      ...(end.clock ? {clock: end.clock} : {}),
      ...(end.dot ? {dot: end.dot} : {}),
      ...(end.w !== undefined ? {w: end.w} : {}),
    }
    this.history.push(op)
    this.trace?.(
      `t${this.world.now} ${op.client} #${op.id} ${op.status}${op.error ? ` ${op.error}` : ''}${op.read ? ` read [${op.read.map((r) => r.value).join(',')}]` : ''}`,
    )
  }
}
