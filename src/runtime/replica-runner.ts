/**
 * The one place where the rules for running a protocol core live, written against small ports
 * (ports.ts) so that the same code runs over Redis (src/redis/redis-replica-host.ts) and in the
 * seeded simulator (src/sim/sim-cluster.ts); TigerBeetle's ReplicaType(StateMachine, MessageBus,
 * Storage, Time) is the model.
 *
 * Inbound: every raw message is size-checked, parsed and schema-checked here before a core sees it;
 * client requests, peer messages and `kv fault` requests are told apart; the partition filter drops
 * cut-off peers; a hint's ack is taken out for the hint's waiter; `client.status` is answered here
 * (only the runner knows about injected faults).
 *
 * Outbound: Outputs run strictly in order; the records of every Output waiting when the disk is free
 * go out in one append (one group-committed fsync per burst), and no message or effect of an Output
 * runs before its records are durable. `persistSoon` records ride along at the end of the next append
 * (or one of their own at the next tick) and hold nothing back. `core.flush()` runs once per burst
 * of inbound work.
 *
 * Synchronous and callback-based on purpose: no Promise, timer or clock in here. Time arrives only
 * through tick(), and every timeout counts ticks, so the simulator runs this exact code step by step.
 */
import {type ReplicaAuth, hintLabel} from '../auth/replica-auth.js'
import {KvError} from '../core/errors.js'
import type {ClientRequest} from '../core/client-messages.js'
import type {Destination, Effect, Output} from '../core/machine.js'
import type {ReplicaCore} from '../core/replica-core.js'
import type {FaultRequest} from './control-messages.js'
import {PartitionFilter} from './partition-filter.js'
import type {BurstScheduler, DiskPort, HintSink, Log, Transport} from './ports.js'
import {asClientRequest, asFaultRequest, decodeEnvelope, encodeMessage} from './wire-codec.js'

/** A peer that does not ack a hint within this long has it retried by the hint queue. */
export const HINT_ACK_TIMEOUT_MS = 3000
/** Invalid messages are counted and reported at most this often. */
export const DROP_REPORT_MS = 10_000
/** Snapshot (and empty the log) once it holds this many records, unless told otherwise. */
export const SNAPSHOT_EVERY_RECORDS_DEFAULT = 50_000
/** Hints awaiting their ack at once; beyond that a delivery fails at once and the queue retries it later. */
export const HINTS_AWAITING_ACK_MAX = 1000

/** Whole ticks that cover `ms` (at least one). */
export function ticksFor(ms: number, tickMs: number): number {
  return Math.max(1, Math.ceil(ms / tickMs))
}

export interface RunnerOptions<R, S, M> {
  /** Already restored from the disk. */
  readonly core: ReplicaCore<R, S, M>
  /** Schema check of this mode's peer messages (null = drop). */
  readonly asPeerMessage: (m: Record<string, unknown>) => M | null
  readonly transport: Transport
  readonly disk: DiskPort<R, S>
  readonly bursts: BurstScheduler
  /** Eventual mode's hinted hand-off; quorum mode has none. */
  readonly hints?: HintSink
  readonly log: Log
  /** How often the host calls tick(); converts the runner's own timeouts into ticks. */
  readonly tickMs: number
  /** Obey `kv fault` (otherwise refuse it with BAD_REQUEST). */
  readonly allowFaults: boolean
  /** Snapshot after this many log records (SNAPSHOT_EVERY_RECORDS_DEFAULT). */
  readonly snapshotEveryRecords?: number
  /**
   * A fresh id for each hint delivery. It must not repeat across restarts of the replica either: a
   * late ack for an earlier delivery would complete the wrong hint (the Redis host uses nanoid).
   */
  readonly newHintId: () => string
  /** Sees every Output the core returns, before the runner acts on it (the simulator's checkers). */
  readonly onOutput?: (out: Output<R>) => void
  /**
   * An authenticated cluster: every message out is sealed, every message in is opened (MAC, then
   * freshness, then replay) before anything parses it. Absent: plain JSON, as without a secret.
   */
  readonly auth?: ReplicaAuth
}

/** What became of one inbound message (the simulator counts these; the Redis host ignores them). */
export type Inbound = 'client' | 'peer' | 'fault' | 'hint-ack' | 'partitioned' | 'invalid' | 'rejected' | 'closed'

interface HintWaiter {
  readonly deadlineTick: number
  readonly done: (ok: boolean) => void
}

export class ReplicaRunner<R, S, M> {
  private readonly filter: PartitionFilter
  private readonly hintAckTimeoutTicks: number
  private readonly dropReportTicks: number
  private readonly snapshotEveryRecords: number
  private ticks = 0

  /** Outputs not yet handed to the disk, in order. */
  private pending: Output<R>[] = []
  /** persistSoon records not yet handed to the disk (written after the next append's own records). */
  private soon: R[] = []
  /** An append is in flight: every later Output waits behind it (order, and one fsync per burst). */
  private appending = false
  /** drain() is on the stack (a disk may call back synchronously). */
  private draining = false
  private flushScheduled = false

  /** A compaction is in flight; never two at once. */
  private snapshotting = false
  /** Callers waiting for a compaction that starts after they asked (the next one). */
  private snapshotWaiters: (() => void)[] = []
  /** Callers waiting for the one in flight. */
  private snapshotInFlight: (() => void)[] = []

  private readonly hintWaiters = new Map<string, HintWaiter>()

  private dropped = 0
  private droppedReported = 0
  private rejectedReported = 0
  private lastDropReason = ''

  /** Graceful stop: refusing client requests, then (closed) taking no input at all. */
  private stopping = false
  private closed = false
  private settledWaiters: (() => void)[] = []

  constructor(private readonly o: RunnerOptions<R, S, M>) {
    this.filter = new PartitionFilter(o.core.id)
    this.hintAckTimeoutTicks = ticksFor(HINT_ACK_TIMEOUT_MS, o.tickMs)
    this.dropReportTicks = ticksFor(DROP_REPORT_MS, o.tickMs)
    this.snapshotEveryRecords = o.snapshotEveryRecords ?? SNAPSHOT_EVERY_RECORDS_DEFAULT
  }

  get id(): string {
    return this.o.core.id
  }

  /** The receive epoch a client must name now (authenticated clusters; the presence key carries it), or null. */
  get epoch(): string | null {
    return this.o.auth?.epoch ?? null
  }

  /** Invalid messages dropped so far. */
  get droppedCount(): number {
    return this.dropped
  }

  /** True while a `kv fault partition` is in force. */
  get partitioned(): boolean {
    return this.filter.active
  }

  // ---- time ----------------------------------------------------------------------------------

  /** Called by the host every tickMs: the core's timers, the hints' ack timeouts, the drop report. */
  tick(): void {
    if (this.closed) return
    this.ticks++
    this.o.auth?.tick()
    this.submit(this.o.core.tick())
    this.writeSoonRecords()
    this.expireHints()
    if (this.ticks % this.dropReportTicks === 0) this.reportDrops()
  }

  // ---- inbound -------------------------------------------------------------------------------

  /**
   * One raw message from any channel the replica listens on (its inbox, the topics, the control
   * topic); `via` is that channel's label (auth/replica-auth.ts labelOf: `node:ID`, `topic:NAME`),
   * which an authenticated cluster's MAC binds (default: this replica's inbox).
   */
  onRaw(raw: Buffer | string, via = `node:${this.id}`): Inbound {
    let replyKid: string | null = null
    if (this.o.auth) {
      const opened = this.o.auth.open(raw, via)
      if (!opened.ok) {
        if (opened.body && via === `node:${this.id}`) this.answerStale(opened.body, opened.kid)
        return 'rejected'
      }
      raw = opened.body
      replyKid = opened.kid
    }
    const decoded = decodeEnvelope(raw)
    if (!decoded.ok) return this.drop(decoded.reason)
    const m = decoded.msg
    if (m.type.startsWith('client.')) {
      const req = asClientRequest(m)
      if (!req) return this.drop(`malformed ${m.type}`)
      if (replyKid !== null) this.o.auth?.noteReplyKey(req.replyTo, replyKid)
      this.onClient(req)
      return 'client'
    }
    // Closed (the end of a graceful stop): clients are still told to go elsewhere, nothing else is read.
    if (this.closed) return 'closed'
    if (m.type === 'fault') {
      const req = asFaultRequest(m)
      if (!req) return this.drop('malformed fault request')
      if (replyKid !== null) this.o.auth?.noteReplyKey(req.replyTo, replyKid)
      this.onFault(req)
      return 'fault'
    }
    const msg = this.o.asPeerMessage(m)
    if (!msg) return this.drop(`malformed ${m.type}`)
    const from = (msg as unknown as {from: string}).from
    if (this.filter.blocks(from)) return 'partitioned'
    if (m.type === 'repl.ack' && typeof m.batch === 'string' && m.batch.startsWith('h.')) {
      this.ackHint(m.batch)
      return 'hint-ack'
    }
    this.submit(this.o.core.step(msg))
    return 'peer'
  }

  /**
   * A client request signed with the secret but naming an epoch this replica no longer accepts (it
   * restarted, or the client's view of it is old): the client is told the current epoch and retries
   * once, instead of waiting for its timeout. Nothing was applied.
   */
  private answerStale(body: Buffer, kid: string | undefined): void {
    const decoded = decodeEnvelope(body)
    const req = decoded.ok && decoded.msg.type.startsWith('client.') ? asClientRequest(decoded.msg) : null
    if (!req || this.closed) return
    // In the key it came in: during a rotation the client may hold only the older secret.
    if (kid !== undefined) this.o.auth?.noteReplyKey(req.replyTo, kid)
    const message = `replica ${this.id} did not accept the request's epoch (it restarted, or the client's view of it is old); retry`
    this.reply(req.replyTo, {
      type: 'client.reply',
      id: req.id,
      ok: false,
      error: {code: 'UNAVAILABLE', message},
      epoch: (this.o.auth as ReplicaAuth).epoch,
    })
  }

  /** Messages refused by the authenticator, by reason (no-mac, bad-mac, stale, replayed); null without a secret. */
  get rejected(): Readonly<Record<string, number>> | null {
    return this.o.auth ? {...this.o.auth.rejected} : null
  }

  private onClient(req: ClientRequest): void {
    if (this.stopping) {
      return this.replyError(req, new KvError('UNAVAILABLE', `replica ${this.id} is shutting down; use another --node`))
    }
    if (req.type === 'client.status') {
      const rejected = this.rejected
      const result = {...this.o.core.status(), partitioned: this.filter.active, ...(rejected ? {rejected} : {})}
      return this.reply(req.replyTo, {type: 'client.reply', id: req.id, ok: true, result})
    }
    // Every core's input type includes the client requests.
    this.submit(this.o.core.step(req as unknown as M))
  }

  private onFault(req: FaultRequest): void {
    if (!this.o.allowFaults) {
      return this.replyError(
        req,
        new KvError('BAD_REQUEST', `replica ${this.id} was not started with --allow-faults; it refuses kv fault`),
      )
    }
    this.filter.set(req.partition)
    this.o.log('warn', req.partition ? `fault: partitioned as ${describe(req.partition)}` : 'fault: healed')
    this.reply(req.replyTo, {type: 'client.reply', id: req.id, ok: true, result: {id: this.id, applied: true}})
  }

  /** A partition stored before this replica started (the Redis host reads it before subscribing). */
  resumePartition(groups: string[][]): void {
    this.filter.set(groups)
    this.o.log('warn', `fault: resuming partition ${describe(groups)}`)
  }

  private drop(reason: string): Inbound {
    this.dropped++
    this.lastDropReason = reason
    return 'invalid'
  }

  private reportDrops(): void {
    if (this.dropped !== this.droppedReported) {
      this.o.log(
        'warn',
        `dropped ${this.dropped - this.droppedReported} invalid message(s) in the last ${DROP_REPORT_MS / 1000}s (last: ${this.lastDropReason}); ${this.dropped} in all`,
      )
      this.droppedReported = this.dropped
    }
    const rejected = this.o.auth?.rejected
    if (!rejected) return
    const total = rejected['no-mac'] + rejected['bad-mac'] + rejected.stale + rejected.replayed
    if (total === this.rejectedReported) return
    const by = Object.entries(rejected)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${reason} ${n}`)
      .join(', ')
    this.o.log(
      'warn',
      `refused ${total - this.rejectedReported} unauthenticated message(s) in the last ${DROP_REPORT_MS / 1000}s; in all: ${by}`,
    )
    this.rejectedReported = total
  }

  // ---- outbound ------------------------------------------------------------------------------

  private submit(out: Output<R>): void {
    this.o.onOutput?.(out)
    this.enqueue(out)
    if (!this.flushScheduled) {
      this.flushScheduled = true
      this.o.bursts.afterBurst(() => this.flushBurst())
    }
  }

  /** Batched sends the burst's steps queued in the core. */
  private flushBurst(): void {
    this.flushScheduled = false
    const out = this.o.core.flush()
    this.o.onOutput?.(out)
    this.enqueue(out)
  }

  private enqueue(out: Output<R>): void {
    if (out.persist.length === 0 && out.persistSoon.length === 0 && out.send.length === 0 && out.effects.length === 0)
      return
    this.pending.push(out)
    this.drain()
  }

  /**
   * Hands every waiting Output to the disk in one append, and runs their sends and effects once it is
   * durable; Outputs without records run at once unless an append is in flight ahead of them. The disk
   * may call back inside append (the simulator's does): the loop, not the callback, then goes on.
   */
  private drain(): void {
    if (this.draining) return
    this.draining = true
    try {
      while (this.pending.length > 0 && !this.appending) {
        const batch = this.pending
        this.pending = []
        for (const o of batch) this.soon.push(...o.persistSoon)
        const records = batch.flatMap((o) => o.persist)
        if (records.length === 0) {
          this.run(batch)
          continue
        }
        // After this batch's own records: a torn tail may cut a soon record, never what it refers to.
        records.push(...this.soon.splice(0))
        this.appending = true
        this.o.disk.append(records, () => {
          this.appending = false
          this.run(batch)
          this.maybeSnapshot()
          this.drain()
        })
      }
    } finally {
      this.draining = false
    }
    if (this.settled) this.notifySettled()
  }

  /**
   * Soon records that no append took along within a tick get one of their own; it holds nothing
   * back, but later Outputs wait behind it as behind any append (order on the disk and the wire).
   */
  private writeSoonRecords(): void {
    if (this.soon.length === 0 || this.appending || this.pending.length > 0) return
    this.appending = true
    this.o.disk.append(this.soon.splice(0), () => {
      this.appending = false
      this.maybeSnapshot()
      this.drain()
    })
  }

  private run(batch: readonly Output<R>[]): void {
    for (const o of batch) {
      for (const s of o.send) this.send(s.to, s.msg)
      for (const e of o.effects) this.effect(e)
    }
  }

  private send(to: Destination, msg: object): void {
    if (to.kind === 'node' && this.filter.blocks(to.id)) return
    this.publish(to, msg)
  }

  private reply(channel: string, msg: object): void {
    this.publish({kind: 'client', channel}, msg)
  }

  private publish(to: Destination, msg: object): void {
    const json = encodeMessage(msg)
    this.o.transport.send(to, this.o.auth ? this.o.auth.sealTo(to, json) : json)
  }

  private replyError(req: ClientRequest | FaultRequest, error: KvError): void {
    this.reply(req.replyTo, {type: 'client.reply', id: req.id, ok: false, error: error.toJSON()})
  }

  private effect(e: Effect): void {
    switch (e.kind) {
      case 'log':
        this.o.log(e.level, e.text)
        break
      case 'hint':
        // Signed, so that whoever can write to the broker's queues cannot make this replica relay a forgery.
        this.o.hints?.add(
          e.peer,
          this.o.auth ? {sealed: this.o.auth.sealValue(hintLabel(e.peer), encodeMessage(e.msg))} : e.msg,
        )
        break
      case 'peer':
        this.o.log('info', `peer ${e.id} is ${e.alive ? 'up' : 'down'}`)
        this.o.hints?.peerAlive(e.id, e.alive)
        break
      case 'recovered':
        // The state the core caught up to must be on disk before the mark that says it is whole goes.
        this.o.log('info', 'caught up after lost data: writing a snapshot, then clearing the recovering mark')
        this.snapshot(() =>
          this.o.disk.markRecovered(() => this.o.log('info', 'recovered: the data dir is whole again')),
        )
        break
      default:
        unreachable(e)
    }
  }

  // ---- snapshots -----------------------------------------------------------------------------

  private maybeSnapshot(): void {
    if (!this.snapshotting && this.o.disk.recordsSinceSnapshot >= this.snapshotEveryRecords) this.snapshot()
  }

  /**
   * Writes a snapshot of the core and empties the log; `onDone` runs once a compaction that started
   * after this call is durable. One at a time: a call during a compaction gets the next one.
   */
  snapshot(onDone: () => void = () => {}): void {
    this.snapshotWaiters.push(onDone)
    if (!this.snapshotting) this.startSnapshot()
  }

  private startSnapshot(): void {
    this.snapshotting = true
    this.snapshotInFlight = this.snapshotWaiters
    this.snapshotWaiters = []
    this.o.disk.compact(this.o.core.snapshot(), () => {
      this.snapshotting = false
      const done = this.snapshotInFlight
      this.snapshotInFlight = []
      if (this.snapshotWaiters.length > 0) this.startSnapshot()
      for (const fn of done) fn()
    })
  }

  // ---- hinted hand-off -----------------------------------------------------------------------

  /**
   * Sends one hint to its peer (HintQueues' worker, or the simulator's queue, calls this while it
   * believes the peer alive). `done(true)` once the peer acked it; `done(false)` if the peer is
   * partitioned away or did not ack within HINT_ACK_TIMEOUT_MS (counted in ticks): the queue retries.
   */
  deliverHint(peer: string, stored: object, done: (ok: boolean) => void): void {
    if (this.closed || this.filter.blocks(peer) || this.hintWaiters.size >= HINTS_AWAITING_ACK_MAX) return done(false)
    const msg = this.openHint(peer, stored)
    if (!msg) return done(true) // forged or damaged: counted, and taken off the queue for good
    const batch = `h.${this.o.newHintId()}`
    this.hintWaiters.set(batch, {deadlineTick: this.ticks + this.hintAckTimeoutTicks, done})
    this.send({kind: 'node', id: peer}, {...msg, batch})
  }

  /** The hint as the core made it, or null when it is not one this cluster signed for `peer`. */
  private openHint(peer: string, stored: object): object | null {
    if (!this.o.auth) return stored
    const sealed = (stored as {sealed?: unknown}).sealed
    const body = typeof sealed === 'string' ? this.o.auth.openValue(sealed, hintLabel(peer)) : null
    if (body === null) {
      if (typeof sealed !== 'string') this.o.auth.rejected['no-mac']++
      return null
    }
    const decoded = decodeEnvelope(body)
    return decoded.ok ? decoded.msg : null
  }

  private ackHint(batch: string): void {
    const w = this.hintWaiters.get(batch)
    if (!w) return // late (timed out already), duplicated, or for an earlier run of this replica
    this.hintWaiters.delete(batch)
    w.done(true)
  }

  private expireHints(): void {
    for (const [batch, w] of this.hintWaiters) {
      if (w.deadlineTick > this.ticks) continue
      this.hintWaiters.delete(batch)
      w.done(false)
    }
  }

  // ---- graceful stop -------------------------------------------------------------------------

  /** SIGTERM/SIGINT: from now on client requests are refused (UNAVAILABLE: use another replica). */
  beginStop(): void {
    this.stopping = true
  }

  /** Nothing left to finish: no Output waiting or being persisted, no client request in flight. */
  get idle(): boolean {
    return this.settled && !this.o.core.busy()
  }

  private get settled(): boolean {
    return this.pending.length === 0 && !this.appending
  }

  /**
   * The end of a graceful stop: takes no more input (messages, ticks, hint deliveries), lets every
   * waiting Output be persisted and sent, writes a last snapshot, then calls `onDone`.
   */
  finish(onDone: () => void): void {
    this.stopping = true
    this.closed = true
    for (const [batch, w] of this.hintWaiters) {
      this.hintWaiters.delete(batch)
      w.done(false)
    }
    this.settledWaiters.push(() => this.snapshot(onDone))
    if (this.settled) this.notifySettled()
  }

  private notifySettled(): void {
    const waiters = this.settledWaiters
    this.settledWaiters = []
    for (const fn of waiters) fn()
  }
}

function describe(groups: readonly (readonly string[])[]): string {
  return groups.map((g) => g.join(',')).join(' | ')
}

function unreachable(x: never): never {
  throw new Error(`unhandled effect ${JSON.stringify(x)}`)
}
