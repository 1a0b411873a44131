/**
 * A replica over Redis: what is left of running a core once the rules live in ReplicaRunner. It
 * connects and subscribes, resumes a stored `kv fault` partition, keeps the registry entry and the
 * presence key fresh, ticks the runner every tickMs, and on SIGTERM stops gracefully: refuse new
 * requests, let in-flight ones finish, snapshot, close. Created by runtime/run-replica.ts.
 */
import {nanoid} from 'nanoid'
import {CONTROL_LABEL, FAULT_KEY_LABEL, type ReplicaAuth, presenceLabel, registryLabel} from '../auth/replica-auth.js'
import type {ReplicaCore} from '../core/replica-core.js'
import {asFaultRequest} from '../runtime/wire-codec.js'
import {isRecord} from '../core/guards.js'
import {ReplicaRunner} from '../runtime/replica-runner.js'
import {delay, settlesWithin} from '../runtime/waits.js'
import {DurableDisk} from '../storage/durable-disk.js'
import type {DurableStore} from '../storage/durable-store.js'
import type {ClusterNames} from './channel-names.js'
import type {DeliverHint, HintQueues} from './hint-queues.js'
import type {Log, RedisTransport} from './redis-transport.js'

export interface RedisHostOptions<R, S, M> {
  /** Already restored from `store`. */
  readonly core: ReplicaCore<R, S, M>
  readonly mode: 'eventual' | 'quorum'
  readonly store: DurableStore<S, R>
  readonly transport: RedisTransport
  readonly names: ClusterNames
  readonly tickMs: number
  readonly allowFaults: boolean
  /** Schema check of this mode's peer messages (null = drop). */
  readonly asPeerMessage: (m: Record<string, unknown>) => M | null
  /** Broadcast topics this mode listens to, besides the inbox, members and control topics. */
  readonly topics: string[]
  readonly hints?: HintQueues
  readonly log: Log
  /** Snapshot after this many log records (and on SIGTERM). */
  readonly snapshotEveryRecords?: number
  /** The cluster secret's authenticator (--secret-file); absent: plain messages. */
  readonly auth?: ReplicaAuth
}

const PRESENCE_TTL_MS = 3000
const PRESENCE_REFRESH_MS = 1000
/** A graceful stop waits this long for in-flight client requests. */
const STOP_GRACE_MS = 2000
/** How often the graceful stop looks whether the runner went idle. */
const STOP_POLL_MS = 20
/** Closing the hint queues and the connections may wait forever with the broker down; the data is safe by then. */
const CLOSE_WAIT_MS = 2000

export class RedisReplicaHost<R, S, M> {
  private readonly runner: ReplicaRunner<R, S, M>
  private timers: NodeJS.Timeout[] = []
  private stopping = false
  /** Epoch ms, as the client's registry parser expects (it picks the newest registration's mode). */
  private readonly startedAt = Date.now()

  constructor(private readonly o: RedisHostOptions<R, S, M>) {
    this.runner = new ReplicaRunner({
      core: o.core,
      asPeerMessage: o.asPeerMessage,
      transport: o.transport,
      disk: new DurableDisk(o.store, o.log),
      bursts: {afterBurst: (fn) => void setImmediate(fn)},
      hints: o.hints,
      log: o.log,
      tickMs: o.tickMs,
      allowFaults: o.allowFaults,
      snapshotEveryRecords: o.snapshotEveryRecords,
      newHintId: () => nanoid(),
      auth: o.auth,
    })
  }

  get id(): string {
    return this.o.core.id
  }

  /** Subscribe, register, and start ticking. */
  async start(): Promise<void> {
    const {names, transport} = this.o
    // Each channel's label, which a signed message's MAC binds (auth/replica-auth.ts labelOf).
    const labels = new Map<string, string>([
      [names.inbox(this.id), `node:${this.id}`],
      [names.membersTopic, 'topic:members'],
      [names.controlTopic, CONTROL_LABEL],
      [names.replicationTopic, 'topic:replication'],
      [names.electionTopic, 'topic:election'],
      [names.commitTopic, 'topic:commit'],
    ])
    const channels = [names.inbox(this.id), names.membersTopic, names.controlTopic, ...this.o.topics]
    await transport.connect()
    // The partition must be in force before the first peer message arrives.
    if (this.o.allowFaults) await this.loadFault()
    await transport.subscribe(channels, (channel, raw) => this.onRaw(channel, labels.get(channel) ?? channel, raw))
    this.o.hints?.resumeFor(this.o.core.memberIds())
    this.timers.push(setInterval(() => this.runner.tick(), this.o.tickMs))
    this.timers.push(setInterval(() => void this.refreshPresence(), PRESENCE_REFRESH_MS))
    await this.refreshPresence()
  }

  private onRaw(channel: string, label: string, raw: Buffer): void {
    try {
      this.runner.onRaw(raw, label)
    } catch (error) {
      // A bug must not be hidden, but one bad message must not take the replica down either.
      this.o.log(
        'warn',
        `error handling a message on ${channel}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      )
    }
  }

  /** HintQueues' worker: resolves when the peer acked the hint, rejects when the runner gave up on it. */
  readonly deliverHint: DeliverHint = (peer, msg) =>
    new Promise<void>((resolve, reject) => {
      this.runner.deliverHint(peer, msg, (ok) =>
        ok ? resolve() : reject(new Error(`${peer} did not ack a hint (or is partitioned away)`)),
      )
    })

  private async loadFault(): Promise<void> {
    try {
      const stored = await this.o.transport.commands.get(this.o.names.faultKey)
      if (!stored) return
      // Signed by the kv fault client in an authenticated cluster; anything else is ignored there.
      const raw = this.o.auth ? this.o.auth.openValue(stored, FAULT_KEY_LABEL)?.toString('utf8') : stored
      if (!raw) return
      // The key holds {"partition": [[ids], ...]} as `kv fault partition` stored it.
      const parsed: unknown = JSON.parse(raw)
      const partition = isRecord(parsed) ? parsed.partition : undefined
      const req = asFaultRequest({type: 'fault', id: 'startup', replyTo: 'none', partition})
      if (req?.partition) this.runner.resumePartition(req.partition)
    } catch {
      // the broker will tell us again through the control topic
    }
  }

  /**
   * Registration and presence, refreshed every second: the broker may have restarted empty, and
   * clients find replicas only through these keys.
   */
  private async refreshPresence(): Promise<void> {
    if (this.stopping || !this.o.transport.connected) return
    const {names, transport} = this.o
    // Signed in an authenticated cluster: clients read the epoch to name from the presence key's
    // envelope, and find out from these two values whether their secret is the cluster's.
    const auth = this.o.auth
    const value = JSON.stringify({id: this.id, mode: this.o.mode})
    const presence = auth ? auth.sealForClients(presenceLabel(this.id), value) : value
    const registration = auth ? auth.sealForClients(registryLabel(this.id), this.registration()) : this.registration()
    await transport.commands
      .multi()
      .hset(names.membersKey, this.id, registration)
      .set(names.aliveKey(this.id), presence, 'PX', PRESENCE_TTL_MS)
      .exec()
      .catch(() => {})
  }

  /**
   * The registry entry: who this replica is, and the members it knows, so that a client can name a
   * member that is down while the broker's registry was wiped (kv fault partition after a restart).
   */
  private registration(): string {
    return JSON.stringify({
      id: this.id,
      mode: this.o.mode,
      startedAt: this.startedAt,
      pid: process.pid,
      members: this.o.core.memberIds(),
    })
  }

  /** SIGTERM/SIGINT: refuse new requests, let in-flight ones finish (bounded), snapshot, close. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true
    this.runner.beginStop()
    await this.o.transport.commands.del(this.o.names.aliveKey(this.id)).catch(() => {})
    const deadline = Date.now() + graceMs
    while (Date.now() < deadline && !this.runner.idle) await delay(STOP_POLL_MS)
    for (const t of this.timers) clearInterval(t)
    await new Promise<void>((resolve) => this.runner.finish(resolve))
    await this.o.store.close()
    if (this.o.hints) await settlesWithin(this.o.hints.close(), CLOSE_WAIT_MS)
    await settlesWithin(this.o.transport.close(), CLOSE_WAIT_MS)
  }
}
