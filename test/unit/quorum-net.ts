/**
 * A seeded in-memory network for QuorumReplica unit tests (not imported by src). It does what the
 * replica driver does — persist an Output's records before sending its messages, handle Outputs in
 * order, flush after each burst, validate every peer message at the boundary — over a network that
 * delays, drops, duplicates and reorders messages and can be partitioned. A crash throws the replica
 * away; a restart builds a new one from exactly the records it had persisted (and its snapshot).
 *
 * Every run is replayable from its seed. The QuorumSafetyChecker (src/check) watches every Output as it happens.
 */
import type {Destination, Output} from '../../src/core/machine.js'
import {Rng} from '../../src/core/rng.js'
import type {ClientReply, ClientRequest} from '../../src/runtime/client-messages.js'
import type {QuorumConfig} from '../../src/quorum/config.js'
import type {QuorumRecord, QuorumSnapshot} from '../../src/quorum/records.js'
import {QuorumReplica} from '../../src/quorum/replica.js'
import {asQuorumPeerMessage} from '../../src/quorum/validate-messages.js'
import {QuorumSafetyChecker} from '../../src/check/quorum-safety.js'

export interface NetFaults {
  /** Probability that a peer message is lost. */
  drop: number
  /** Probability that a peer message is delivered twice. */
  duplicate: number
  /** Each copy is delivered after 0..delayMaxTicks ticks (so messages overtake each other). */
  delayMaxTicks: number
}

export const NO_FAULTS: NetFaults = {drop: 0, duplicate: 0, delayMaxTicks: 0}

/** Test timing: small numbers so runs are short; the ratios are the real defaults'. */
export const TEST_TIMING = {
  tickMs: 50,
  heartbeatTicks: 2,
  electionTimeoutTicks: 10,
  suspectTicks: 20,
  readRoundTicks: 4,
  logRetainEntries: 50,
} as const

interface Disk {
  snapshot: QuorumSnapshot | null
  records: QuorumRecord[]
}

interface InFlight {
  at: number
  order: number
  from: string
  to: string
  json: string
}

export class QuorumNet {
  readonly rng: Rng
  readonly ids: string[]
  now = 0
  faults: NetFaults
  readonly replicas = new Map<string, QuorumReplica | null>()
  readonly disks = new Map<string, Disk>()
  /** Client replies by request id; `replyCounts` catches a request answered twice. */
  readonly replies = new Map<string, ClientReply>()
  readonly replyCounts = new Map<string, number>()
  /** Real-time order of client events: when each request was issued and when its reply arrived. */
  readonly issuedAt = new Map<string, number>()
  readonly repliedAt = new Map<string, number>()
  /** Which replica each request went to, and the event count at each replica's last crash. */
  readonly sentTo = new Map<string, string>()
  readonly lastCrash = new Map<string, number>()
  private events = 0
  readonly checker: QuorumSafetyChecker
  /** Peer messages delivered, and dropped by the validator (must stay 0: the core only sends valid ones). */
  delivered = 0
  invalid = 0
  private inflight: InFlight[] = []
  private order = 0
  private groupOf = new Map<string, number>()
  private reqSeq = 0

  constructor(
    readonly seed: number,
    n = 5,
    faults: NetFaults = NO_FAULTS,
    private readonly timing: Omit<QuorumConfig, 'id' | 'peers' | 'rng'> = TEST_TIMING,
  ) {
    this.rng = new Rng(seed)
    this.faults = faults
    this.ids = Array.from({length: n}, (_, i) => `n${i + 1}`)
    this.checker = new QuorumSafetyChecker(() => `seed ${this.seed} tick ${this.now}`)
    for (const id of this.ids) {
      this.disks.set(id, {snapshot: null, records: []})
      this.replicas.set(id, this.build(id))
    }
  }

  private build(id: string): QuorumReplica {
    const r = new QuorumReplica({id, peers: this.ids, rng: this.rng.fork(), ...this.timing})
    const disk = this.disks.get(id) as Disk
    r.restore(clone(disk.snapshot), clone(disk.records))
    return r
  }

  replica(id: string): QuorumReplica {
    const r = this.replicas.get(id)
    if (!r) throw new Error(`${id} is down (seed ${this.seed})`)
    return r
  }

  up(): QuorumReplica[] {
    return [...this.replicas.values()].filter((r): r is QuorumReplica => r !== null)
  }

  isUp(id: string): boolean {
    return this.replicas.get(id) != null
  }

  /** Up replicas that believe they lead (in any term). */
  leaders(): QuorumReplica[] {
    return this.up().filter((r) => r.currentRole === 'leader')
  }

  /** The serving leader of the highest term among up replicas, if any. */
  servingLeader(): QuorumReplica | undefined {
    const ls = this.leaders().filter((r) => r.serving)
    return ls.sort((a, b) => b.currentTerm - a.currentTerm)[0]
  }

  // ---- faults --------------------------------------------------------------------------------

  crash(id: string): void {
    if (this.replicas.get(id)) this.lastCrash.set(id, this.events++)
    this.replicas.set(id, null)
  }

  restart(id: string): void {
    if (!this.replicas.get(id)) this.replicas.set(id, this.build(id))
  }

  /**
   * What the driver's compaction does: snapshot, then truncate the record log. `keepRecords` > 0
   * keeps that many of the newest records as well, as after a crash between the snapshot rename and
   * the truncate (or an Output still queued when the snapshot was taken): recovery must replay them
   * idempotently.
   */
  compact(id: string, keepRecords = 0): void {
    const r = this.replicas.get(id)
    if (!r) return
    const disk = this.disks.get(id) as Disk
    disk.snapshot = clone(r.snapshot())
    disk.records = keepRecords > 0 ? disk.records.slice(-keepRecords) : []
  }

  partition(groups: string[][]): void {
    this.groupOf = new Map()
    groups.forEach((g, i) => g.forEach((id) => this.groupOf.set(id, i)))
  }

  heal(): void {
    this.groupOf = new Map()
  }

  private blocked(a: string, b: string): boolean {
    const x = this.groupOf.get(a)
    const y = this.groupOf.get(b)
    return x !== undefined && y !== undefined && x !== y
  }

  // ---- clients -------------------------------------------------------------------------------

  put(node: string, key: string, value: string | null, timeoutMs = 2000): string {
    const id = `c${this.reqSeq++}`
    this.client(node, {type: 'client.put', id, replyTo: `reply.${id}`, key, value, timeoutMs})
    return id
  }

  read(node: string, key: string, timeoutMs = 2000): string {
    const id = `c${this.reqSeq++}`
    this.client(node, {type: 'client.read', id, replyTo: `reply.${id}`, key, timeoutMs})
    return id
  }

  /** A client request goes straight to the replica's inbox (clients are never partitioned). */
  client(node: string, req: ClientRequest): void {
    this.issuedAt.set(req.id, this.events++)
    this.sentTo.set(req.id, node)
    const r = this.replicas.get(node)
    if (!r) {
      this.recordReply({type: 'client.reply', id: req.id, ok: false, error: {code: 'UNAVAILABLE', message: `${node} is down`}})
      return
    }
    this.process(node, r.step(JSON.parse(JSON.stringify(req)) as ClientRequest))
    this.flushAll()
  }

  reply(id: string): ClientReply | undefined {
    return this.replies.get(id)
  }

  /** True when the replica a request went to crashed after it was issued (so no reply is expected). */
  lostWithReplica(id: string): boolean {
    const node = this.sentTo.get(id)
    return node !== undefined && (this.lastCrash.get(node) ?? -1) > (this.issuedAt.get(id) ?? Infinity)
  }

  private recordReply(reply: ClientReply): void {
    this.replyCounts.set(reply.id, (this.replyCounts.get(reply.id) ?? 0) + 1)
    if (this.replies.has(reply.id)) return
    this.replies.set(reply.id, reply)
    this.repliedAt.set(reply.id, this.events++)
  }

  // ---- time ----------------------------------------------------------------------------------

  tick(): void {
    this.now++
    for (const id of this.ids) {
      const r = this.replicas.get(id)
      if (r) this.process(id, r.tick())
    }
    this.deliverDue()
  }

  /** Tick until `done` holds; throws (naming the seed) after `maxTicks`. Returns the ticks taken. */
  runUntil(what: string, done: () => boolean, maxTicks = 500): number {
    for (let t = 0; t < maxTicks; t++) {
      if (done()) return t
      this.tick()
    }
    if (done()) return maxTicks
    throw new Error(`seed ${this.seed}: no ${what} within ${maxTicks} ticks`)
  }

  run(ticks: number): void {
    for (let t = 0; t < ticks; t++) this.tick()
  }

  /** Tick until the client request has its reply; returns it. */
  await(reqId: string, maxTicks = 200): ClientReply {
    this.runUntil(`reply to ${reqId}`, () => this.replies.has(reqId), maxTicks)
    return this.replies.get(reqId) as ClientReply
  }

  private deliverDue(): void {
    // Delay-0 messages sent while delivering are delivered in the same tick; bound the rounds anyway.
    for (let round = 0; round < 1000; round++) {
      const due = this.inflight.filter((m) => m.at <= this.now)
      if (due.length === 0) break
      this.inflight = this.inflight.filter((m) => m.at > this.now)
      due.sort((a, b) => a.order - b.order)
      for (const m of due) this.deliver(m)
      this.flushAll()
    }
  }

  private deliver(m: InFlight): void {
    const r = this.replicas.get(m.to)
    if (!r || this.blocked(m.from, m.to)) return
    const msg = asQuorumPeerMessage(JSON.parse(m.json) as Record<string, unknown>)
    if (!msg) {
      this.invalid++
      return
    }
    this.delivered++
    this.process(m.to, r.step(msg))
  }

  private flushAll(): void {
    for (const id of this.ids) {
      const r = this.replicas.get(id)
      if (r) this.process(id, r.flush())
    }
  }

  /** The driver's contract: persist first, then send, Outputs in order. */
  private process(id: string, out: Output<QuorumRecord>): void {
    const disk = this.disks.get(id) as Disk
    for (const rec of out.persist) disk.records.push(clone(rec))
    this.checker.persisted(out.persist)
    for (const s of out.send) this.send(id, s.to, s.msg)
    const r = this.replicas.get(id)
    if (r) this.checker.observe(r)
  }

  private send(from: string, to: Destination, msg: object): void {
    switch (to.kind) {
      case 'client':
        this.recordReply(clone(msg) as ClientReply)
        return
      case 'node':
        return this.enqueue(from, to.id, msg)
      case 'topic':
        for (const id of this.ids) if (id !== from) this.enqueue(from, id, msg)
    }
  }

  private enqueue(from: string, to: string, msg: object): void {
    if (this.blocked(from, to) || this.rng.next() < this.faults.drop) return
    const copies = this.rng.next() < this.faults.duplicate ? 2 : 1
    const json = JSON.stringify(msg)
    for (let i = 0; i < copies; i++) {
      // Random order keys make equal-time messages overtake each other.
      this.inflight.push({at: this.now + this.rng.int(this.faults.delayMaxTicks + 1), order: this.order++ + this.rng.int(4) * 1e9, from, to, json})
    }
  }
}

function clone<T>(x: T): T {
  return x === null || x === undefined ? x : (JSON.parse(JSON.stringify(x)) as T)
}
