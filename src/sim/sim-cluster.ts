/**
 * The simulated world of one seeded run: each replica is a real ReplicaRunner (the code a real
 * replica runs: boundary validation, persist before send, Outputs in order, one flush per burst,
 * snapshots, hint acks, `kv fault`) around a real core, plugged into simulated ports. Every random
 * choice is drawn from one Rng, so a seed replays a run exactly.
 *
 * What this file models is the world only, failing the way the real parts fail:
 * - the broker: messages are dropped, duplicated, delayed and reordered; links may be cut one way;
 *   during an outage every message is lost and the hint queues (kept in Redis) are wiped;
 * - `kv fault partition` and heal reach every runner as the control message they really are, and a
 *   replica that (re)starts resumes the stored partition, as it reads the fault key;
 * - disks (sim-disk.ts): fsyncs complete at once or, while a disk is slow, at a later tick; a crash
 *   (kill -9) keeps a random prefix of the unsynced tail, and everything waiting on an fsync is lost;
 * - paused replicas (SIGSTOP) neither tick nor read; what is sent to them waits and arrives in a burst;
 *   timer skew makes replicas miss ticks, as a starved event loop does;
 * - hinted hand-off's BullMQ queues (sim-hint-queues.ts).
 */
import type {Destination, Output} from '../core/machine.js'
import type {RecoveryFacts} from '../core/recovery-facts.js'
import type {ReplicaCore} from '../core/replica-core.js'
import type {Rng} from '../core/rng.js'
import {ClientAuth} from '../auth/client-auth.js'
import {KeyRing} from '../auth/keys.js'
import {CONTROL_LABEL, ReplicaAuth, labelOf} from '../auth/replica-auth.js'
import {type Inbound, ReplicaRunner, SNAPSHOT_EVERY_RECORDS_DEFAULT} from '../runtime/replica-runner.js'
import {SimAuthAttacker} from './sim-auth-attacks.js'
import {type DiskConditions, SimDisk} from './sim-disk.js'
import {SimHintQueues} from './sim-hint-queues.js'

/** What the simulator needs of a core: what the runner needs (EventualReplica and QuorumReplica provide it). */
export type SimCore = ReplicaCore<unknown, unknown, object>

/** Builds a core from what its disk holds, with the mode's settings the runner needs. */
export interface CoreFactory<C extends SimCore> {
  /** `snapshot` is null when the disk holds none. */
  create(id: string, rng: Rng, snapshot: unknown, records: readonly unknown[], facts: RecoveryFacts): C
  /** The mode's peer-message validator, as the Redis host passes it. */
  readonly asPeerMessage: (m: Record<string, unknown>) => object | null
  /** How often the runner ticks (its own timeouts are counted in ticks of this length). */
  readonly tickMs: number
  /** Eventual mode has hinted hand-off queues; quorum mode has none. */
  readonly hintedHandoff: boolean
}

export interface NetworkFaults {
  /** Probability that a peer message is lost. */
  drop: number
  /** Probability that a peer message is delivered twice. */
  duplicate: number
  /** Each copy arrives 0..delayTicksMax ticks later (so messages overtake each other). */
  delayTicksMax: number
  /** Probability that a disk's fsync is still unfinished when it is asked for (at once, or at the end of a tick). */
  slowDisk: number
}

export interface SimOptions {
  /** The runners' snapshot policy (the real default unless a run wants compactions). */
  readonly snapshotEveryRecords?: number
  /**
   * An authenticated cluster: every runner seals and opens with the cluster secret, clients sign, and
   * an attacker without the secret replays, moves, tampers with and forges messages (sim-auth-attacks.ts).
   * The Rng is the signing's own (epochs, incarnations, attacks), so other draws stay as without it.
   */
  readonly signing?: {readonly rng: Rng}
}

/** The simulated cluster's secret (the simulator's cluster name is fixed too). */
const SIM_SECRET = Buffer.from('the simulated cluster secret, 32 bytes or more', 'utf8')
const SIM_CLUSTER = 'sim'
/** Chance per tick that the attacker sends something. */
const ATTACK_CHANCE = 0.2
/** Chance that an accepted delivery is recorded by the attacker. */
const CAPTURE_CHANCE = 0.05

/** Bounds the delivery rounds of one tick (replies to replies with no delay). */
const ROUNDS_PER_TICK_MAX = 1000

/** Where the simulated `kv fault` sends its requests' replies (nobody listens). */
const CONTROL_REPLY_CHANNEL = 'sim.control'

export const CALM: NetworkFaults = {drop: 0, duplicate: 0, delayTicksMax: 0, slowDisk: 0}

interface InFlight {
  at: number
  order: number
  from: string
  to: string
  /** The channel label the message travels on (a signed message's MAC binds it). */
  via: string
  json: string
}

/** One running replica process: its runner, and the work it queued for the end of the current step. */
interface Process {
  readonly runner: ReplicaRunner<unknown, unknown, object>
  readonly afterBurst: (() => void)[]
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
  readonly stats = {
    delivered: 0,
    dropped: 0,
    invalid: 0,
    crashes: 0,
    restarts: 0,
    pauses: 0,
    compactions: 0,
    tornRecords: 0,
    hintsDelivered: 0,
    diskFaults: 0,
    diskLosses: 0,
    attacks: 0,
    refused: 0,
  }
  /** Attacks a runner accepted (must stay empty: the seed's verdict fails otherwise). */
  readonly authBreaches: string[] = []
  /** Every disk fault that lost data, in event-clock time (the eventual checker excuses w-limited losses after them). */
  readonly diskFaultLog: {replica: string; at: number; kind: string}[] = []
  /** Called after every Output a core returns, before its runner acts on it (checkers hook in here). */
  onOutput: (core: C, out: Output<unknown>) => void = () => {}
  onReply: ReplyListener = () => {}
  trace: TraceSink | null = null
  /**
   * Sabotage for testing the checkers end to end: the disk lies about fsync, so a crash also loses
   * the last few records it had reported durable. A correct core cannot survive that; the checkers
   * must notice.
   */
  fsyncLies = false
  /**
   * Sabotage: restarts hand the core whatever survived as if the disk were whole, as replicas did
   * before they told lost data from a torn tail. The checkers must flag what that leads to.
   */
  lossBlind = false

  private events = 0
  private inflight: InFlight[] = []
  private order = 0
  private readonly processes = new Map<string, Process>()
  private readonly pausedUntil = new Map<string, number>()
  /** Per replica: the chance of missing a tick (timer skew). */
  private readonly skew = new Map<string, number>()
  /** Directed links of the broker that lose messages: "from>to" (one-way cuts). */
  private blocked = new Set<string>()
  /** The `kv fault partition` in force (what the fault key holds), null when healed. */
  private partitionGroups: string[][] | null = null
  private brokerDownUntil = -1
  private readonly hints: SimHintQueues
  /** Hint delivery ids, unique in the whole run (a late ack must never match a restarted sender's hint). */
  private hintSeq = 0
  private faultSeq = 0

  private readonly members: string[]
  /** A replica that joined later may have its own factory (its own --peers). */
  private readonly factories = new Map<string, CoreFactory<C>>()
  private readonly snapshotEveryRecords: number
  private readonly signing: {
    readonly rng: Rng
    readonly keys: KeyRing
    readonly client: ClientAuth
    readonly attacker: SimAuthAttacker
  } | null

  constructor(
    ids: readonly string[],
    private readonly factory: CoreFactory<C>,
    private readonly rng: Rng,
    options: SimOptions = {},
  ) {
    this.members = [...ids]
    this.snapshotEveryRecords = options.snapshotEveryRecords ?? SNAPSHOT_EVERY_RECORDS_DEFAULT
    const signingRng = options.signing?.rng
    const keys = new KeyRing([SIM_SECRET], SIM_CLUSTER)
    this.signing = signingRng
      ? {
          rng: signingRng,
          keys,
          client: new ClientAuth(keys, 'simclient', 'c0'),
          attacker: new SimAuthAttacker(signingRng.fork(), SIM_CLUSTER),
        }
      : null
    this.hints = new SimHintQueues(
      {
        now: () => this.now,
        brokerDown: () => this.brokerDown,
        isRunning: (id) => this.isRunning(id),
        deliver: (from, peer, msg, done) => this.processes.get(from)?.runner.deliverHint(peer, msg, done),
      },
      factory.tickMs,
    )
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
    const conditions: DiskConditions = {
      slowDisk: () => this.faults.slowDisk,
      fsyncLies: () => this.fsyncLies,
      lossBlind: () => this.lossBlind,
    }
    this.disks.set(id, new SimDisk(this.rng, conditions))
    this.start(id)
  }

  /** A strictly increasing event counter: the real-time order of client events. */
  clock(): number {
    return ++this.events
  }

  /** Starts a replica process on its disk: the core recovers what the disk holds, a runner drives it. */
  private start(id: string): void {
    const disk = this.disks.get(id) as SimDisk
    const factory = this.factories.get(id) ?? this.factory
    const {snapshot, records, facts, warnings} = disk.open()
    for (const w of warnings) this.log(`${id}: ${w}`)
    if (facts.loss) this.stats.diskLosses++
    const core = factory.create(id, this.rng.fork(), snapshot, records, facts)
    const hints = this.hints.senderStarted(id)
    const afterBurst: (() => void)[] = []
    const runner = new ReplicaRunner<unknown, unknown, object>({
      core,
      asPeerMessage: factory.asPeerMessage,
      transport: {send: (to, payload) => this.send(id, to, payload)},
      disk,
      bursts: {afterBurst: (fn) => void afterBurst.push(fn)},
      hints: factory.hintedHandoff ? hints : undefined,
      log: (_level, text) => this.trace?.(`t${this.now} ${id}: ${text}`),
      tickMs: factory.tickMs,
      allowFaults: true,
      snapshotEveryRecords: this.snapshotEveryRecords,
      newHintId: () => String(this.hintSeq++),
      onOutput: (out) => this.onOutput(core, out),
      auth: this.signing ? this.authFor(id, factory.tickMs) : undefined,
    })
    // As a real replica reads the fault key before it subscribes.
    if (this.partitionGroups) runner.resumePartition(this.partitionGroups)
    this.processes.set(id, {runner, afterBurst})
    this.cores.set(id, core)
  }

  private authFor(id: string, tickMs: number): ReplicaAuth {
    const rng = (this.signing as {rng: Rng}).rng
    return new ReplicaAuth({
      id,
      keys: (this.signing as {keys: KeyRing}).keys,
      randomToken: (bytes) => {
        const b = Buffer.alloc(bytes)
        for (let i = 0; i < bytes; i++) b[i] = rng.int(256)
        return b.toString('base64url')
      },
      tickMs,
    })
  }

  /** A client's request as the client library makes it: plain, or sealed naming the replica's epoch (its presence key). */
  private clientPayload(label: string, to: readonly string[], body: string): string {
    if (!this.signing) return body
    const epochs: [string, string][] = []
    for (const id of to) {
      const ep = this.processes.get(id)?.runner.epoch
      if (ep) epochs.push([id, ep])
    }
    return this.signing.client.seal(label, epochs, body)
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

  /** Everything a replica durably holds (what a restart would recover; snapshot null: none). */
  durable(id: string): {snapshot: unknown; records: readonly unknown[]} {
    const d = this.disks.get(id) as SimDisk
    return {snapshot: d.snapshot, records: d.records}
  }

  // ---- faults --------------------------------------------------------------------------------

  /** kill -9: the disk keeps what was fsynced and a random prefix of the rest; the process is gone. */
  crash(id: string): void {
    if (!this.isUp(id)) return
    const loss = (this.disks.get(id) as SimDisk).crash()
    this.stats.tornRecords += loss.unsynced - loss.kept
    this.processes.delete(id)
    this.cores.set(id, null)
    this.pausedUntil.delete(id)
    this.stats.crashes++
    this.log(`CRASH ${id} (kept ${loss.kept}/${loss.unsynced} unsynced records)`)
  }

  /**
   * Disk faults, applied to a replica that is down (kill -9 first, as the nemesis does): a flipped
   * byte mid-log or in the snapshot, a wiped directory, or an older snapshot back. Returns false when
   * the disk has nothing the fault could damage (then nothing happened).
   */
  damageDisk(id: string, kind: 'corrupt-log' | 'corrupt-snapshot' | 'wipe' | 'old-snapshot'): boolean {
    if (this.isUp(id)) return false
    const disk = this.disks.get(id) as SimDisk
    let done = true
    if (kind === 'corrupt-log') done = disk.corruptLog()
    else if (kind === 'corrupt-snapshot') done = disk.corruptSnapshot()
    else if (kind === 'old-snapshot') done = disk.revertSnapshot()
    else disk.wipe()
    if (!done) return false
    this.stats.diskFaults++
    this.diskFaultLog.push({replica: id, at: this.clock(), kind})
    this.log(`DISK ${kind} ${id}`)
    return true
  }

  restart(id: string): void {
    if (this.isUp(id)) return
    this.start(id)
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

  /** `kv fault partition`: groups cut off from each other in both directions (replaces any one-way cut). */
  partition(groups: readonly (readonly string[])[]): void {
    this.blocked = new Set()
    this.partitionGroups = groups.map((g) => [...g])
    this.log(`PARTITION ${groups.map((g) => g.join(',')).join(' | ')}`)
    this.sendFault(this.partitionGroups)
  }

  /** The broker loses messages from `from` to `to`; the other direction still works. */
  blockOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.blocked.add(`${a}>${b}`)
    this.log(`ONE-WAY ${from.join(',')} -/-> ${to.join(',')}`)
  }

  /** `kv fault heal`, and the broker's links restored. */
  heal(): void {
    this.blocked = new Set()
    this.log('HEAL')
    if (this.partitionGroups === null) return
    this.partitionGroups = null
    this.sendFault(null)
  }

  /** The request `kv fault` publishes on the control topic, handed to every running process (a paused one does nothing before it resumes anyway). */
  private sendFault(partition: string[][] | null): void {
    const body = JSON.stringify({
      type: 'fault',
      id: `f${this.faultSeq++}`,
      replyTo: CONTROL_REPLY_CHANNEL,
      partition,
    })
    const payload = this.clientPayload(CONTROL_LABEL, this.ids, body)
    for (const id of this.ids) {
      const p = this.processes.get(id)
      if (!p) continue
      p.runner.onRaw(payload, CONTROL_LABEL)
      this.endStep(id)
    }
  }

  /** The broker restarts: everything in flight and every hint queue is lost, nothing passes for `ticks`. */
  brokerOutage(ticks: number): void {
    this.brokerDownUntil = this.now + ticks
    this.stats.dropped += this.inflight.length
    this.inflight = []
    this.hints.wipe()
    this.log(`BROKER DOWN for ${ticks} ticks`)
  }

  /**
   * The runner writes a snapshot now (as its policy or a graceful stop would). `keepRecords` > 0
   * tears that compaction: the snapshot is renamed into place but the log keeps its newest
   * `keepRecords` records, as after a crash between rename and truncate, so recovery replays records
   * the snapshot already holds.
   */
  compact(id: string, keepRecords = 0): void {
    const p = this.processes.get(id)
    if (!p || this.isPaused(id)) return
    if (keepRecords > 0) (this.disks.get(id) as SimDisk).tearNextCompaction(keepRecords)
    p.runner.snapshot()
    this.stats.compactions++
    this.log(`COMPACT ${id}${keepRecords > 0 ? ` (torn: ${keepRecords} records stay)` : ''}`)
  }

  // ---- clients -------------------------------------------------------------------------------

  /** A client publishes a request to a replica's inbox; false when the broker refuses it (not sent). */
  request(nodeId: string, req: object): boolean {
    if (this.brokerDown) return false
    this.inflight.push({
      at: this.now + this.rng.int(2),
      order: this.nextOrder(),
      from: 'client',
      to: nodeId,
      via: `node:${nodeId}`,
      json: this.clientPayload(`node:${nodeId}`, [nodeId], JSON.stringify(req)),
    })
    return true
  }

  // ---- time ----------------------------------------------------------------------------------

  /**
   * One tick: every running replica ticks, then messages are delivered in rounds until none is due
   * (a message sent with no delay arrives within the same tick, as over a real broker whose latency
   * is far below a tick), then slow disks may finish their fsyncs and hint queues are pumped.
   */
  tick(): void {
    this.now++
    for (const id of this.ids) {
      const p = this.processes.get(id)
      if (!p || this.isPaused(id)) continue
      if ((this.skew.get(id) ?? 0) > 0 && this.rng.next() < (this.skew.get(id) as number)) continue
      p.runner.tick()
      this.endStep(id)
    }
    this.deliverDue()
    this.attack()
    for (const id of this.ids) {
      if (!this.isRunning(id)) continue
      if (this.rng.next() >= this.faults.slowDisk) (this.disks.get(id) as SimDisk).sync()
    }
    this.hints.pump()
    this.stats.hintsDelivered = this.hints.attempts
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
    if (bound > 0)
      this.log(`SKEW ${this.ids.map((id) => `${id}:${(this.skew.get(id) as number).toFixed(2)}`).join(' ')}`)
  }

  /** The end of one step of a process (a tick or a delivery): what it deferred to the burst's end runs now. */
  private endStep(id: string): void {
    const queued = this.processes.get(id)?.afterBurst
    while (queued && queued.length > 0) (queued.shift() as () => void)()
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
      const json = this.signing ? this.signing.client.open(m.json, m.via)?.body : m.json
      if (json !== undefined) this.onReply(m.to.slice('client:'.length), JSON.parse(json) as Record<string, unknown>)
      return
    }
    const p = this.processes.get(m.to)
    if (!p || this.blocked.has(`${m.from}>${m.to}`)) {
      this.stats.dropped++
      return
    }
    const what = p.runner.onRaw(m.json, m.via)
    this.count(what)
    this.endStep(m.to)
    if (this.signing && (what === 'peer' || what === 'client') && this.signing.rng.next() < CAPTURE_CHANCE)
      this.signing.attacker.capture({to: m.to, via: m.via, raw: m.json})
  }

  /**
   * The attacker without the secret: now and then one replayed, moved, tampered, re-keyed or
   * unsigned copy of a captured message reaches a running replica. Any that is not refused is a breach.
   */
  private attack(): void {
    if (!this.signing?.attacker.shouldAttack(ATTACK_CHANCE)) return
    const a = this.signing.attacker.next(this.ids.filter((id) => this.isRunning(id)))
    const p = this.processes.get(a.to)
    if (!p || !this.isRunning(a.to)) return
    this.stats.attacks++
    const what = p.runner.onRaw(a.raw, a.via)
    this.endStep(a.to)
    if (what === 'rejected') this.stats.refused++
    else this.authBreaches.push(`t${this.now}: a ${a.kind} message on ${a.via} to ${a.to} was taken as ${what}`)
  }

  private count(what: Inbound): void {
    if (what === 'peer') this.stats.delivered++
    else if (what === 'invalid') this.stats.invalid++
    else if (what === 'partitioned') this.stats.dropped++
  }

  /** The runner's transport: one encoded payload onto the broker (a topic reaches every other replica). */
  private send(from: string, to: Destination, payload: string): void {
    const via = labelOf(to)
    if (to.kind === 'client') {
      if (to.channel !== CONTROL_REPLY_CHANNEL) this.enqueue(from, `client:${to.channel}`, via, payload, 'client')
    } else if (to.kind === 'node') this.enqueue(from, to.id, via, payload, 'peer')
    else for (const peer of this.ids) if (peer !== from) this.enqueue(from, peer, via, payload, 'peer')
  }

  private enqueue(from: string, to: string, via: string, json: string, kind: 'peer' | 'client'): void {
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
      this.inflight.push({at: this.now + delay, order: this.nextOrder(), from, to, via, json})
    }
  }
}
