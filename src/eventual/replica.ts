/**
 * The eventual-mode replica as a deterministic state machine (seeds 000/001/004): messages and ticks
 * in, Output out. No I/O, no clock, no global randomness: the driver (src/runtime) runs it over Redis
 * and the simulator over a seeded network.
 *
 * Writes: the coordinator makes a new version that supersedes what it has seen of the key (or what
 * the client's context covers), persists it, and replicates the key's whole sibling set to every
 * member. Peers merge and ack once durable; a peer that does not ack in time gets a hint (hinted
 * hand-off, delivered by the driver when the peer is back). Reads ask r replicas, merge, and repair
 * the stale ones. Anti-entropy (bucket digests, then keys, then states) catches up everything else.
 */
import {KvError, type ErrorCode} from '../core/errors.js'
import {LIMITS, checkKey, checkValue} from '../core/limits.js'
import {OutputBuilder, type Output} from '../core/machine.js'
import type {Rng} from '../core/rng.js'
import {WHOLE_DISK, type RecoveryFacts} from '../core/recovery-facts.js'
import {ActorsSeen, newActor} from './actor.js'
import type {
  ClientPut,
  ClientRead,
  ClientRequest,
  NodeStatus,
  PutResultEventual,
  ReadResult,
} from '../core/client-messages.js'
import {majorityOf, resolveReplicaCount} from '../core/replica-count.js'
import {decodeContext, encodeContext} from './context-token.js'
import {KeyStore} from './key-store.js'
import type {
  DigestKeys,
  DigestOffer,
  DigestPull,
  EventualPeerMessage,
  Heartbeat,
  KeyState,
  ReadRequests,
  ReadResponse,
  ReadResponses,
  Replicate,
} from './messages.js'
import type {EventualRecord, EventualSnapshot} from './records.js'
import {contextOf, liveValues, mergeSiblings, sameSiblings, versionClock, writeVersion} from './siblings.js'
import type {Siblings} from './types.js'

/** Timing is in ticks; the driver ticks every `tickMs`. */
export interface EventualConfig {
  readonly id: string
  /** The cluster's initial membership (--peers); a joining replica is not in it. */
  readonly peers: readonly string[]
  readonly rng: Rng
  readonly tickMs: number
  readonly heartbeatTicks: number
  /** A member not heard from for this long is suspected down. */
  readonly suspectTicks: number
  /** How long a replication batch waits for acks before the silent peers get hints. */
  readonly ackTimeoutTicks: number
  readonly antiEntropyTicks: number
  /** Digest buckets for anti-entropy. */
  readonly buckets: number
  /**
   * Keys per replication, read or anti-entropy message (default LIMITS.batchEntriesMax) and the most
   * keys w=1 replication holds back (default REPL_HOLD_KEYS_MAX). The simulator shrinks both to 1–4
   * on half its seeds, so the code that cuts and holds batches runs at its limits under faults.
   */
  readonly batchEntriesMax?: number
  readonly replHoldKeysMax?: number
}

export const DEFAULT_EVENTUAL_TIMING = {
  tickMs: 100,
  heartbeatTicks: 3,
  suspectTicks: 15,
  ackTimeoutTicks: 20,
  antiEntropyTicks: 50,
  buckets: 64,
} as const

interface PendingWrite {
  answered: boolean
  readonly reqId: string
  readonly replyTo: string
  readonly result: PutResultEventual
  readonly need: number
  readonly have: Set<string>
  readonly deadline: number
}

interface Batch {
  readonly entries: KeyState[]
  readonly awaiting: Set<string>
  readonly deadline: number
  readonly writes: PendingWrite[]
}

interface PendingRead {
  readonly reqId: string
  readonly replyTo: string
  readonly key: string
  readonly wanted: number
  readonly asked: Set<string>
  readonly responses: Map<string, Siblings>
  readonly deadline: number
}

/** What the driver steps an eventual replica with: peer messages and client requests. */
export type EventualInput = EventualPeerMessage | ClientRequest

type Out = OutputBuilder<EventualRecord>

const BATCHES_MAX = 4096
/**
 * Replication of writes that no client waits on (w=1) holds back while the previous batch is unacked
 * (Nagle's rule), for at most this many keys and at most until the next tick: under load, batches grow
 * and messages per write fall; when idle, a write replicates at once.
 */
export const REPL_HOLD_KEYS_MAX = 256
const READS_MAX = 10_000
const AE_KEYS_MAX = 20_000
/** Incarnations remembered per replica (a few are enough: any other than the asker's is the answer). */
const INCARNATIONS_KEPT = 4

export class EventualReplica {
  readonly id: string
  private now = 0
  /** member id → tick last heard (self included, always alive). */
  private readonly members = new Map<string, number>()
  private readonly store: KeyStore
  private readonly batchMax: number
  private readonly holdMax: number
  /** The actors the store names, answering "did an earlier life of X write here?" without a scan. */
  private readonly actorsSeen: ActorsSeen
  private readonly aliveView = new Set<string>()
  private readonly outboxKeys = new Set<string>()
  private outboxWrites: PendingWrite[] = []
  private readonly batches = new Map<string, Batch>()
  /** The last replication batch sent, and the tick it went out (REPL_HOLD_KEYS_MAX). */
  private lastBatch: {readonly id: string; readonly at: number} | null = null
  private readonly reads = new Map<string, PendingRead>()
  /** Reads this burst asked of each peer; flush() sends each peer one read.reqs. */
  private readonly readOutbox = new Map<string, {id: string; key: string}[]>()
  private readonly pendingWrites = new Set<PendingWrite>()
  private seq = 0
  private readonly nonce: string
  private nextAntiEntropy: number
  private firstRound = true
  /** The actor this replica's dots carry: its id, or a new incarnation after data loss (actor.ts). */
  private actor: string
  /**
   * Set while the replica catches up, after lost data (`loss`) or after starting with nothing
   * (`empty`): it refuses to coordinate writes until one anti-entropy round has been answered by
   * every peer it asked (`awaiting` empties). A new round re-asks the peers alive at that time, so a
   * peer that died does not block it forever. An empty start also asks each peer whether it holds
   * anything an earlier life of this replica wrote (`earlierLife`); if one does, its data was wiped
   * and it takes a new actor before its first write. It keeps its plain id only when every member
   * said no (`cleared`): a peer that was down or cut off may be the one holding its old dots.
   * After a loss it ends by saying `recovered`.
   */
  private recovering: {
    readonly kind: 'loss' | 'empty'
    awaiting: Set<string> | null
    doneAt: number
    earlierLife: boolean
    readonly cleared: Set<string>
  } | null = null
  /**
   * Incarnations: this replica's (new whenever it starts on an empty or damaged disk) and those it
   * heard of each peer in heartbeats (the last few). A peer that heard an incarnation of X other than
   * X's current one knows X had an earlier life: that is how a wiped replica learns it must not
   * reuse its old dots even when none of them reached anyone's store.
   */
  private incarnation = ''
  private readonly heardIncarnations = new Map<string, string[]>()
  /** Records and log lines decided in restore(), emitted with the first Output (restore has none). */
  private boot: {records: EventualRecord[]; lines: string[]} | null = null
  private dropped = 0

  constructor(private readonly cfg: EventualConfig) {
    this.id = cfg.id
    this.actor = cfg.id
    this.store = new KeyStore(cfg.buckets)
    this.batchMax = cfg.batchEntriesMax ?? LIMITS.batchEntriesMax
    this.holdMax = cfg.replHoldKeysMax ?? REPL_HOLD_KEYS_MAX
    this.actorsSeen = new ActorsSeen(() => this.store.entries())
    this.nonce = Math.floor(cfg.rng.next() * 2 ** 32).toString(36)
    for (const p of cfg.peers) this.members.set(p, Number.NEGATIVE_INFINITY)
    this.members.set(this.id, Number.POSITIVE_INFINITY)
    this.nextAntiEntropy = cfg.heartbeatTicks * 2
  }

  /**
   * Called once by the driver before any step, with what storage recovered and what it found
   * (`facts`). After lost data the replica may hold fewer of its own dots than it issued, so reusing
   * its counters could give a new write the dot of an old one: it takes a new actor at once, and
   * catches up from its peers before it coordinates writes.
   */
  restore(
    snapshot: EventualSnapshot | null,
    records: readonly EventualRecord[],
    facts: RecoveryFacts = WHOLE_DISK,
  ): void {
    if (snapshot) {
      for (const m of snapshot.members) this.addMember(m)
      for (const [key, siblings] of snapshot.keys) this.setKey(key, mergeSiblings(siblings, []))
      if (snapshot.actor !== undefined) this.actor = snapshot.actor
    }
    let catchingUp = snapshot?.catchingUp === true
    for (const [id, incs] of snapshot?.incarnations ?? []) for (const inc of incs) this.noteIncarnation(id, inc)
    for (const r of records) {
      if (r.t === 'member') this.addMember(r.id)
      else if (r.t === 'actor') this.actor = r.actor
      else if (r.t === 'incarnation') this.noteIncarnation(r.id, r.inc)
      else if (r.t === 'catchup') catchingUp = !r.done
      else this.setKey(r.key, mergeSiblings(this.store.get(r.key), r.siblings))
    }
    const fresh = !snapshot && records.length === 0
    const catchUp = {awaiting: null, doneAt: Number.POSITIVE_INFINITY, earlierLife: false, cleared: new Set<string>()}
    this.incarnation = this.heardIncarnations.get(this.id)?.at(-1) ?? ''
    const bootRecords: EventualRecord[] = []
    if (fresh || facts.loss || this.incarnation === '') {
      this.incarnation = this.cfg.rng.nextUint32().toString(36)
      this.noteIncarnation(this.id, this.incarnation)
      bootRecords.push({t: 'incarnation', id: this.id, inc: this.incarnation})
    }
    if ((fresh || catchingUp) && !facts.loss && this.members.size > 1) {
      this.recovering = {kind: 'empty', ...catchUp}
      // First of all records, so a crash during the catch-up resumes it: a torn first append keeps a
      // prefix, and a prefix without this record would look like a replica that holds data (sim seed
      // 6213 kept only the incarnation record, restarted "whole" with its plain id and reused a dot).
      if (!catchingUp) bootRecords.unshift({t: 'catchup', done: false})
    }
    const lines =
      this.recovering && !facts.loss
        ? [
            `${catchingUp ? 'was still catching up when it stopped' : 'started with an empty data directory'}: refusing to coordinate writes until every live peer has answered an anti-entropy round`,
          ]
        : []
    if (bootRecords.length || lines.length) this.boot = {records: bootRecords, lines}
    if (facts.loss) {
      this.actor = newActor(this.id, this.cfg.rng)
      this.recovering = {kind: 'loss', ...catchUp}
      this.boot = {
        records: [...(this.boot?.records ?? []), {t: 'actor', actor: this.actor}],
        lines: [
          `DATA LOSS in ${facts.loss.file}: ${facts.loss.what}. Recovering: new writes use the new actor ${this.actor} ` +
            `(no dot of the lost data can be reused), and this replica refuses to coordinate writes until it has caught up from its peers.`,
        ],
      }
    }
  }

  /** The state a snapshot must hold; the driver writes it and then compacts the log. */
  snapshot(): EventualSnapshot {
    const snap: EventualSnapshot = {
      mode: 'eventual',
      id: this.id,
      members: [...this.members.keys()].sort(),
      keys: [...this.store.entries()],
    }
    return {
      ...snap,
      ...(this.actor !== this.id ? {actor: this.actor} : {}),
      ...(this.recovering?.kind === 'empty' ? {catchingUp: true as const} : {}),
      incarnations: [...this.heardIncarnations.entries()],
    }
  }

  /** The actor this replica's new dots carry (its id unless it lost data once). */
  get currentActor(): string {
    return this.actor
  }

  /** True while it catches up after lost data (status shows it; writes are refused). */
  get isRecovering(): boolean {
    return this.recovering !== null
  }

  /** A new Output, carrying first whatever restore() decided to persist and say. */
  private begin(): Out {
    const out: Out = new OutputBuilder()
    if (this.boot) {
      out.persist.push(...this.boot.records)
      for (const line of this.boot.lines) out.log('warn', line)
      this.boot = null
    }
    return out
  }

  isAlive(id: string): boolean {
    const heard = this.members.get(id)
    return heard !== undefined && this.now - heard <= this.cfg.suspectTicks
  }

  memberIds(): string[] {
    return [...this.members.keys()]
  }

  /** Key state, for tests and the simulator's checkers. */
  stateOf(key: string): Siblings {
    return this.store.get(key)
  }

  keys(): string[] {
    return [...this.store.entries()].map(([k]) => k)
  }

  step(msg: EventualInput): Output<EventualRecord> {
    const out: Out = this.begin()
    if ('from' in msg) {
      if (msg.from === this.id) return out.done()
      if (this.members.has(msg.from)) this.members.set(msg.from, this.now)
    }
    switch (msg.type) {
      case 'hb':
        this.onHeartbeat(msg, out)
        break
      case 'repl':
        this.onReplicate(msg, out)
        break
      case 'repl.ack':
        this.onAck(msg.from, msg.batch, out)
        break
      case 'read.req':
        out.toNode(msg.from, {
          type: 'read.resp',
          from: this.id,
          id: msg.id,
          key: msg.key,
          siblings: this.store.get(msg.key),
        })
        break
      case 'read.resp':
        this.onReadResponse(msg, out)
        break
      case 'read.reqs':
        this.onReadRequests(msg, out)
        break
      case 'read.resps':
        for (const r of msg.resps) this.onReadResponse({from: msg.from, ...r}, out)
        break
      case 'ae.digest':
        this.onDigest(msg, out)
        break
      case 'ae.keys':
        this.onDigestKeys(msg, out)
        break
      case 'ae.pull':
        this.onPull(msg, out)
        break
      case 'client.put':
        this.onClientPut(msg, out)
        break
      case 'client.read':
        this.onClientRead(msg, out)
        break
      case 'client.status':
        out.toClient(msg.replyTo, {type: 'client.reply', id: msg.id, ok: true, result: this.status()})
        break
    }
    this.updateLiveness(out)
    return out.done()
  }

  tick(): Output<EventualRecord> {
    const out: Out = this.begin()
    this.now++
    this.finishRecovery(out)
    if (this.now % this.cfg.heartbeatTicks === 0) {
      const hb: Heartbeat = {
        type: 'hb',
        from: this.id,
        mode: 'eventual',
        members: this.memberIds().slice(0, LIMITS.membersMax),
        inc: this.incarnation,
      }
      out.toTopic('members', hb)
    }
    this.updateLiveness(out)
    this.expireBatches(out)
    this.expireWrites(out)
    this.expireReads(out)
    if (this.now >= this.nextAntiEntropy) this.startAntiEntropy(out)
    return out.done()
  }

  /** Emits the replication that steps queued; the driver calls it once per burst of steps (batching). */
  flush(): Output<EventualRecord> {
    const out: Out = new OutputBuilder()
    for (const [peer, reqs] of this.readOutbox) {
      for (let i = 0; i < reqs.length; i += this.batchMax)
        out.toNode(peer, {
          type: 'read.reqs',
          from: this.id,
          reqs: reqs.slice(i, i + this.batchMax),
        } satisfies ReadRequests)
    }
    this.readOutbox.clear()
    if (this.outboxKeys.size === 0) return out.done()
    if (this.outboxWrites.length === 0 && this.outboxKeys.size < this.holdMax && this.replicating()) return out.done()
    const entries = [...this.outboxKeys].map((key) => ({key, siblings: this.store.get(key)}))
    const writes = this.outboxWrites
    this.outboxKeys.clear()
    this.outboxWrites = []
    const peers = this.memberIds().filter((m) => m !== this.id)
    for (const chunk of chunkEntries(entries, this.batchMax)) {
      const batchId = this.nextId()
      const chunkKeys = new Set(chunk.map((e) => e.key))
      const batch: Batch = {
        entries: chunk,
        awaiting: new Set(),
        deadline: this.now + this.cfg.ackTimeoutTicks,
        writes: writes.filter((w) => chunkKeys.has(w.result.key)),
      }
      for (const p of peers) {
        if (this.isAlive(p)) batch.awaiting.add(p)
        else this.hint(p, chunk, out)
      }
      if (batch.awaiting.size === 0) continue
      if (this.batches.size >= BATCHES_MAX) this.expireOldestBatch(out)
      this.batches.set(batchId, batch)
      this.lastBatch = {id: batchId, at: this.now}
      out.toTopic('replication', {type: 'repl', from: this.id, batch: batchId, entries: chunk} satisfies Replicate)
    }
    return out.done()
  }

  /** A batch sent in this tick still waits for acks (flush holds w=1 replication behind it). */
  private replicating(): boolean {
    const last = this.lastBatch
    return last !== null && last.at === this.now && this.batches.has(last.id)
  }

  status(): NodeStatus {
    return {
      id: this.id,
      alive: true,
      role: 'replica',
      keys: this.store.liveKeys,
      mode: 'eventual',
      peersAlive: this.memberIds()
        .filter((m) => this.isAlive(m))
        .sort(),
      ...(this.recovering ? {recovering: true} : {}),
    }
  }

  busy(): boolean {
    return this.reads.size > 0 || this.pendingWrites.size > 0
  }

  /** Messages dropped by the core itself (e.g. anti-entropy with a different bucket count). */
  get droppedCount(): number {
    return this.dropped
  }

  // ---- membership ----------------------------------------------------------------------------

  private addMember(id: string): boolean {
    if (this.members.has(id) || this.members.size >= LIMITS.membersMax) return false
    this.members.set(id, Number.NEGATIVE_INFINITY)
    return true
  }

  private onHeartbeat(hb: Heartbeat, out: Out): void {
    if (hb.mode !== 'eventual') {
      this.dropped++
      return
    }
    if (this.addMember(hb.from)) {
      this.members.set(hb.from, this.now)
      out.persist.push({t: 'member', id: hb.from})
      out.log('info', `replica ${hb.from} joined; clocks will grow an entry for it`)
    }
    if (hb.inc !== undefined && this.heardIncarnations.get(hb.from)?.at(-1) !== hb.inc) {
      this.noteIncarnation(hb.from, hb.inc)
      out.persist.push({t: 'incarnation', id: hb.from, inc: hb.inc})
    }
  }

  /** Remembers an incarnation of `id` (the last few, latest last). */
  private noteIncarnation(id: string, inc: string): void {
    const incs = (this.heardIncarnations.get(id) ?? []).filter((i) => i !== inc)
    incs.push(inc)
    this.heardIncarnations.set(id, incs.slice(-INCARNATIONS_KEPT))
  }

  private updateLiveness(out: Out): void {
    for (const id of this.members.keys()) {
      if (id === this.id) continue
      const alive = this.isAlive(id)
      if (alive === this.aliveView.has(id)) continue
      if (alive) {
        this.aliveView.add(id)
        // Whoever comes back gets an anti-entropy round at once instead of waiting for the timer.
        this.sendDigest(id, out)
      } else this.aliveView.delete(id)
      out.effects.push({kind: 'peer', id, alive})
    }
  }

  // ---- writes --------------------------------------------------------------------------------

  private onClientPut(req: ClientPut, out: Out): void {
    const fail = (code: ErrorCode, message: string) => this.replyError(req, code, message, out)
    const inputError = checkKey(req.key) ?? (req.value !== null ? checkValue(req.value) : null)
    if (inputError) return fail('BAD_REQUEST', inputError)
    let context
    if (req.context !== undefined) {
      const decoded = decodeContext(req.context, req.key)
      if (!decoded.ok && decoded.reason === 'other-key') {
        return fail(
          'BAD_REQUEST',
          `the --context token was read from another key, not ${JSON.stringify(req.key)}; read this key and pass its context`,
        )
      }
      if (!decoded.ok)
        return fail('BAD_REQUEST', 'the --context token is not one this cluster issued; pass the context from a read')
      context = decoded.clock
    }
    const need = resolveReplicaCount(req.w, this.members.size, 1)
    if (typeof need === 'string') return fail('BAD_REQUEST', `--w: ${need}`)
    const alive = this.memberIds().filter((m) => this.isAlive(m))
    if (need > alive.length) {
      return fail(
        'UNAVAILABLE',
        `only ${alive.length} of ${this.members.size} replicas are alive, so --w ${need} cannot be met; nothing was written`,
      )
    }
    if (this.recovering) {
      const why = this.recovering.kind === 'empty' ? 'started empty' : 'lost data on its disk'
      return fail(
        'UNAVAILABLE',
        `replica ${this.id} ${why} and is still catching up from its peers; retry in a moment or use another --node`,
      )
    }
    const local = this.store.get(req.key)
    const {siblings, version} = writeVersion(local, this.actor, req.value, context)
    if (siblings.length > LIMITS.siblingsPerKeyMax) {
      return fail(
        'BAD_REQUEST',
        `key would hold ${siblings.length} siblings (limit ${LIMITS.siblingsPerKeyMax}); read it and write with --context to resolve the conflict`,
      )
    }
    this.setKey(req.key, siblings)
    out.persist.push({t: 'key', key: req.key, siblings})
    this.outboxKeys.add(req.key)
    const clock = versionClock(version)
    const result: PutResultEventual = {
      key: req.key,
      node: this.id,
      clock,
      context: encodeContext(req.key, clock),
      dot: {node: version.dot.node, counter: version.dot.counter},
    }
    if (need === 1) {
      out.toClient(req.replyTo, {type: 'client.reply', id: req.id, ok: true, result: {...result, replicas: 1}})
      return
    }
    const pending: PendingWrite = {
      answered: false,
      reqId: req.id,
      replyTo: req.replyTo,
      result,
      need,
      have: new Set([this.id]),
      deadline: this.now + this.replyTicks(req.timeoutMs),
    }
    this.outboxWrites.push(pending)
    this.pendingWrites.add(pending)
  }

  private onReplicate(msg: Replicate, out: Out): void {
    for (const entry of msg.entries) this.mergeKey(entry.key, entry.siblings, out)
    if (msg.batch !== undefined) out.toNode(msg.from, {type: 'repl.ack', from: this.id, batch: msg.batch})
  }

  /** Every write to the store goes through here, so the actors it names stay known. */
  private setKey(key: string, siblings: Siblings): void {
    this.store.set(key, siblings)
    this.actorsSeen.note(siblings)
  }

  /** Merge a remote state into ours; persist and return true when ours changed. */
  private mergeKey(key: string, remote: Siblings, out: Out): boolean {
    const local = this.store.get(key)
    const merged = mergeSiblings(local, remote)
    if (this.store.has(key) && sameSiblings(merged, local)) return false
    this.setKey(key, merged)
    out.persist.push({t: 'key', key, siblings: merged})
    return true
  }

  private onAck(from: string, batchId: string, out: Out): void {
    const batch = this.batches.get(batchId)
    if (!batch || !batch.awaiting.delete(from)) return
    for (const w of batch.writes) {
      if (w.answered) continue
      w.have.add(from)
      if (w.have.size >= w.need) {
        w.answered = true
        this.pendingWrites.delete(w)
        out.toClient(w.replyTo, {
          type: 'client.reply',
          id: w.reqId,
          ok: true,
          result: {...w.result, replicas: w.have.size},
        })
      }
    }
    if (batch.awaiting.size === 0) this.batches.delete(batchId)
  }

  private hint(peer: string, entries: KeyState[], out: Out): void {
    out.effects.push({kind: 'hint', peer, msg: {type: 'repl', from: this.id, entries} satisfies Replicate})
  }

  private expireBatches(out: Out): void {
    for (const [id, batch] of this.batches) {
      if (batch.deadline > this.now) break // insertion order is deadline order
      for (const p of batch.awaiting) this.hint(p, batch.entries, out)
      this.batches.delete(id)
    }
  }

  private expireOldestBatch(out: Out): void {
    const first = this.batches.entries().next()
    if (first.done) return
    const [id, batch] = first.value
    for (const p of batch.awaiting) this.hint(p, batch.entries, out)
    this.batches.delete(id)
  }

  /** Writes still waiting for --w acks are answered with TIMEOUT at their deadline. */
  private expireWrites(out: Out): void {
    for (const w of this.pendingWrites) {
      if (w.deadline > this.now) continue
      this.pendingWrites.delete(w)
      w.answered = true
      const holders = [...w.have].sort().join(', ')
      out.toClient(w.replyTo, {
        type: 'client.reply',
        id: w.reqId,
        ok: false,
        error: {
          code: 'TIMEOUT',
          message: `the write is durable on ${w.have.size} replica(s) (${holders}) but --w ${w.need} was not reached in time; it keeps propagating to the others`,
        },
      })
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  private onClientRead(req: ClientRead, out: Out): void {
    const keyError = checkKey(req.key)
    if (keyError) return this.replyError(req, 'BAD_REQUEST', keyError, out)
    const wanted = resolveReplicaCount(req.r, this.members.size, majorityOf(this.members.size))
    if (typeof wanted === 'string') return this.replyError(req, 'BAD_REQUEST', `--r: ${wanted}`, out)
    const peers = this.cfg.rng
      .shuffle(this.memberIds().filter((m) => m !== this.id && this.isAlive(m)))
      .slice(0, wanted - 1)
    const read: PendingRead = {
      reqId: req.id,
      replyTo: req.replyTo,
      key: req.key,
      wanted,
      asked: new Set(peers),
      responses: new Map(),
      deadline: this.now + this.replyTicks(req.timeoutMs),
    }
    if (peers.length === 0) return this.finishRead(read, out)
    if (this.reads.size >= READS_MAX)
      return this.replyError(req, 'UNAVAILABLE', `replica ${this.id} has too many reads in flight; retry`, out)
    const id = this.nextId()
    this.reads.set(id, read)
    for (const p of peers) {
      const queued = this.readOutbox.get(p)
      if (queued) queued.push({id, key: req.key})
      else this.readOutbox.set(p, [{id, key: req.key}])
    }
  }

  /** A coordinator's reads of one burst: every state in as few read.resps as the batch limits allow. */
  private onReadRequests(msg: ReadRequests, out: Out): void {
    const states = msg.reqs.map((r) => ({key: r.key, siblings: this.store.get(r.key)}))
    let at = 0
    for (const chunk of chunkEntries(states, this.batchMax)) {
      const resps = chunk.map((s, i) => ({id: (msg.reqs[at + i] as {id: string}).id, key: s.key, siblings: s.siblings}))
      at += chunk.length
      out.toNode(msg.from, {type: 'read.resps', from: this.id, resps} satisfies ReadResponses)
    }
  }

  private onReadResponse(msg: Pick<ReadResponse, 'from' | 'id' | 'key' | 'siblings'>, out: Out): void {
    const read = this.reads.get(msg.id)
    if (!read || !read.asked.has(msg.from) || msg.key !== read.key) return
    read.responses.set(msg.from, msg.siblings)
    if (read.responses.size + 1 >= read.wanted) {
      this.reads.delete(msg.id)
      this.finishRead(read, out)
    }
  }

  private expireReads(out: Out): void {
    for (const [id, read] of this.reads) {
      if (read.deadline > this.now) continue
      this.reads.delete(id)
      this.finishRead(read, out)
    }
  }

  /** Merge what answered, repair whoever was stale (ourselves included), answer the client. */
  private finishRead(read: PendingRead, out: Out): void {
    let merged = this.store.get(read.key)
    for (const s of read.responses.values()) merged = mergeSiblings(merged, s)
    if (merged.length > 0) this.mergeKey(read.key, merged, out)
    for (const [peer, s] of read.responses) {
      if (!sameSiblings(s, merged))
        out.toNode(peer, {type: 'repl', from: this.id, entries: [{key: read.key, siblings: merged}]})
    }
    const values = liveValues(merged).map((v) => ({value: v.value as string, clock: versionClock(v)}))
    const result: ReadResult = {
      key: read.key,
      node: this.id,
      found: values.length > 0,
      conflict: values.length > 1,
      values,
      context: encodeContext(read.key, contextOf(merged)),
      replicas: {wanted: read.wanted, answered: read.responses.size + 1},
    }
    out.toClient(read.replyTo, {type: 'client.reply', id: read.reqId, ok: true, result})
  }

  // ---- anti-entropy --------------------------------------------------------------------------

  private startAntiEntropy(out: Out): void {
    const alive = this.memberIds().filter((m) => m !== this.id && this.isAlive(m))
    if (alive.length === 0) {
      this.nextAntiEntropy = this.now + this.cfg.heartbeatTicks
      return
    }
    // The first round after start talks to every live peer: that is how a returning replica catches up.
    const targets = this.firstRound || this.recovering ? alive : [this.cfg.rng.pick(alive)]
    this.firstRound = false
    if (this.recovering) this.recovering.awaiting = new Set(targets)
    for (const p of targets) this.sendDigest(p, out)
    // While catching up, a round whose peers did not all answer is retried soon, not in 5 s.
    this.nextAntiEntropy =
      this.now +
      (this.recovering ? Math.min(this.cfg.antiEntropyTicks, this.cfg.heartbeatTicks * 4) : this.cfg.antiEntropyTicks)
  }

  private sendDigest(peer: string, out: Out): void {
    // While catching up after an empty start every offer asks about an earlier life, so every answer counts.
    const ask = this.recovering?.kind === 'empty' ? {askEarlierLife: this.incarnation} : {}
    const offer: DigestOffer = {
      type: 'ae.digest',
      from: this.id,
      id: this.nextId(),
      buckets: [...this.store.digest()],
      ...ask,
    }
    out.toNode(peer, offer)
  }

  private onDigest(msg: DigestOffer, out: Out): void {
    const mine = this.store.digest()
    if (msg.buckets.length !== mine.length) {
      this.dropped++
      return
    }
    const differing: number[] = []
    mine.forEach((d, i) => {
      if (d !== msg.buckets[i]) differing.push(i)
    })
    // An empty answer tells the initiator it is in sync (it ends a fresh replica's catch-up).
    const keys = differing.length ? this.store.keysIn(new Set(differing), AE_KEYS_MAX) : []
    const answer: DigestKeys = {type: 'ae.keys', from: this.id, id: msg.id, buckets: differing, keys}
    // One scan of the store, asked only by a replica that started empty (once per peer per round).
    if (msg.askEarlierLife === undefined) return out.toNode(msg.from, answer)
    const asked = msg.askEarlierLife
    const otherLife = (this.heardIncarnations.get(msg.from) ?? []).some((inc) => inc !== asked)
    out.toNode(msg.from, {...answer, earlierLife: otherLife || this.actorsSeen.mentionsActorOf(msg.from)})
  }

  private onDigestKeys(msg: DigestKeys, out: Out): void {
    const theirs = new Map(msg.keys.map(([k, h]) => [k, h] as const))
    const buckets = new Set(msg.buckets.filter((b) => b < this.cfg.buckets))
    const pull: string[] = []
    const push: KeyState[] = []
    for (const [key, hash] of theirs) {
      if (this.store.hashOf(key) !== hash) pull.push(key)
    }
    for (const [key, hash] of this.store.keysIn(buckets, AE_KEYS_MAX)) {
      if (theirs.get(key) !== hash) push.push({key, siblings: this.store.get(key)})
    }
    for (const chunk of chunkEntries(push, this.batchMax))
      out.toNode(msg.from, {type: 'repl', from: this.id, entries: chunk} satisfies Replicate)
    for (let i = 0; i < pull.length; i += 1000) {
      out.toNode(msg.from, {
        type: 'ae.pull',
        from: this.id,
        id: msg.id,
        keys: pull.slice(i, i + 1000),
      } satisfies DigestPull)
    }
    const r = this.recovering
    if (r && msg.earlierLife === true) r.earlierLife = true
    if (r && msg.earlierLife === false) r.cleared.add(msg.from)
    // Caught up once every asked peer (or, after an empty start, every member) answered and the
    // pulled states have had a moment to arrive.
    const askedAll = r?.awaiting?.delete(msg.from) === true && r.awaiting.size === 0
    if (r && (askedAll || (r.kind === 'empty' && this.everyMemberCleared(r))))
      r.doneAt = this.now + (pull.length ? 5 : 0)
  }

  private everyMemberCleared(r: {readonly cleared: ReadonlySet<string>}): boolean {
    return this.memberIds().every((m) => m === this.id || r.cleared.has(m))
  }

  /** Ends the catch-up once every asked peer answered and pulled states had time to land. */
  private finishRecovery(out: Out): void {
    const r = this.recovering
    if (!r || this.now < r.doneAt) return
    const askedAnswered = r.awaiting !== null && r.awaiting.size === 0
    if (r.kind === 'loss' && !askedAnswered) return
    // An empty start that has not heard "no" from every member gives every running peer time to be
    // heard before it judges who it is (and then takes a new actor).
    if (r.kind === 'empty' && !this.everyMemberCleared(r) && (!askedAnswered || this.now < 2 * this.cfg.suspectTicks))
      return
    this.recovering = null
    if (r.kind === 'empty') {
      // The new actor (if any) first: a torn append keeps a prefix, never "done" without the actor.
      const unheard = this.memberIds().filter((m) => m !== this.id && !r.cleared.has(m))
      this.checkEarlierLife(r.earlierLife, unheard, out)
      out.persist.push({t: 'catchup', done: true})
      return
    }
    out.log('warn', `caught up from its peers after lost data; coordinating writes again as actor ${this.actor}`)
    out.effects.push({kind: 'recovered'})
  }

  /**
   * A replica that started with an empty disk may be a new one or one whose data directory was
   * wiped. If a peer said it holds something an earlier life of this id wrote, or anything it now
   * holds says so, it had an earlier life whose dots it no longer knows: take a new actor. So it
   * does when a member could not answer (`unheard`): that member may hold dots of an earlier life.
   */
  private checkEarlierLife(peerSaidSo: boolean, unheard: readonly string[], out: Out): void {
    if (this.actor !== this.id) return
    const saidSo = peerSaidSo || this.actorsSeen.mentionsActorOf(this.id)
    if (!saidSo && unheard.length === 0) return
    this.actor = newActor(this.id, this.cfg.rng)
    out.persist.push({t: 'actor', actor: this.actor})
    const why = saidSo
      ? `its peers hold versions written by ${this.id} before: its data was lost`
      : `${unheard.join(', ')} did not answer, so it cannot tell a new replica from a wiped one`
    out.log('warn', `started with an empty data directory, but ${why}; it writes as the new actor ${this.actor}`)
  }

  private onPull(msg: DigestPull, out: Out): void {
    const entries = msg.keys.filter((k) => this.store.has(k)).map((key) => ({key, siblings: this.store.get(key)}))
    for (const chunk of chunkEntries(entries, this.batchMax))
      out.toNode(msg.from, {type: 'repl', from: this.id, entries: chunk} satisfies Replicate)
  }

  // ---- helpers -------------------------------------------------------------------------------

  private replyError(req: ClientRequest, code: ErrorCode, message: string, out: Out): void {
    out.toClient(req.replyTo, {type: 'client.reply', id: req.id, ok: false, error: new KvError(code, message).toJSON()})
  }

  /** Answer a little before the client gives up, so it gets our precise error instead of its own TIMEOUT. */
  private replyTicks(timeoutMs: number): number {
    return Math.max(1, Math.floor((timeoutMs * 0.8) / this.cfg.tickMs))
  }

  private nextId(): string {
    return `${this.id}.${this.nonce}.${(this.seq++).toString(36)}`
  }
}

/** BAD_REQUEST text for a key, or null when it is fine. */
function entryBytes(e: KeyState): number {
  let n = e.key.length + 16
  for (const v of e.siblings) n += (v.value?.length ?? 0) + 64 + Object.keys(v.ctx).length * 16
  return n
}

/** Cut entries into messages under the batch limits; a single large entry still gets its own message. */
export function chunkEntries(entries: KeyState[], maxEntries: number = LIMITS.batchEntriesMax): KeyState[][] {
  const chunks: KeyState[][] = []
  let current: KeyState[] = []
  let bytes = 0
  for (const e of entries) {
    const size = entryBytes(e)
    if (current.length > 0 && (bytes + size > LIMITS.batchBytesMax || current.length >= maxEntries)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(e)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}
