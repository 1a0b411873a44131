/**
 * The one driver that wires a protocol core to Redis, the disk and the clock. It is the only place
 * where time passes (setInterval ticks), messages arrive (validated here, at the boundary), and
 * Outputs are executed: persist (one group-committed fsync per burst) strictly before the sends of
 * the same Output, and Outputs in order.
 */
import {nanoid} from 'nanoid'
import {KvError} from '../core/errors.js'
import type {Destination, Effect, Output} from '../core/machine.js'
import type {ClusterNames} from '../redis/channel-names.js'
import type {HintQueues} from '../redis/hint-queues.js'
import type {Log, RedisTransport} from '../redis/redis-transport.js'
import type {DurableStore} from '../storage/durable-store.js'
import type {ClientRequest} from '../core/client-messages.js'
import type {FaultRequest} from './control-messages.js'
import {PartitionFilter} from './partition-filter.js'
import type {ReplicaCore} from '../core/replica-core.js'
import {asClientRequest, asFaultRequest, decodeEnvelope, encodeMessage} from './wire-codec.js'
import {isRecord} from '../core/guards.js'
import {settlesWithin} from './waits.js'

export interface DriverOptions<R, S, M> {
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
}

const PRESENCE_TTL_MS = 3000
const HINT_ACK_TIMEOUT_MS = 3000
const DROP_REPORT_MS = 10_000

export class ReplicaDriver<R, S, M> {
  private readonly filter: PartitionFilter
  private pending: Output<R>[] = []
  private draining: Promise<void> | null = null
  private flushScheduled = false
  private timers: NodeJS.Timeout[] = []
  private stopping = false
  private dropped = 0
  private droppedReported = 0
  private lastDropReason = ''
  private snapshotting = false
  private readonly hintWaiters = new Map<string, () => void>()
  /** Epoch ms, as the client's registry parser expects (it picks the newest registration's mode). */
  private readonly startedAt = Date.now()

  constructor(private readonly o: DriverOptions<R, S, M>) {
    this.filter = new PartitionFilter(o.core.id)
  }

  get id(): string {
    return this.o.core.id
  }

  /** Subscribe, register, and start ticking. The core must already be restored. */
  async start(): Promise<void> {
    const {names, transport, core} = this.o
    const channels = [names.inbox(core.id), names.membersTopic, names.controlTopic, ...this.o.topics]
    await transport.connect()
    // The partition must be in force before the first peer message arrives.
    if (this.o.allowFaults) await this.loadFault()
    await transport.subscribe(channels, (channel, raw) => this.onRaw(channel, raw))
    this.o.hints?.resumeFor(core.memberIds())
    this.timers.push(setInterval(() => this.submit(core.tick()), this.o.tickMs))
    this.timers.push(setInterval(() => void this.refreshPresence(), 1000))
    this.timers.push(setInterval(() => this.reportDrops(), DROP_REPORT_MS))
    await this.refreshPresence()
  }

  // ---- inbound -------------------------------------------------------------------------------

  private onRaw(channel: string, raw: Buffer): void {
    try {
      this.onMessage(channel, raw)
    } catch (error) {
      // A bug must not be hidden, but one bad message must not take the replica down either.
      this.o.log('warn', `error handling a message on ${channel}: ${(error as Error).stack ?? error}`)
    }
  }

  private onMessage(channel: string, raw: Buffer): void {
    const decoded = decodeEnvelope(raw)
    if (!decoded.ok) return this.drop(decoded.reason)
    const m = decoded.msg
    if (m.type.startsWith('client.')) {
      const req = asClientRequest(m)
      if (!req) return this.drop(`malformed ${m.type}`)
      if (this.stopping) return this.replyError(req, new KvError('UNAVAILABLE', `replica ${this.id} is shutting down; use another --node`))
      if (req.type === 'client.status') {
        // Status answers from here: only the driver knows about injected faults.
        const result = {...this.o.core.status(), partitioned: this.filter.active}
        return this.o.transport.publish(req.replyTo, encodeMessage({type: 'client.reply', id: req.id, ok: true, result}))
      }
      return this.submit(this.o.core.step(req as unknown as M))
    }
    if (m.type === 'fault') {
      const req = asFaultRequest(m)
      return req ? this.onFault(req) : this.drop('malformed fault request')
    }
    const msg = this.o.asPeerMessage(m)
    if (!msg) return this.drop(`malformed ${m.type}`)
    const from = (msg as unknown as {from: string}).from
    if (this.filter.blocks(from)) return
    if (m.type === 'repl.ack' && typeof m.batch === 'string' && m.batch.startsWith('h.')) {
      this.hintWaiters.get(m.batch)?.()
      return
    }
    this.submit(this.o.core.step(msg))
  }

  private drop(reason: string): void {
    this.dropped++
    this.lastDropReason = reason
  }

  private reportDrops(): void {
    if (this.dropped === this.droppedReported) return
    this.o.log('warn', `dropped ${this.dropped - this.droppedReported} invalid message(s) in the last ${DROP_REPORT_MS / 1000}s (last: ${this.lastDropReason}); ${this.dropped} in all`)
    this.droppedReported = this.dropped
  }

  // ---- outputs -------------------------------------------------------------------------------

  private submit(out: Output<R>): void {
    if (out.persist.length || out.send.length || out.effects.length) {
      this.pending.push(out)
      this.kick()
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => {
        this.flushScheduled = false
        const flushed = this.o.core.flush()
        if (flushed.persist.length || flushed.send.length || flushed.effects.length) {
          this.pending.push(flushed)
          this.kick()
        }
      })
    }
  }

  /**
   * Start draining unless a drain is running. (drain() may finish synchronously, so the flag is
   * cleared in a callback that runs after the assignment, never inside drain itself.)
   */
  private kick(): void {
    if (this.draining) return
    this.draining = this.drain().finally(() => {
      this.draining = null
      if (this.pending.length) this.kick()
    })
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending
        this.pending = []
        const records = batch.flatMap((o) => o.persist)
        if (records.length) await this.o.store.append(records)
        for (const o of batch) {
          for (const s of o.send) this.send(s.to, s.msg)
          for (const e of o.effects) this.effect(e)
        }
        if (records.length) void this.maybeSnapshot()
      }
    } catch (error) {
      // The disk failed: we can no longer promise durability, so stop instead of lying to clients.
      this.o.log('warn', `cannot write to the data dir: ${(error as Error).message}; stopping`)
      process.exit(1)
    }
  }

  private channelOf(to: Destination): string | null {
    const {names} = this.o
    switch (to.kind) {
      case 'node':
        return this.filter.blocks(to.id) ? null : names.inbox(to.id)
      case 'client':
        return to.channel
      case 'topic':
        return {members: names.membersTopic, replication: names.replicationTopic, election: names.electionTopic, commit: names.commitTopic}[to.topic]
    }
  }

  private send(to: Destination, msg: object): void {
    const channel = this.channelOf(to)
    if (channel) this.o.transport.publish(channel, encodeMessage(msg))
  }

  private effect(e: Effect): void {
    switch (e.kind) {
      case 'log':
        this.o.log(e.level, e.text)
        break
      case 'hint':
        this.o.hints?.add(e.peer, e.msg)
        break
      case 'peer':
        this.o.log('info', `peer ${e.id} is ${e.alive ? 'up' : 'down'}`)
        this.o.hints?.peerAlive(e.id, e.alive)
        break
    }
  }

  /** Deliver one hint to its peer and wait for the ack (used by HintQueues' workers). */
  deliverHint = async (peer: string, msg: object): Promise<void> => {
    if (this.filter.blocks(peer)) throw new Error(`${peer} is partitioned away`)
    const batch = `h.${nanoid()}`
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.hintWaiters.delete(batch)
        reject(new Error(`${peer} did not ack a hint`))
      }, HINT_ACK_TIMEOUT_MS)
      this.hintWaiters.set(batch, () => {
        clearTimeout(timer)
        this.hintWaiters.delete(batch)
        resolve()
      })
    })
    this.o.transport.publish(this.o.names.inbox(peer), encodeMessage({...msg, batch}))
    await acked
  }

  private replyError(req: ClientRequest | FaultRequest, error: KvError): void {
    this.o.transport.publish(req.replyTo, encodeMessage({type: 'client.reply', id: req.id, ok: false, error: error.toJSON()}))
  }

  // ---- faults, presence, snapshots ------------------------------------------------------------

  private onFault(req: FaultRequest): void {
    if (!this.o.allowFaults) {
      return this.replyError(req, new KvError('BAD_REQUEST', `replica ${this.id} was not started with --allow-faults; it refuses kv fault`))
    }
    this.filter.set(req.partition)
    this.o.log('warn', req.partition ? `fault: partitioned as ${req.partition.map((g) => g.join(',')).join(' | ')}` : 'fault: healed')
    this.o.transport.publish(req.replyTo, encodeMessage({type: 'client.reply', id: req.id, ok: true, result: {id: this.id, applied: true}}))
  }

  private async loadFault(): Promise<void> {
    try {
      const raw = await this.o.transport.commands.get(this.o.names.faultKey)
      if (!raw) return
      // The key holds {"partition": [[ids], ...]} as `kv fault partition` stored it.
      const parsed: unknown = JSON.parse(raw)
      const partition = isRecord(parsed) ? parsed.partition : undefined
      const req = asFaultRequest({type: 'fault', id: 'startup', replyTo: 'none', partition})
      if (req?.partition) {
        this.filter.set(req.partition)
        this.o.log('warn', `fault: resuming partition ${req.partition.map((g) => g.join(',')).join(' | ')}`)
      }
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
    const value = JSON.stringify({id: this.id, mode: this.o.mode})
    await transport.commands
      .multi()
      .hset(names.membersKey, this.id, this.registration())
      .set(names.aliveKey(this.id), value, 'PX', PRESENCE_TTL_MS)
      .exec()
      .catch(() => {})
  }

  /**
   * The registry entry: who this replica is, and the members it knows, so that a client can name a
   * member that is down while the broker's registry was wiped (kv fault partition after a restart).
   */
  private registration(): string {
    return JSON.stringify({id: this.id, mode: this.o.mode, startedAt: this.startedAt, pid: process.pid, members: this.o.core.memberIds()})
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.o.snapshotEveryRecords ?? 50_000
    if (this.snapshotting || this.o.store.recordsSinceSnapshot < every) return
    await this.snapshot()
  }

  /** Write a snapshot of the core and compact the log. */
  async snapshot(): Promise<void> {
    if (this.snapshotting) return
    this.snapshotting = true
    try {
      await this.o.store.compact(this.o.core.snapshot())
    } finally {
      this.snapshotting = false
    }
  }

  /** SIGTERM/SIGINT: refuse new requests, let in-flight ones finish, snapshot, close. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopping = true
    await this.o.transport.commands.del(this.o.names.aliveKey(this.id)).catch(() => {})
    const deadline = Date.now() + graceMs
    while (Date.now() < deadline && (this.pending.length || this.draining || this.busy())) {
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const t of this.timers) clearInterval(t)
    if (this.draining) await this.draining
    await this.snapshot()
    await this.o.store.close()
    // With the broker down these could wait forever; the data is already safe on disk.
    if (this.o.hints) await settlesWithin(this.o.hints.close(), 2000)
    await settlesWithin(this.o.transport.close(), 2000)
  }

  private busy(): boolean {
    return this.o.core.busy()
  }
}
