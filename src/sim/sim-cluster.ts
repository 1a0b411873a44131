/**
 * The simulated world of one seeded run: the real protocol cores (either mode) on a simulated broker,
 * disks and clock, with every random choice drawn from one Rng so a seed replays a run exactly.
 *
 * It does what the replica driver does, and fails the way the real parts fail:
 * - persist before send: an Output's records go to a disk buffer; only when that buffer is "fsynced"
 *   (at once, or later while the disk is slow) are its messages sent and effects done,
 *   in Output order. A crash keeps a random prefix of the unsynced records (a torn tail is truncated
 *   by the record log) and loses everything that was waiting for the fsync, sends included;
 * - the broker: messages are dropped, duplicated, delayed and reordered; partitions may be one-way;
 *   during an outage every message is lost and the hint queues (kept in Redis) are wiped;
 * - paused replicas (SIGSTOP) neither tick nor read; what is sent to them waits and arrives in a burst;
 * - hinted hand-off as the BullMQ queues do it: retried until the peer acks, held while the sender
 *   believes the peer down, and only while the sender runs;
 * - every peer message is JSON-encoded and validated at the receiving boundary, as on the wire.
 */
import type {Output} from '../core/machine.js'
import type {Rng} from '../core/rng.js'

/** What the simulator needs of a core (EventualReplica and QuorumReplica provide it). */
export interface SimCore {
  readonly id: string
  step(msg: object): Output<unknown>
  tick(): Output<unknown>
  flush(): Output<unknown>
  snapshot(): unknown
}

/** Builds a core from what its disk holds, and validates peer messages as the driver does. */
export interface CoreFactory<C extends SimCore> {
  create(id: string, rng: Rng, snapshot: unknown | null, records: readonly unknown[]): C
  asPeerMessage(m: Record<string, unknown>): object | null
  /** How many ticks the driver waits for a hint's ack before BullMQ retries it. */
  readonly hintRetryTicks: number
}

export interface NetworkFaults {
  /** Probability that a peer message is lost. */
  drop: number
  /** Probability that a peer message is delivered twice. */
  duplicate: number
  /** Each copy arrives 0..delayTicksMax ticks later (so messages overtake each other). */
  delayTicksMax: number
  /** Probability that a disk's fsync is still unfinished at the end of a tick. */
  slowDisk: number
}

/** Bounds the delivery rounds of one tick (replies to replies with no delay). */
const ROUNDS_PER_TICK_MAX = 1000

export const CALM: NetworkFaults = {drop: 0, duplicate: 0, delayTicksMax: 0, slowDisk: 0}

/** One replica's disk: what is durable, and what still waits for its fsync. */
export interface SimDisk {
  snapshot: unknown | null
  records: unknown[]
  /** Outputs whose records are written but not yet fsynced (their sends wait). */
  pending: Output<unknown>[]
}

interface InFlight {
  at: number
  order: number
  from: string
  to: string
  json: string
}

interface Hint {
  readonly from: string
  readonly peer: string
  readonly msg: object
  readonly batch: string
  retryAt: number
}

/** A reply to a client, delivered to whoever listens on its channel. */
export type ReplyListener = (channel: string, msg: Record<string, unknown>) => void

export type TraceSink = (line: string) => void

export class SimCluster<C extends SimCore> {
  now = 0
  faults: NetworkFaults = {...CALM}
  readonly cores = new Map<string, C | null>()
  readonly disks = new Map<string, SimDisk>()
  /** Counters for the run's summary. */
  readonly stats = {delivered: 0, dropped: 0, invalid: 0, crashes: 0, restarts: 0, pauses: 0, compactions: 0, tornRecords: 0, hintsDelivered: 0}
  /** Called after every Output a core returns (checkers hook in here). */
  onOutput: (core: C, out: Output<unknown>) => void = () => {}
  onReply: ReplyListener = () => {}
  trace: TraceSink | null = null
  /**
   * Sabotage for testing the checkers end to end: the disk lies about fsync, so a crash also loses
   * the last few records it had reported durable. A correct core cannot survive that; the checkers
   * must notice.
   */
  fsyncLies = false

  private events = 0
  private inflight: InFlight[] = []
  private order = 0
  private readonly pausedUntil = new Map<string, number>()
  /** Per replica: the chance of missing a tick (timer skew). */
  private readonly skew = new Map<string, number>()
  /** Directed links that drop messages: "from>to". */
  private blocked = new Set<string>()
  private brokerDownUntil = -1
  private hints: Hint[] = []
  private hintSeq = 0
  /** Per sender: peers it believes down (its hint queue to them is held). */
  private readonly believedDown = new Map<string, Set<string>>()

  private readonly members: string[]
  /** A replica that joined later may have its own factory (its own --peers). */
  private readonly factories = new Map<string, CoreFactory<C>>()

  constructor(
    ids: readonly string[],
    private readonly factory: CoreFactory<C>,
    private readonly rng: Rng,
  ) {
    this.members = [...ids]
    for (const id of ids) this.addDisk(id)
  }

  /** Every replica the world has (joined ones included), up or not. */
  get ids(): readonly string[] {
    return this.members
  }

  /** A new replica starts with an empty disk and joins (seed 004); `factory` gives its --peers. */
  join(id: string, factory: CoreFactory<C> = this.factory): C {
    this.members.push(id)
    this.factories.set(id, factory)
    this.addDisk(id)
    this.log(`JOIN ${id}`)
    return this.cores.get(id) as C
  }

  private addDisk(id: string): void {
    this.disks.set(id, {snapshot: null, records: [], pending: []})
    this.cores.set(id, this.build(id))
  }

  /** A strictly increasing event counter: the real-time order of client events. */
  clock(): number {
    return ++this.events
  }

  private build(id: string): C {
    const disk = this.disks.get(id) as SimDisk
    this.believedDown.set(id, new Set())
    return (this.factories.get(id) ?? this.factory).create(id, this.rng.fork(), clone(disk.snapshot), clone(disk.records))
  }

  private log(line: string): void {
    this.trace?.(`t${this.now} ${line}`)
  }

  // ---- what the harness and checkers look at --------------------------------------------------

  core(id: string): C | null {
    return this.cores.get(id) ?? null
  }

  isUp(id: string): boolean {
    return this.cores.get(id) != null
  }

  isPaused(id: string): boolean {
    return (this.pausedUntil.get(id) ?? -1) > this.now
  }

  /** Up and not paused: it ticks and reads its inbox. */
  isRunning(id: string): boolean {
    return this.isUp(id) && !this.isPaused(id)
  }

  upCores(): C[] {
    return [...this.cores.values()].filter((c): c is C => c !== null)
  }

  get brokerDown(): boolean {
    return this.brokerDownUntil > this.now
  }

  // ---- faults --------------------------------------------------------------------------------

  /** kill -9: keeps the fsynced records and a random prefix of the unsynced ones (torn tail cut off). */
  crash(id: string): void {
    if (!this.isUp(id)) return
    const disk = this.disks.get(id) as SimDisk
    const unsynced = disk.pending.flatMap((o) => o.persist)
    const kept = unsynced.length === 0 ? 0 : this.rng.int(unsynced.length + 1)
    disk.records.push(...clone(unsynced.slice(0, kept)))
    this.stats.tornRecords += unsynced.length - kept
    if (this.fsyncLies) disk.records.splice(Math.max(0, disk.records.length - 1 - this.rng.int(10)))
    disk.pending = []
    this.cores.set(id, null)
    this.pausedUntil.delete(id)
    this.stats.crashes++
    this.log(`CRASH ${id} (kept ${kept}/${unsynced.length} unsynced records)`)
  }

  restart(id: string): void {
    if (this.isUp(id)) return
    this.cores.set(id, this.build(id))
    this.stats.restarts++
    this.log(`RESTART ${id}`)
  }

  /** SIGSTOP until `ticks` from now (SIGCONT then). */
  pause(id: string, ticks: number): void {
    if (!this.isUp(id)) return
    this.pausedUntil.set(id, this.now + ticks)
    this.stats.pauses++
    this.log(`PAUSE ${id} for ${ticks} ticks`)
  }

  resumeAll(): void {
    this.pausedUntil.clear()
  }

  /** Groups cut off from each other in both directions (`kv fault partition`). */
  partition(groups: readonly (readonly string[])[]): void {
    this.blocked = new Set()
    groups.forEach((g, i) =>
      groups.forEach((h, j) => {
        if (i !== j) for (const a of g) for (const b of h) this.blocked.add(`${a}>${b}`)
      }),
    )
    this.log(`PARTITION ${groups.map((g) => g.join(',')).join(' | ')}`)
  }

  /** Messages from `from` to `to` are lost; the other direction still works. */
  blockOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.blocked.add(`${a}>${b}`)
    this.log(`ONE-WAY ${from.join(',')} -/-> ${to.join(',')}`)
  }

  heal(): void {
    this.blocked = new Set()
    this.log('HEAL')
  }

  /** The broker restarts: everything in flight and every hint queue is lost, nothing passes for `ticks`. */
  brokerOutage(ticks: number): void {
    this.brokerDownUntil = this.now + ticks
    this.stats.dropped += this.inflight.length
    this.inflight = []
    this.hints = []
    this.log(`BROKER DOWN for ${ticks} ticks`)
  }

  /**
   * The driver's compaction: the core's snapshot replaces the log (unsynced Outputs stay pending).
   * `keepRecords` > 0 keeps that many of the newest records as well, as after a crash between the
   * snapshot rename and the log truncate: recovery must replay them idempotently.
   */
  compact(id: string, keepRecords = 0): void {
    const core = this.core(id)
    if (!core || this.isPaused(id)) return
    const disk = this.disks.get(id) as SimDisk
    disk.snapshot = clone(core.snapshot())
    disk.records = keepRecords > 0 ? disk.records.slice(-keepRecords) : []
    this.stats.compactions++
    this.log(`COMPACT ${id}`)
  }

  // ---- clients -------------------------------------------------------------------------------

  /** A client publishes a request to a replica's inbox; false when the broker refuses it (not sent). */
  request(nodeId: string, req: object): boolean {
    if (this.brokerDown) return false
    this.inflight.push({at: this.now + this.rng.int(2), order: this.nextOrder(), from: 'client', to: nodeId, json: JSON.stringify(req)})
    return true
  }

  // ---- time ----------------------------------------------------------------------------------

  /**
   * One tick: every running core ticks, then messages are delivered in rounds until none is due
   * (a message sent with no delay arrives within the same tick, as over a real broker whose latency
   * is far below a tick), then disks finish their fsyncs and hint queues are pumped.
   */
  tick(): void {
    this.now++
    for (const id of this.ids) {
      const core = this.core(id)
      if (!core || this.isPaused(id)) continue
      if ((this.skew.get(id) ?? 0) > 0 && this.rng.next() < (this.skew.get(id) as number)) continue
      this.apply(core, core.tick())
      this.apply(core, core.flush())
    }
    this.deliverDue()
    for (const id of this.ids) if (this.isRunning(id)) this.fsync(id, this.rng.next() >= this.faults.slowDisk)
    this.pumpHints()
  }

  run(ticks: number): void {
    for (let t = 0; t < ticks; t++) this.tick()
  }

  /**
   * Timer skew: each replica gets its own chance, up to `bound`, of missing a tick (a starved event
   * loop fires its interval late). Lockstep ticks would hide bugs that rely on every replica's
   * timeouts running at the same rate. 0 restores lockstep.
   */
  skewTimers(bound: number): void {
    for (const id of this.ids) this.skew.set(id, bound * this.rng.next())
    if (bound > 0) this.log(`SKEW ${this.ids.map((id) => `${id}:${(this.skew.get(id) as number).toFixed(2)}`).join(' ')}`)
  }

  private nextOrder(): number {
    // Random high bits make messages due in the same tick overtake each other.
    return this.order++ + (this.faults.delayTicksMax > 0 ? this.rng.int(4) * 1e9 : 0)
  }

  private deliverDue(): void {
    for (let round = 0; round < ROUNDS_PER_TICK_MAX; round++) {
      const due: InFlight[] = []
      const later: InFlight[] = []
      for (const m of this.inflight) (m.at <= this.now && !this.isPaused(m.to) ? due : later).push(m)
      if (due.length === 0) return
      this.inflight = later
      due.sort((a, b) => a.at - b.at || a.order - b.order)
      for (const m of due) this.deliver(m)
    }
  }

  private deliver(m: InFlight): void {
    if (m.to.startsWith('client:')) {
      this.onReply(m.to.slice('client:'.length), JSON.parse(m.json) as Record<string, unknown>)
      return
    }
    const core = this.core(m.to)
    if (!core) {
      this.stats.dropped++
      return
    }
    if (m.from === 'client') {
      this.apply(core, core.step(JSON.parse(m.json) as object))
      this.apply(core, core.flush())
      return
    }
    // The driver's partition filter drops messages from cut-off peers (hints included).
    if (this.blocked.has(`${m.from}>${m.to}`)) {
      this.stats.dropped++
      return
    }
    const raw = JSON.parse(m.json) as Record<string, unknown>
    const msg = this.factory.asPeerMessage(raw)
    if (!msg) {
      this.stats.invalid++
      return
    }
    if (raw.type === 'repl.ack' && typeof raw.batch === 'string' && raw.batch.startsWith('h.')) {
      // The driver intercepts a hint's ack: the hint is done.
      this.hints = this.hints.filter((h) => h.batch !== raw.batch)
      return
    }
    this.stats.delivered++
    this.apply(core, core.step(msg))
    this.apply(core, core.flush())
  }

  /** Records go to the disk buffer; sends wait for the fsync (the driver's contract). */
  private apply(core: C, out: Output<unknown>): void {
    this.onOutput(core, out)
    if (out.persist.length === 0 && out.send.length === 0 && out.effects.length === 0) return
    const disk = this.disks.get(core.id) as SimDisk
    disk.pending.push({persist: clone(out.persist), send: out.send, effects: out.effects})
    // Usually the group commit is done long before the next tick; a slow disk holds it (and every
    // later Output's sends, which keep their order) until a later fsync.
    const synced = out.persist.length === 0 ? disk.pending.length === 1 : this.rng.next() >= this.faults.slowDisk
    this.fsync(core.id, synced)
  }

  /** Completes the disk's group commit (when `done`): records become durable, then sends go out in order. */
  private fsync(id: string, done: boolean): void {
    const disk = this.disks.get(id) as SimDisk
    if (!done || disk.pending.length === 0) return
    const outs = disk.pending
    disk.pending = []
    for (const out of outs) disk.records.push(...out.persist)
    for (const out of outs) {
      for (const s of out.send) {
        // Encoded once, as the driver publishes one payload (a topic's subscribers all get it).
        const json = JSON.stringify(s.msg)
        if (s.to.kind === 'client') this.enqueue(id, `client:${s.to.channel}`, json, 'client')
        else if (s.to.kind === 'node') this.enqueue(id, s.to.id, json, 'peer')
        else for (const peer of this.ids) if (peer !== id) this.enqueue(id, peer, json, 'peer')
      }
      for (const e of out.effects) {
        if (e.kind === 'log') this.trace?.(`t${this.now} ${id}: ${e.text}`)
        else if (e.kind === 'hint') this.hints.push({from: id, peer: e.peer, msg: e.msg, batch: `h.${this.hintSeq++}`, retryAt: this.now})
        else if (e.kind === 'peer') {
          this.trace?.(`t${this.now} ${id}: peer ${e.id} ${e.alive ? 'up' : 'down'}`)
          const down = this.believedDown.get(id) as Set<string>
          if (e.alive) down.delete(e.id)
          else down.add(e.id)
        }
      }
    }
  }

  private enqueue(from: string, to: string, json: string, kind: 'peer' | 'client'): void {
    if (this.brokerDown) {
      this.stats.dropped++
      return
    }
    if (kind === 'peer' && this.rng.next() < this.faults.drop) {
      this.stats.dropped++
      return
    }
    const copies = kind === 'peer' && this.rng.next() < this.faults.duplicate ? 2 : 1
    for (let i = 0; i < copies; i++) {
      const delay = kind === 'peer' && this.faults.delayTicksMax > 0 ? this.rng.int(this.faults.delayTicksMax + 1) : 0
      this.inflight.push({at: this.now + delay, order: this.nextOrder(), from, to, json})
    }
  }

  /** BullMQ workers: a running sender delivers each hint to a peer it believes up, retrying until acked. */
  private pumpHints(): void {
    for (const h of this.hints) {
      if (h.retryAt > this.now || !this.isRunning(h.from)) continue
      if (this.believedDown.get(h.from)?.has(h.peer)) continue
      if (this.blocked.has(`${h.from}>${h.peer}`)) continue // the driver refuses to bridge a partition
      h.retryAt = this.now + this.factory.hintRetryTicks
      this.stats.hintsDelivered++
      this.enqueue(h.from, h.peer, JSON.stringify({...h.msg, batch: h.batch}), 'peer')
    }
  }

  /** Everything a replica durably holds (what a restart would recover). */
  durable(id: string): {snapshot: unknown | null; records: readonly unknown[]} {
    const d = this.disks.get(id) as SimDisk
    return {snapshot: d.snapshot, records: d.records}
  }
}

function clone<T>(x: T): T {
  return x === null || x === undefined ? x : (JSON.parse(JSON.stringify(x)) as T)
}
