/**
 * The quorum unit tests' view of the simulator (src/sim/sim-cluster.ts, the same world `npm run sim`
 * uses): five QuorumReplicas with test timing on the seeded broker, with helpers to send client
 * requests, await their replies and run until a condition holds. Each replica runs under the real
 * ReplicaRunner (persist before send, Outputs in order, validation at the boundary) and the world
 * fails the way real parts fail; here the tests script the faults themselves.
 *
 * Every run is replayable from its seed. The QuorumSafetyChecker (src/check) watches every Output.
 */
import {QuorumSafetyChecker} from '../../src/check/quorum-safety.js'
import {Rng} from '../../src/core/rng.js'
import type {QuorumRecord, QuorumSnapshot} from '../../src/quorum/records.js'
import type {QuorumReplica} from '../../src/quorum/replica.js'
import type {ClientReply, ClientRequest} from '../../src/core/client-messages.js'
import {CALM, type NetworkFaults, SimCluster} from '../../src/sim/sim-cluster.js'
import type {SimDisk} from '../../src/sim/sim-disk.js'
import {quorumFactory, type QuorumTiming} from '../../src/sim/sim-modes.js'

/** The durable part of a replica's disk, typed for quorum records. */
export interface QuorumDisk {
  readonly snapshot: QuorumSnapshot | null
  readonly records: readonly QuorumRecord[]
}

/** Test timing: small numbers so runs are short; the ratios are the real defaults'. */
export const TEST_TIMING = {
  tickMs: 50,
  heartbeatTicks: 2,
  electionTimeoutTicks: 10,
  suspectTicks: 20,
  readRoundTicks: 4,
  logRetainEntries: 50,
} as const

export class QuorumNet {
  readonly rng: Rng
  readonly ids: string[]
  readonly sim: SimCluster<QuorumReplica>
  /** Client replies by request id; `replyCounts` catches a request answered twice. */
  readonly replies = new Map<string, ClientReply>()
  readonly replyCounts = new Map<string, number>()
  /** Real-time order of client events: when each request was issued and when its reply arrived. */
  readonly issuedAt = new Map<string, number>()
  readonly repliedAt = new Map<string, number>()
  /** Which replica each request went to, and the event count at each replica's last crash. */
  readonly sentTo = new Map<string, string>()
  readonly lastCrash = new Map<string, number>()
  readonly checker: QuorumSafetyChecker
  private reqSeq = 0

  constructor(
    readonly seed: number,
    n = 5,
    faults: Partial<NetworkFaults> = {},
    timing: QuorumTiming = TEST_TIMING,
  ) {
    this.rng = new Rng(seed)
    this.ids = Array.from({length: n}, (_, i) => `n${i + 1}`)
    this.sim = new SimCluster(this.ids, quorumFactory(this.ids, timing), this.rng.fork())
    this.sim.faults = {...CALM, ...faults}
    this.checker = new QuorumSafetyChecker(() => `seed ${this.seed} tick ${this.now}`)
    this.sim.onOutput = (core, out) => {
      this.checker.persisted(out.persist as QuorumRecord[])
      this.checker.observe(core)
    }
    this.sim.onReply = (_channel, msg) => this.recordReply(msg as unknown as ClientReply)
  }

  get now(): number {
    return this.sim.now
  }

  /** The simulator's network weather (CALM unless the test says otherwise). */
  get faults(): NetworkFaults {
    return this.sim.faults
  }

  set faults(f: NetworkFaults) {
    this.sim.faults = f
  }

  /** id → replica, null while crashed. */
  get replicas(): ReadonlyMap<string, QuorumReplica | null> {
    return this.sim.cores
  }

  get disks(): ReadonlyMap<string, QuorumDisk> {
    return this.sim.disks as ReadonlyMap<string, SimDisk & QuorumDisk>
  }

  /** Peer messages delivered, and dropped by the validator (must stay 0: the core only sends valid ones). */
  get delivered(): number {
    return this.sim.stats.delivered
  }

  get invalid(): number {
    return this.sim.stats.invalid
  }

  replica(id: string): QuorumReplica {
    const r = this.sim.core(id)
    if (!r) throw new Error(`${id} is down (seed ${this.seed})`)
    return r
  }

  up(): QuorumReplica[] {
    return this.sim.upCores()
  }

  isUp(id: string): boolean {
    return this.sim.isUp(id)
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
    if (this.sim.isUp(id)) this.lastCrash.set(id, this.sim.clock())
    this.sim.crash(id)
  }

  restart(id: string): void {
    this.sim.restart(id)
  }

  /** See SimCluster.compact. */
  compact(id: string, keepRecords = 0): void {
    this.sim.compact(id, keepRecords)
  }

  partition(groups: string[][]): void {
    this.sim.partition(groups)
  }

  heal(): void {
    this.sim.heal()
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

  /** A client request goes to the replica's inbox (clients are never partitioned). */
  client(node: string, req: ClientRequest): void {
    this.issuedAt.set(req.id, this.sim.clock())
    this.sentTo.set(req.id, node)
    if (!this.sim.isUp(node)) {
      this.recordReply({
        type: 'client.reply',
        id: req.id,
        ok: false,
        error: {code: 'UNAVAILABLE', message: `${node} is down`},
      })
      return
    }
    this.sim.request(node, req)
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
    this.repliedAt.set(reply.id, this.sim.clock())
  }

  // ---- time ----------------------------------------------------------------------------------

  tick(): void {
    this.sim.tick()
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
}
