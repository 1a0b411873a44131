/**
 * The typed client library: what `kv put/read/delete/status/fault` call, and what scenario tests
 * drive. It validates input before anything is sent, picks a live replica, sends one correlated
 * request over Redis pub/sub and turns the reply (or its absence) into a result or a KvError.
 */
import {randomBytes} from 'node:crypto'
import {nanoid} from 'nanoid'
import {ClientAuth} from '../auth/client-auth.js'
import {KeyRing} from '../auth/keys.js'
import {CONTROL_LABEL, FAULT_KEY_LABEL} from '../auth/replica-auth.js'
import {KvError} from '../core/errors.js'
import {type ClusterNames, clusterNames} from '../redis/channel-names.js'
import {defaultRedisUrl} from '../redis/connect.js'
import type {
  ClientReply,
  ClientRequest,
  NodeStatus,
  PutResult,
  ReadResult,
  ReplicaCount,
} from '../core/client-messages.js'
import type {FaultRequest} from '../runtime/control-messages.js'
import {type ClientBroker, connectRedisBroker} from './client-broker.js'
import {type ClusterStatus, assembleClusterStatus} from './cluster-status.js'
import {
  type Live,
  knownReplicaIds,
  livePresence,
  noLiveReplica,
  readRegistry,
  requireAlive,
  shuffled,
} from './node-picker.js'
import {type Outcome, PLAIN_WIRE, RequestChannel, type Wire} from './request-channel.js'
import {
  validateClusterName,
  validateContext,
  validateKey,
  validateNodeId,
  validatePartition,
  validateReplicaCount,
  validateTimeout,
  validateValue,
} from './validate-input.js'

/** What KvClient.connect takes; every field has the CLI's default. */
export interface KvClientOptions {
  /** Broker URL; default $KV_REDIS_URL, else $REDIS_URL, else redis://127.0.0.1:6379. */
  redisUrl?: string
  /** Cluster namespace; default $KV_CLUSTER, else "default". */
  cluster?: string
  /** Default wait for each reply, in ms (5000); each call may override it. */
  timeoutMs?: number
  /**
   * The cluster secret(s) (auth/secret-file.ts reads them): requests are signed with the first and
   * only replies signed with one of them count. Without: plain messages, and a cluster that
   * requires a secret answers UNAUTHENTICATED before anything is sent.
   */
  secrets?: readonly Buffer[]
}

/** Options of put and delete (the CLI's --node, --context, --w, --timeout). */
export interface WriteOptions {
  node?: string
  context?: string
  w?: ReplicaCount
  timeoutMs?: number
}

/** Options of read (the CLI's --node, --r, --timeout). */
export interface ReadOptions {
  node?: string
  r?: ReplicaCount
  timeoutMs?: number
}

/** Default wait for a correlated reply. */
export const DEFAULT_TIMEOUT_MS = 5000
/** A status request waits at most this long per replica: a silent replica is reported dead. */
export const STATUS_WAIT_MS_MAX = 1500
/** The broker connection attempt waits at most this long. */
const CONNECT_TIMEOUT_MS_MAX = 5000
/**
 * A client that sends many requests (kv bench, the nemesis, tests) reuses what it learned of the live
 * replicas for this long instead of asking the broker before each request (that was 7 Redis commands
 * per put). A one-shot CLI command never reuses it. A stale view costs nothing unsafe: a replica that
 * stopped listening gets no PUBLISH receivers and the next candidate is tried.
 */
export const LIVE_VIEW_TTL_MS = 1000

type Kind = 'write' | 'read' | 'status'

/**
 * One connection pair to one cluster. Created by KvClient.connect (CLI commands, scenario tests,
 * the cluster supervisor); every method validates first, then sends one correlated request.
 */
export class KvClient {
  private readonly names: ClusterNames
  private readonly timeoutMs: number
  /** Live replica ids as last read from the broker, and when (LIVE_VIEW_TTL_MS). */
  private liveView: {readonly ids: readonly string[]; readonly at: number} | null = null
  /** Named replicas whose alive key was seen, and when. */
  private readonly seenAlive = new Map<string, number>()
  /**
   * Quorum mode: the leader the last write reply named. Requests that name no node go there first,
   * saving the hop through a follower (forward, then relay back) that every write would otherwise pay.
   */
  private leaderHint: string | null = null
  /** Authenticated cluster: each replica's receive epoch, as its signed presence (or a refusal) named it. */
  private readonly epochs = new Map<string, string>()
  private readonly channel: RequestChannel

  private constructor(
    private readonly broker: ClientBroker,
    private readonly auth: ClientAuth | null,
    replyTo: string,
    cluster: string,
    timeoutMs: number,
  ) {
    this.names = clusterNames(cluster)
    this.timeoutMs = timeoutMs
    this.channel = new RequestChannel(broker, replyTo, auth ? this.signedWire(auth, replyTo) : PLAIN_WIRE)
  }

  /**
   * Requests sealed for their channel, naming the receivers' epochs (one replica's inbox, or every
   * live replica on the control topic); replies count only when sealed for this client's channel.
   */
  private signedWire(auth: ClientAuth, replyTo: string): Wire {
    const inboxPrefix = this.names.inbox('')
    const replyLabel = `client:${replyTo}`
    return {
      encode: (channel, message) => {
        const body = JSON.stringify(message)
        if (channel === this.names.controlTopic) return auth.seal(CONTROL_LABEL, this.epochs, body)
        const id = channel.slice(inboxPrefix.length)
        const ep = this.epochs.get(id)
        return auth.seal(`node:${id}`, ep === undefined ? [] : [[id, ep]], body)
      },
      decode: (raw) => auth.open(raw, replyLabel)?.body ?? null,
    }
  }

  /**
   * Called by every CLI command and by tests: opens separate publish and subscribe connections and
   * subscribes to a fresh private reply channel before any request. REDIS_UNAVAILABLE names the URL.
   */
  static async connect(opts: KvClientOptions = {}): Promise<KvClient> {
    const cluster = opts.cluster ?? (process.env.KV_CLUSTER || 'default')
    validateClusterName(cluster)
    const timeoutMs = validateTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const broker = await connectRedisBroker(
      opts.redisUrl ?? defaultRedisUrl(),
      Math.min(timeoutMs, CONNECT_TIMEOUT_MS_MAX),
    )
    try {
      return await KvClient.over(broker, {cluster, timeoutMs, secrets: opts.secrets})
    } catch (error) {
      await broker.close()
      throw error
    }
  }

  /** Called by connect(), and by unit tests with an in-memory broker: subscribes, then is ready. */
  static async over(
    broker: ClientBroker,
    opts: {cluster?: string; timeoutMs?: number; secrets?: readonly Buffer[]} = {},
  ): Promise<KvClient> {
    const cluster = opts.cluster ?? 'default'
    validateClusterName(cluster)
    const timeoutMs = validateTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    const clientId = nanoid()
    const replyTo = clusterNames(cluster).replyChannel(clientId)
    const auth = opts.secrets?.length
      ? new ClientAuth(new KeyRing(opts.secrets, cluster), clientId, randomBytes(9).toString('base64url'))
      : null
    const client = new KvClient(broker, auth, replyTo, cluster, timeoutMs)
    await broker.subscribe(replyTo)
    return client
  }

  /** The cluster this client talks to. */
  get cluster(): string {
    return this.names.cluster
  }

  /** `kv put`: writes `value` under `key` through one replica (--node, else a random live one). */
  async put(key: string, value: string, opts: WriteOptions = {}): Promise<PutResult> {
    validateKey(key)
    validateValue(value)
    return this.write(key, value, opts)
  }

  /** `kv delete`: a put of a tombstone (value null on the wire). */
  async delete(key: string, opts: WriteOptions = {}): Promise<PutResult> {
    validateKey(key)
    return this.write(key, null, opts)
  }

  /** `kv read`: the key's value(s) as one replica (coordinating r replicas) sees them. */
  async read(key: string, opts: ReadOptions = {}): Promise<ReadResult> {
    validateKey(key)
    validateReplicaCount(opts.r, 'r')
    if (opts.node !== undefined) validateNodeId(opts.node, '--node')
    const timeoutMs = this.waitFor(opts.timeoutMs)
    const build = (id: string): ClientRequest => ({
      type: 'client.read',
      id,
      replyTo: this.channel.replyTo,
      key,
      r: opts.r,
      timeoutMs,
    })
    return (await this.sendToNode(opts.node, build, timeoutMs, 'read')) as ReadResult
  }

  /** `kv status`: every registered replica, alive when it answers within min(timeout, 1.5 s). */
  async status(opts: {timeoutMs?: number} = {}): Promise<ClusterStatus> {
    const waitMs = Math.min(this.waitFor(opts.timeoutMs), STATUS_WAIT_MS_MAX)
    const registry = await readRegistry(this.broker, this.names, this.auth)
    // The epochs to name (and UNAUTHENTICATED, before anything is sent, when the secrets differ).
    this.noteEpochs(await livePresence(this.broker, this.names, registry, this.auth))
    const answers = new Map<string, NodeStatus | undefined>()
    await Promise.all(
      registry.map(async (r) => {
        answers.set(
          r.id,
          await this.askStatus(r.id, waitMs).catch((error: unknown) => {
            if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') throw error
            return undefined
          }),
        )
      }),
    )
    return assembleClusterStatus(this.names.cluster, registry, answers)
  }

  /** One replica's own status (`kv status` internals, tests); UNAVAILABLE if it does not answer. */
  async nodeStatus(id: string, opts: {timeoutMs?: number} = {}): Promise<NodeStatus> {
    validateNodeId(id)
    const waitMs = this.waitFor(opts.timeoutMs)
    const answer = await this.askStatus(id, waitMs).catch((error: unknown) => {
      if (error instanceof KvError && error.code === 'TIMEOUT') return undefined
      throw error
    })
    if (!answer)
      throw new KvError(
        'UNAVAILABLE',
        `replica ${id} did not answer a status request within ${waitMs} ms; it is not serving (check kv status)`,
      )
    return answer
  }

  /**
   * `kv fault partition`: stores the partition (so restarted replicas resume it), then tells every
   * replica; fails with the first refusal (a replica started without --allow-faults).
   */
  async partition(groups: string[][], opts: {timeoutMs?: number} = {}): Promise<void> {
    validatePartition(groups)
    const registry = await readRegistry(this.broker, this.names, this.auth)
    const known = knownReplicaIds(registry)
    const unknown = groups.flat().filter((id) => !known.has(id))
    if (registry.length > 0 && unknown.length > 0) {
      throw new KvError(
        'BAD_REQUEST',
        `no replica ${unknown.join(', ')} in cluster "${this.names.cluster}" (registered: ${[...known].join(', ')})`,
      )
    }
    const alive = await this.aliveNow(registry)
    if (alive.length === 0) throw noLiveReplica(this.names)
    const partition = groups.map((g) => [...g])
    await this.broker.set(this.names.faultKey, this.sealValue(FAULT_KEY_LABEL, JSON.stringify({partition})))
    await this.broadcastFault(partition, alive, this.waitFor(opts.timeoutMs))
  }

  /** `kv fault heal`: clears the stored partition, then tells every replica to drop it. */
  async heal(opts: {timeoutMs?: number} = {}): Promise<void> {
    const registry = await readRegistry(this.broker, this.names, this.auth)
    const alive = await this.aliveNow(registry)
    await this.broker.del(this.names.faultKey)
    if (alive.length === 0) throw noLiveReplica(this.names)
    await this.broadcastFault(null, alive, this.waitFor(opts.timeoutMs))
  }

  /** Called once by the CLI (and tests) when done; pending requests fail as REDIS_UNAVAILABLE. */
  async close(): Promise<void> {
    await this.broker.close()
  }

  private async write(key: string, value: string | null, opts: WriteOptions): Promise<PutResult> {
    validateContext(opts.context)
    validateReplicaCount(opts.w, 'w')
    if (opts.node !== undefined) validateNodeId(opts.node, '--node')
    const timeoutMs = this.waitFor(opts.timeoutMs)
    const build = (id: string): ClientRequest => ({
      type: 'client.put',
      id,
      replyTo: this.channel.replyTo,
      key,
      value,
      context: opts.context,
      w: opts.w,
      timeoutMs,
    })
    return (await this.sendToNode(opts.node, build, timeoutMs, 'write')) as PutResult
  }

  /**
   * Sends to the named node, or to a random live one. PUBLISH reaching nobody means the replica is
   * not listening: the named node is UNAVAILABLE at once; without --node the next candidate is tried
   * (safe for writes too, since nobody received the message). So is a replica's UNAVAILABLE answer
   * (shutting down, catching up, too busy): every such refusal means nothing was applied, and it is
   * what a rolling restart looks like from here.
   */
  private async sendToNode(
    node: string | undefined,
    build: (id: string) => ClientRequest,
    timeoutMs: number,
    kind: Kind,
  ): Promise<unknown> {
    if (node !== undefined) {
      if (!this.fresh(this.seenAlive.get(node))) {
        this.noteEpochs([await requireAlive(this.broker, this.names, node, this.auth)])
        this.seenAlive.set(node, Date.now())
      }
      const outcome = await this.ask(node, build, timeoutMs, kind)
      if (outcome.kind === 'no-receivers') {
        this.seenAlive.delete(node)
        throw notListening(node)
      }
      if (outcome.kind === 'reply') this.noteLeader(node, outcome.reply)
      return resultOf(outcome, node, timeoutMs, kind)
    }
    const live = await this.liveIds()
    const hint = this.leaderHint
    const candidates = shuffled(live)
    if (hint !== null && live.includes(hint)) {
      candidates.splice(candidates.indexOf(hint), 1)
      candidates.unshift(hint)
    }
    let refused: KvError | undefined
    for (const id of candidates) {
      const outcome = await this.ask(id, build, timeoutMs, kind)
      if (outcome.kind === 'no-receivers') {
        this.liveView = null // someone stopped listening: look again next time
        if (id === this.leaderHint) this.leaderHint = null
        continue
      }
      if (outcome.kind === 'reply' && !outcome.reply.ok && outcome.reply.error.code === 'UNAVAILABLE') {
        refused = new KvError('UNAVAILABLE', outcome.reply.error.message)
        this.liveView = null
        if (id === this.leaderHint) this.leaderHint = null
        continue
      }
      if (outcome.kind === 'reply') this.noteLeader(id, outcome.reply)
      else if (id === this.leaderHint) this.leaderHint = null // silent (paused, cut off): spread again
      return resultOf(outcome, id, timeoutMs, kind)
    }
    throw refused ?? noLiveReplica(this.names)
  }

  /**
   * One request to replica `id`. An authenticated replica that refused the epoch the request named
   * (it restarted since the client read its presence) says which one it wants. A read or status is
   * asked again once. A write is not: the refusal proves only that *this copy* was not applied, and
   * a replay of a write the replica applied before it restarted (then crashed before answering)
   * draws the same refusal, so the write's outcome is unknown and resending it could apply it twice.
   */
  private async ask(
    id: string,
    build: (requestId: string) => ClientRequest,
    timeoutMs: number,
    kind: Kind,
  ): Promise<Outcome> {
    const outcome = await this.channel.send(this.names.inbox(id), build(nanoid()), timeoutMs)
    if (outcome.kind !== 'reply' || outcome.reply.ok || outcome.reply.epoch === undefined || !this.auth) return outcome
    this.epochs.set(id, outcome.reply.epoch)
    if (kind === 'write')
      throw new KvError(
        'TIMEOUT',
        `replica ${id} restarted while the write was on its way (it no longer accepts the epoch the request named); the outcome is unknown: read the key to find out, or retry`,
      )
    return this.channel.send(this.names.inbox(id), build(nanoid()), timeoutMs)
  }

  private noteEpochs(live: readonly Live[]): void {
    for (const l of live) if (l.epoch !== null) this.epochs.set(l.id, l.epoch)
  }

  /** Live ids now (and their epochs noted); UNAUTHENTICATED when the cluster's secret is not ours. */
  private async aliveNow(registry: Awaited<ReturnType<typeof readRegistry>>): Promise<string[]> {
    const live = await livePresence(this.broker, this.names, registry, this.auth)
    this.noteEpochs(live)
    return live.map((l) => l.id)
  }

  /** A value the client stores for replicas to read (the fault key): sealed in an authenticated cluster. */
  private sealValue(label: string, body: string): string {
    return this.auth ? this.auth.seal(label, [], body) : body
  }

  /** A quorum write reply names the leader; a refusal from the hinted one makes the hint stale. */
  private noteLeader(asked: string, reply: ClientReply): void {
    if (reply.ok) {
      const leader = (reply.result as {leader?: unknown}).leader
      if (typeof leader === 'string') this.leaderHint = leader
    } else if (asked === this.leaderHint) this.leaderHint = null
  }

  /** The live replicas, read from the broker unless read within LIVE_VIEW_TTL_MS. */
  private async liveIds(): Promise<readonly string[]> {
    if (this.liveView && this.fresh(this.liveView.at)) return this.liveView.ids
    const registry = await readRegistry(this.broker, this.names, this.auth)
    const ids = await this.aliveNow(registry)
    this.liveView = ids.length > 0 ? {ids, at: Date.now()} : null
    return ids
  }

  private fresh(at: number | undefined): boolean {
    return at !== undefined && Date.now() - at < LIVE_VIEW_TTL_MS
  }

  private async askStatus(id: string, waitMs: number): Promise<NodeStatus> {
    const build = (requestId: string): ClientRequest => ({
      type: 'client.status',
      id: requestId,
      replyTo: this.channel.replyTo,
    })
    const outcome = await this.ask(id, build, waitMs, 'status')
    if (outcome.kind === 'no-receivers') throw notListening(id)
    return resultOf(outcome, id, waitMs, 'status') as NodeStatus
  }

  private async broadcastFault(
    partition: string[][] | null,
    alive: readonly string[],
    timeoutMs: number,
  ): Promise<void> {
    const request: FaultRequest = {type: 'fault', id: nanoid(), replyTo: this.channel.replyTo, partition}
    const collected = await this.channel.collect(
      this.names.controlTopic,
      request,
      (receivers) => Math.min(receivers, alive.length),
      timeoutMs,
    )
    if (collected.receivers === 0) throw noLiveReplica(this.names)
    const confirmed = new Set<string>()
    for (const reply of collected.replies) {
      if (reply.ok) {
        const id = (reply.result as unknown as {id?: unknown}).id
        if (typeof id === 'string') confirmed.add(id)
      }
    }
    const refusal = collected.replies.find((r) => !r.ok)
    if (refusal) {
      const accepted =
        confirmed.size > 0 && partition ? `; ${[...confirmed].join(', ')} applied it, undo with kv fault heal` : ''
      throw new KvError(refusal.error.code, `${refusal.error.message}${accepted}`)
    }
    if (collected.timedOut) {
      const silent = alive.filter((id) => !confirmed.has(id))
      throw new KvError(
        'TIMEOUT',
        `${silent.join(', ') || 'some replicas'} did not confirm the fault within ${timeoutMs} ms; the outcome is unknown there (it may or may not have been applied); check kv status and retry`,
      )
    }
  }

  private waitFor(timeoutMs: number | undefined): number {
    return timeoutMs === undefined ? this.timeoutMs : validateTimeout(timeoutMs)
  }
}

function notListening(id: string): KvError {
  return new KvError(
    'UNAVAILABLE',
    `replica ${id} is not alive (nothing listens on its inbox); check kv status, or leave out --node to use any live replica`,
  )
}

/** The reply's result, or the KvError for a refusal or a silence (worded for what was asked). */
function resultOf(
  outcome: Exclude<Outcome, {kind: 'no-receivers'}>,
  node: string,
  timeoutMs: number,
  kind: Kind,
): unknown {
  if (outcome.kind === 'timeout') throw timeoutError(node, timeoutMs, kind)
  const {reply} = outcome
  if (!reply.ok) throw new KvError(reply.error.code, reply.error.message)
  return reply.result
}

function timeoutError(node: string, timeoutMs: number, kind: Kind): KvError {
  const outcome =
    kind === 'write'
      ? 'the outcome is unknown: the write may or may not have been applied; read the key to find out, or retry'
      : 'the outcome is unknown; retry, or raise --timeout'
  return new KvError('TIMEOUT', `no reply from replica ${node} within ${timeoutMs} ms; ${outcome}`)
}
