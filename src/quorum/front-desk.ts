/**
 * The client-facing side of a quorum replica: the puts and reads that clients sent to THIS replica,
 * whoever leads. A put is forwarded to the leader (or handed to this replica's own leader role) and
 * the leader's outcome is relayed back to the client; a read gets a read index from the leader and
 * then runs the seed's NR loop (read-round.ts).
 *
 * Why relay instead of letting the leader answer the client directly: exactly one replica, the one
 * the client addressed, answers each request, so its own TIMEOUT can never race a late success at
 * the client, `busy()` knows exactly what is in flight, and `node` in the reply is the replica the
 * client asked. It costs one extra hop through Redis.
 *
 * Errors: NO_QUORUM only for a write that was never handed to any leader (so it can never commit);
 * TIMEOUT whenever the write may have been appended somewhere and its fate is unknown.
 */
import type {OutputBuilder} from '../core/machine.js'
import type {Rng} from '../core/rng.js'
import type {ClientPut, ClientRead} from '../core/client-messages.js'
import {resolveReplicaCount} from '../core/replica-count.js'
import {checkKey, checkValue} from '../core/limits.js'
import {errorReply, putReply, readReply} from './client-replies.js'
import type {WriteOutcome} from './write-outcomes.js'
import {readQuorum, writeQuorum} from './majority.js'
import type {Forward, ReadIndex, ReadStateReply, ReadStates} from './messages.js'
import {decideRead, pickReadReplicas, type StateAnswer} from './read-round.js'
import type {QuorumRecord} from './records.js'
import type {Command} from './types.js'

type Out = OutputBuilder<QuorumRecord>

/** Where a request should go right now, as the replica sees it. */
export type Route =
  | {readonly kind: 'self'}
  | {readonly kind: 'leader'; readonly id: string}
  /** No live leader and fewer than a majority reachable. */
  | {readonly kind: 'no-quorum'; readonly reachable: readonly string[]}
  /** No live leader, but a majority may be reachable: one is probably being elected. */
  | {readonly kind: 'wait'}

/** What the desk needs from its replica. */
export interface DeskHost {
  readonly id: string
  readonly members: readonly string[]
  readonly rng: Rng
  readonly tickMs: number
  readonly heartbeatTicks: number
  readonly electionTimeoutTicks: number
  readonly readRoundTicks: number
  /** Reads per READ_STATES message. */
  readonly batchEntriesMax: number
  now(): number
  term(): number
  route(): Route
  /** This replica leads: take a write as its leader; the outcome comes back through onWriteOutcome. */
  acceptWrite(origin: string, fid: string, cmd: Command, timeoutTicks: number, out: Out): void
  /** This replica leads: confirm a read index; it comes back through onReadIndex. */
  requestReadIndex(origin: string, rid: string, out: Out): void
  localReadState(key: string): StateAnswer
  nextId(): string
}

interface PendingPut {
  readonly req: ClientPut
  readonly fid: string
  readonly deadline: number
  /** Who has the write: null while waiting for a leader. */
  handedTo: string | null
}

interface PendingRead {
  readonly req: ClientRead
  readonly rid: string
  readonly deadline: number
  readonly wanted: number
  readIndex: number | null
  /** When to ask (again) for a read index. */
  askIndexAt: number
  round: number
  roundStarted: number
  asked: Set<string>
  readonly answers: Map<string, StateAnswer>
}

/** Requests in flight at one replica, whatever it is asked (bounded, like every queue). */
const PENDING_MAX = 10_000

/** Owned by QuorumReplica; every method is called from its step or tick. */
export class FrontDesk {
  private readonly puts = new Map<string, PendingPut>()
  private readonly putsByReq = new Map<string, PendingPut>()
  private readonly reads = new Map<string, PendingRead>()
  private readonly readsByReq = new Set<string>()
  /** READ_STATE questions of this burst, by peer; flush() sends each peer one READ_STATES. */
  private readonly stateOutbox = new Map<string, {rid: string; round: number; key: string}[]>()

  constructor(private readonly host: DeskHost) {}

  get size(): number {
    return this.puts.size + this.reads.size
  }

  // ---- puts ----------------------------------------------------------------------------------

  put(req: ClientPut, out: Out): void {
    const inputError = checkKey(req.key) ?? (req.value !== null ? checkValue(req.value) : null)
    if (inputError) return this.reply(out, req.replyTo, errorReply(req.id, 'BAD_REQUEST', inputError))
    const w = resolveReplicaCount(req.w, this.host.members.length, writeQuorum(this.host.members.length))
    if (typeof w === 'string') return this.reply(out, req.replyTo, errorReply(req.id, 'BAD_REQUEST', `--w: ${w}`))
    if (this.putsByReq.has(req.id)) return // a duplicate of a request in flight
    if (this.refusedAsFull(req, out)) return
    const p: PendingPut = {
      req,
      fid: this.host.nextId(),
      deadline: this.host.now() + this.replyTicks(req.timeoutMs),
      handedTo: null,
    }
    this.puts.set(p.fid, p)
    this.putsByReq.set(req.id, p)
    this.routePut(p, out)
  }

  private routePut(p: PendingPut, out: Out): void {
    const route = this.host.route()
    const cmd: Command = {key: p.req.key, value: p.req.value}
    // The leader gets most of the remaining time, so its own answer (commit or TIMEOUT) arrives first.
    const timeoutTicks = Math.max(1, Math.floor((p.deadline - this.host.now()) * 0.8))
    switch (route.kind) {
      case 'self':
        p.handedTo = this.host.id
        this.host.acceptWrite(this.host.id, p.fid, cmd, timeoutTicks, out)
        return
      case 'leader': {
        p.handedTo = route.id
        const fwd: Forward = {
          type: 'FORWARD',
          from: this.host.id,
          term: this.host.term(),
          fid: p.fid,
          ...cmd,
          timeoutTicks,
        }
        out.toNode(route.id, fwd)
        return
      }
      case 'no-quorum':
        return this.finishPut(p, out, {
          ok: false,
          error: {
            code: 'NO_QUORUM',
            message: noQuorumText(this.host, route.reachable, 'the write was not written anywhere and never will be'),
          },
        })
      case 'wait':
        return
    }
  }

  /** The outcome of a write this desk handed over (from FORWARD_REPLY, or from its own leader role). */
  onWriteOutcome(fid: string, outcome: WriteOutcome, out: Out): void {
    const p = this.puts.get(fid)
    if (p) this.finishPut(p, out, outcome)
  }

  private finishPut(p: PendingPut, out: Out, outcome: WriteOutcome): void {
    this.puts.delete(p.fid)
    this.putsByReq.delete(p.req.id)
    const reply = outcome.ok
      ? putReply(p.req.id, p.req.key, this.host.id, outcome.leader, outcome.version)
      : errorReply(p.req.id, outcome.error.code, outcome.error.message)
    this.reply(out, p.req.replyTo, reply)
  }

  // ---- reads ---------------------------------------------------------------------------------

  read(req: ClientRead, out: Out): void {
    const keyError = checkKey(req.key)
    if (keyError) return this.reply(out, req.replyTo, errorReply(req.id, 'BAD_REQUEST', keyError))
    const n = this.host.members.length
    const r = resolveReplicaCount(req.r, n, readQuorum(n))
    if (typeof r === 'string') return this.reply(out, req.replyTo, errorReply(req.id, 'BAD_REQUEST', `--r: ${r}`))
    if (this.readsByReq.has(req.id)) return
    if (this.refusedAsFull(req, out)) return
    const now = this.host.now()
    const p: PendingRead = {
      req,
      rid: this.host.nextId(),
      deadline: now + this.replyTicks(req.timeoutMs),
      // Never fewer than NR = N - NW + 1, so the replicas asked always meet every write quorum.
      wanted: Math.max(r, readQuorum(n)),
      readIndex: null,
      askIndexAt: now,
      round: 0,
      roundStarted: now,
      asked: new Set(),
      answers: new Map(),
    }
    this.reads.set(p.rid, p)
    this.readsByReq.add(req.id)
    this.askReadIndex(p, out)
  }

  private askReadIndex(p: PendingRead, out: Out): void {
    const route = this.host.route()
    // Asked again after an election timeout if no answer comes (a read can be retried safely).
    p.askIndexAt = this.host.now() + this.host.electionTimeoutTicks
    switch (route.kind) {
      case 'self':
        return this.host.requestReadIndex(this.host.id, p.rid, out)
      case 'leader': {
        const msg: ReadIndex = {type: 'READ_INDEX', from: this.host.id, term: this.host.term(), rid: p.rid}
        return out.toNode(route.id, msg)
      }
      case 'no-quorum':
        return this.finishRead(
          p,
          out,
          errorReply(
            p.req.id,
            'NO_QUORUM',
            noQuorumText(this.host, route.reachable, 'a linearizable read needs a majority'),
          ),
        )
      case 'wait':
        p.askIndexAt = this.host.now() + 1
        return
    }
  }

  /** The leader's read index for `rid` (null: ask again a little later). */
  onReadIndex(rid: string, readIndex: number | null, out: Out): void {
    const p = this.reads.get(rid)
    if (!p || p.readIndex !== null) return
    if (readIndex === null) {
      p.askIndexAt = Math.min(p.askIndexAt, this.host.now() + this.host.heartbeatTicks)
      return
    }
    p.readIndex = readIndex
    this.startRound(p, out)
  }

  private startRound(p: PendingRead, out: Out): void {
    p.round++
    p.roundStarted = this.host.now()
    p.answers.clear()
    p.asked = new Set(pickReadReplicas(this.host.members, p.wanted, this.host.rng))
    for (const id of p.asked) {
      if (id === this.host.id) p.answers.set(id, this.host.localReadState(p.req.key))
      else {
        const q = {rid: p.rid, round: p.round, key: p.req.key}
        const queued = this.stateOutbox.get(id)
        if (queued) queued.push(q)
        else this.stateOutbox.set(id, [q])
      }
    }
    if (p.answers.size === p.asked.size) this.decide(p, out)
  }

  /** Once per burst (the replica's flush): one READ_STATES per peer for every round started since. */
  flush(out: Out): void {
    for (const [peer, reqs] of this.stateOutbox) {
      for (let i = 0; i < reqs.length; i += this.host.batchEntriesMax) {
        const msg: ReadStates = {
          type: 'READ_STATES',
          from: this.host.id,
          term: this.host.term(),
          reqs: reqs.slice(i, i + this.host.batchEntriesMax),
        }
        out.toNode(peer, msg)
      }
    }
    this.stateOutbox.clear()
  }

  onReadStateReply(m: ReadStateReply, out: Out): void {
    const p = this.reads.get(m.rid)
    if (!p || p.round !== m.round || !p.asked.has(m.from) || m.key !== p.req.key) return
    p.answers.set(m.from, {from: m.from, appliedIndex: m.appliedIndex, state: m.state})
    if (p.answers.size === p.asked.size) this.decide(p, out)
  }

  /** Answers when a replica that applied up to the read index answered; else the next tick starts a new round. */
  private decide(p: PendingRead, out: Out): boolean {
    const decided = decideRead(p.answers.values(), p.readIndex as number)
    if (!decided) return false
    this.finishRead(
      p,
      out,
      readReply(p.req.id, p.req.key, this.host.id, decided.state, {wanted: p.wanted, answered: p.answers.size}),
    )
    return true
  }

  private finishRead(p: PendingRead, out: Out, reply: object): void {
    this.reads.delete(p.rid)
    this.readsByReq.delete(p.req.id)
    this.reply(out, p.req.replyTo, reply)
  }

  // ---- time ----------------------------------------------------------------------------------

  /** Called on every tick: answer what ran out of time, route what waits for a leader, redo stale read rounds. */
  tick(out: Out): void {
    const now = this.host.now()
    for (const p of this.puts.values()) {
      if (now >= p.deadline) {
        const message = p.handedTo
          ? `the write was handed to leader ${p.handedTo} but no outcome arrived in time; it may or may not have committed (read the key to find out)`
          : `no leader was elected in time (a majority may be restarting or partitioned); the write was not forwarded, so nothing was written`
        this.finishPut(p, out, {ok: false, error: {code: 'TIMEOUT', message}})
      } else if (p.handedTo === null) this.routePut(p, out)
    }
    for (const p of this.reads.values()) {
      if (now >= p.deadline) {
        this.finishRead(
          p,
          out,
          errorReply(
            p.req.id,
            'TIMEOUT',
            'no replica that is up to date answered in time (an election or a partition may be in progress); retry the read',
          ),
        )
      } else if (p.readIndex === null) {
        if (now >= p.askIndexAt) this.askReadIndex(p, out)
      } else if (p.answers.size === p.asked.size || now - p.roundStarted >= this.host.readRoundTicks) {
        if (!this.decide(p, out)) this.startRound(p, out)
      }
    }
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** Every queue is bounded: past PENDING_MAX requests in flight, a new one is refused at once. */
  private refusedAsFull(req: ClientPut | ClientRead, out: Out): boolean {
    if (this.size < PENDING_MAX) return false
    const message = `replica ${this.host.id} has too many requests in flight; retry or use another --node`
    this.reply(out, req.replyTo, errorReply(req.id, 'UNAVAILABLE', message))
    return true
  }

  private reply(out: Out, replyTo: string, msg: object): void {
    out.toClient(replyTo, msg)
  }

  /** Answer a little before the client gives up, so it gets our precise error instead of its own TIMEOUT. */
  private replyTicks(timeoutMs: number): number {
    return Math.max(2, Math.floor((timeoutMs * 0.8) / this.host.tickMs))
  }
}

function noQuorumText(host: DeskHost, reachable: readonly string[], what: string): string {
  const n = host.members.length
  return (
    `replica ${host.id} reaches only ${reachable.length} of ${n} replicas (${[...reachable].join(', ')}) and no leader; ` +
    `${writeQuorum(n)} are needed, so ${what}. Start the missing replicas or heal the partition, then retry`
  )
}
