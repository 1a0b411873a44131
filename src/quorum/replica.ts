/**
 * The quorum-mode replica as a deterministic state machine (seed 002, made safe the way Raft is):
 * messages and ticks in, Output out. No I/O, no clock, no global randomness; the driver runs it over
 * Redis and the unit tests over a seeded in-memory network.
 *
 * Election (Bully with terms): a replica that stops hearing its leader runs for the next term and
 * broadcasts ELECTION. Replicas that outrank it and could win answer OK and run themselves; the rest
 * vote, once per term, for a candidate whose log is at least as up to date as theirs. A candidate with
 * a majority of votes broadcasts COORDINATOR, appends a no-op and serves once that commits. Terms and
 * votes are persisted before any answer goes out. A leader that has not heard a majority for an
 * election timeout steps down; a follower that hears a live leader ignores ELECTIONs for a later term
 * (so a returning replica cannot depose a healthy leader by itself).
 *
 * Replication: the leader appends a write at (term, index), sends APPENDs, and commits an entry of
 * its own term once a majority acknowledged it durably; it then broadcasts COMMIT, and every replica
 * applies committed entries strictly in index order. Followers too far behind get a snapshot.
 *
 * Client requests are handled by the FrontDesk (front-desk.ts); reads follow read-round.ts.
 */
import {invariant} from '../core/invariant.js'
import {WHOLE_DISK, type RecoveryFacts} from '../core/recovery-facts.js'
import {emptyClusterFloor, type LearnerState} from './learner.js'
import {OutputBuilder, type Output} from '../core/machine.js'
import {LIMITS} from '../core/limits.js'
import type {ClientRequest, NodeStatus} from '../core/client-messages.js'
import type {ReplicaCore} from '../core/replica-core.js'
import {checkKey} from '../core/limits.js'
import {compareIds} from './bully-rank.js'
import type {QuorumConfig} from './config.js'
import {answerElection} from './election-rules.js'
import {FailureDetector} from './failure-detector.js'
import {appendFromLeader} from './follower-append.js'
import {FrontDesk, type Route} from './front-desk.js'
import {KeyValueState} from './kv-state.js'
import {LeaderState, type PeerProgress} from './leader-state.js'
import {hasMajority, majorityContactTick, majorityMatchIndex, writeQuorum} from './majority.js'
import type {
  Append,
  AppendAck,
  Commit,
  Coordinator,
  Election,
  ElectionOk,
  State,
  Forward,
  ForwardReply,
  InstallSnapshot,
  InstallSnapshotAck,
  QuorumPeerMessage,
  ReadIndexReply,
  ReadStateReply,
  ReadStates,
  ReadStatesReply,
  Vote,
} from './messages.js'
import type {StateAnswer} from './read-round.js'
import {recover} from './recovery.js'
import type {QuorumRecord, QuorumSnapshot} from './records.js'
import {ReplicatedLog} from './replicated-log.js'
import {chunkState, IncomingTransfer} from './snapshot-transfer.js'
import {
  busyOutcome,
  heldDroppedOutcome,
  leaderNoQuorum,
  lostLeadershipOutcome,
  notCommittedInTime,
  notLeaderOutcome,
  notReadyInTime,
  outcomeOf,
  type WriteOutcome,
} from './write-outcomes.js'
import type {Command, KeyVersion, LogEntry, QuorumRole} from './types.js'

type Out = OutputBuilder<QuorumRecord>

/** What the driver hands to step(): a validated peer message or a client request. */
export type QuorumInput = QuorumPeerMessage | ClientRequest

/** Appended writes a leader keeps waiting for their commit; beyond this it refuses new ones. */
const APPENDED_WRITES_MAX = 10_000
/** Requests a new leader holds until its no-op commits. */
const HELD_REQUESTS_MAX = 10_000

export class QuorumReplica implements ReplicaCore<QuorumRecord, QuorumSnapshot, QuorumInput> {
  readonly id: string
  private readonly members: readonly string[]
  private readonly memberSet: ReadonlySet<string>
  private readonly others: readonly string[]
  /** How many members outrank this replica in the Bully order (0 for the highest id). */
  private readonly outrankedBy: number
  private now = 0

  // Durable (hard) state: every change is persisted before anything that depends on it is sent.
  private term = 0
  private vote: string | null = null
  private log = new ReplicatedLog()
  private commitIndex = 0

  // Derived from the durable state.
  private kv = new KeyValueState()
  private appliedIndex = 0

  // Volatile.
  private role: QuorumRole = 'follower'
  private leaderId: string | null = null
  private lastLeaderContact = Number.NEGATIVE_INFINITY
  private electionDeadline: number
  private readonly votes = new Set<string>()
  /** Follower: the last index known to match the current leader's log (COMMIT may commit up to it). */
  private matchedIndex = 0
  private incoming: IncomingTransfer | null = null
  private lead: LeaderState | null = null
  private commitBroadcast = 0
  private readonly detector: FailureDetector
  private readonly desk: FrontDesk
  private aliveView = new Set<string>()
  private readonly nonce: string
  private seq = 0
  /** Non-null while this replica may not vote (it started empty or lost data): see learner.ts. */
  private learner: LearnerState | null = null
  /** Log lines and records decided in restore(), emitted with the first Output (restore has none). */
  private bootLines: string[] = []
  private bootRecords: QuorumRecord[] = []

  constructor(private readonly cfg: QuorumConfig) {
    invariant(cfg.peers.includes(cfg.id), `--peers must include the replica's own id ${cfg.id}`)
    invariant(new Set(cfg.peers).size === cfg.peers.length, '--peers lists an id twice')
    invariant(cfg.peers.length <= LIMITS.membersMax, `a cluster has at most ${LIMITS.membersMax} members`)
    invariant(
      cfg.heartbeatTicks >= 1 && cfg.electionTimeoutTicks > cfg.heartbeatTicks,
      'the election timeout must exceed the heartbeat interval',
    )
    this.id = cfg.id
    this.members = [...cfg.peers].sort(compareIds)
    this.memberSet = new Set(this.members)
    this.others = this.members.filter((m) => m !== this.id)
    this.outrankedBy = this.members.length - 1 - this.members.indexOf(this.id)
    this.nonce = cfg.rng.nextUint32().toString(36)
    this.detector = new FailureDetector(this.id, this.members, cfg.suspectTicks, 0)
    this.electionDeadline = this.randomElectionTimeout()
    this.desk = new FrontDesk({
      id: this.id,
      members: this.members,
      rng: cfg.rng,
      tickMs: cfg.tickMs,
      heartbeatTicks: cfg.heartbeatTicks,
      electionTimeoutTicks: cfg.electionTimeoutTicks,
      readRoundTicks: cfg.readRoundTicks,
      batchEntriesMax: cfg.batchEntriesMax ?? LIMITS.batchEntriesMax,
      now: () => this.now,
      term: () => this.term,
      route: () => this.route(),
      acceptWrite: (origin, fid, cmd, timeoutTicks, out) => this.acceptWrite(origin, fid, cmd, timeoutTicks, out),
      requestReadIndex: (origin, rid, out) => this.requestReadIndex(origin, rid, out),
      localReadState: (key) => this.localReadState(key),
      nextId: () => `${this.id}.${this.nonce}.${(this.seq++).toString(36)}`,
    })
  }

  // ---- ReplicaCore ---------------------------------------------------------------------------

  /**
   * Called once by the driver before any step, with what storage recovered and what the disk said
   * about itself. An empty or damaged disk makes this replica a learner (learner.ts) until it is
   * safe for it to vote again.
   */
  restore(snapshot: QuorumSnapshot | null, records: readonly QuorumRecord[], facts: RecoveryFacts = WHOLE_DISK): void {
    const r = recover(snapshot, records, facts.loss !== null)
    if (facts.loss) {
      this.learner = {why: `lost data: ${facts.loss.what}`, lostData: true, heard: new Map(), caughtUpTo: 0}
      this.bootLines.push(
        `DATA LOSS in ${facts.loss.file}: ${facts.loss.what}. It may have voted or acked entries it no longer holds, so it ` +
          `rejoins as a non-voting learner: it will not vote or stand for election until it has caught up with a leader elected without it.`,
      )
    } else if (facts.empty) {
      this.learner = {why: 'started with an empty data directory', lostData: false, heard: new Map(), caughtUpTo: 0}
      this.bootLines.push(
        'started with an empty data directory: not voting until it has heard every member with an empty log (a new cluster) ' +
          'or caught up with a leader (a replica whose data was wiped)',
      )
    } else if (r.learning) {
      this.learner = {why: 'was still a learner when it stopped', lostData: false, heard: new Map(), caughtUpTo: 0}
      this.bootLines.push('was still a learner when it stopped: not voting until it has caught up with a leader')
    }
    if (this.learner && !r.learning) this.bootRecords.push({t: 'learner', done: false})
    this.term = r.term
    this.vote = r.vote
    this.log = r.log
    this.kv = r.kv
    this.commitIndex = r.commitIndex
    this.appliedIndex = r.log.snapshotIndex
    this.commitBroadcast = r.commitIndex
    this.applyCommitted(new OutputBuilder())
  }

  /**
   * The state a snapshot must hold; the driver writes it and then compacts the record log. It
   * includes the unapplied log tail, the commit index, the term and the vote, so nothing the
   * compacted records held is lost.
   */
  snapshot(): QuorumSnapshot {
    const lastIncludedTerm = this.log.termAt(this.appliedIndex)
    invariant(lastIncludedTerm !== undefined, `applied index ${this.appliedIndex} is not in the log`)
    return {
      mode: 'quorum',
      id: this.id,
      term: this.term,
      vote: this.vote,
      commitIndex: this.commitIndex,
      lastIncludedIndex: this.appliedIndex,
      lastIncludedTerm,
      keys: this.kv.entries(),
      tail: this.log.after(this.appliedIndex),
      ...(this.learner ? {learner: true as const} : {}),
    }
  }

  step(msg: QuorumInput): Output<QuorumRecord> {
    const out: Out = this.begin()
    switch (msg.type) {
      case 'client.put':
        this.desk.put(msg, out)
        break
      case 'client.read':
        this.desk.read(msg, out)
        break
      case 'client.status':
        out.toClient(msg.replyTo, {type: 'client.reply', id: msg.id, ok: true, result: this.status()})
        break
      default:
        this.onPeer(msg, out)
    }
    return out.done()
  }

  tick(): Output<QuorumRecord> {
    const out: Out = this.begin()
    this.now++
    if (this.role === 'leader') {
      const lead = this.lead as LeaderState
      if (this.now - lead.lastHeartbeat >= this.cfg.heartbeatTicks) this.heartbeat(out)
      this.checkQuorum(out)
      if (this.lead) this.expireLeaderWork(this.lead, out)
    } else if (this.learner) {
      this.tickLearner(this.learner, out)
    } else if (this.now >= this.electionDeadline) {
      this.startElection(out)
    }
    this.desk.tick(out)
    this.reportLiveness(out)
    return out.done()
  }

  /** Sends what steps queued: new entries to followers, read-index heartbeats, and COMMIT. */
  flush(): Output<QuorumRecord> {
    const out: Out = new OutputBuilder()
    this.desk.flush(out)
    const lead = this.lead
    if (this.role === 'leader' && lead) {
      if (lead.roundPending) this.heartbeat(out)
      else {
        for (const [peer, p] of lead.progress) {
          if (!p.transfer && p.next <= this.log.lastIndex) this.sendAppend(peer, p, out, false)
        }
      }
      if (this.commitIndex > this.commitBroadcast) {
        this.commitBroadcast = this.commitIndex
        const msg: Commit = {type: 'COMMIT', from: this.id, term: this.term, commitIndex: this.commitIndex}
        out.toTopic('commit', msg)
      }
    }
    return out.done()
  }

  status(): NodeStatus {
    return {
      id: this.id,
      alive: true,
      role: this.role,
      keys: this.kv.liveKeys,
      mode: 'quorum',
      peersAlive: this.detector.reachable(this.now),
      term: this.term,
      commitIndex: this.commitIndex,
      leader: this.leaderIsLive() ? this.leaderId : null,
      ...(this.learner ? {recovering: true} : {}),
    }
  }

  /** True while this replica is a non-voting learner (learner.ts). */
  get isLearner(): boolean {
    return this.learner !== null
  }

  /** A new Output, carrying first the log lines restore() decided on. */
  private begin(): Out {
    const out: Out = new OutputBuilder()
    out.persist.push(...this.bootRecords.splice(0))
    for (const line of this.bootLines.splice(0)) out.log('warn', line)
    return out
  }

  // ---- learner (learner.ts) ------------------------------------------------------------------

  /** Every heartbeat: tell the members where we stand (they answer with theirs), then try both doors. */
  private tickLearner(learner: LearnerState, out: Out): void {
    if (this.now % this.cfg.heartbeatTicks === 0) {
      out.toTopic('election', {
        type: 'STATE',
        from: this.id,
        term: this.term,
        lastLogIndex: this.log.lastIndex,
        learner: true,
      } satisfies State)
    }
    const caughtUp =
      this.role === 'follower' &&
      this.leaderId !== null &&
      this.leaderIsLive() &&
      learner.caughtUpTo > 0 &&
      this.appliedIndex >= learner.caughtUpTo
    if (caughtUp) {
      // Door (a): a vote for the leader of this term is one the old incarnation could not contradict.
      if (this.vote === null) {
        this.vote = this.leaderId
        out.persist.push({t: 'term', term: this.term, vote: this.vote})
      }
      return this.endLearning(
        `caught up with leader ${this.leaderId} of term ${this.term} at commit index ${learner.caughtUpTo}`,
        out,
      )
    }
    const floor = emptyClusterFloor(learner, this.others, this.term, this.log.lastIndex)
    if (floor !== null) {
      // Door (b): a cluster that never had a log. A vote recorded in the highest term any member holds.
      if (floor > this.term || this.vote === null) {
        this.term = floor
        this.vote = this.vote ?? this.id
        out.persist.push({t: 'term', term: this.term, vote: this.vote})
      }
      this.endLearning(`heard every member with an empty log (a new cluster); term ${this.term}`, out)
    }
  }

  private endLearning(why: string, out: Out): void {
    const lostData = this.learner?.lostData === true
    this.learner = null
    out.persist.push({t: 'learner', done: true})
    this.electionDeadline = this.now + this.randomElectionTimeout()
    out.log('info', `voting member again: ${why}`)
    // After lost data the disk's RECOVERING marker must go (after a fresh snapshot); an empty start has none.
    if (lostData) out.effects.push({kind: 'recovered'})
  }

  private onState(m: State, out: Out): void {
    this.learner?.heard.set(m.from, {term: m.term, lastLogIndex: m.lastLogIndex})
    // Voters answer a learner; learners need not (they broadcast their own every heartbeat), and
    // answering each other would never end.
    if (m.learner && !this.learner) {
      out.toNode(m.from, {
        type: 'STATE',
        from: this.id,
        term: this.term,
        lastLogIndex: this.log.lastIndex,
        learner: false,
      } satisfies State)
    }
  }

  memberIds(): string[] {
    return [...this.members]
  }

  busy(): boolean {
    return this.desk.size > 0 || (this.lead?.writes.size ?? 0) > 0
  }

  // ---- inspection (tests, simulator checkers, status) ----------------------------------------

  get currentRole(): QuorumRole {
    return this.role
  }

  get currentTerm(): number {
    return this.term
  }

  get votedFor(): string | null {
    return this.vote
  }

  get knownLeader(): string | null {
    return this.leaderId
  }

  get commit(): number {
    return this.commitIndex
  }

  get applied(): number {
    return this.appliedIndex
  }

  get lastLogIndex(): number {
    return this.log.lastIndex
  }

  /** Index up to which the log is folded into the applied state (entries at or below are not held). */
  get logBase(): number {
    return this.log.snapshotIndex
  }

  /** True once this leader's no-op has committed (it serves from then on). */
  get serving(): boolean {
    return this.lead?.ready ?? false
  }

  entryAt(index: number): LogEntry | undefined {
    return this.log.entryAt(index)
  }

  termAt(index: number): number | undefined {
    return this.log.termAt(index)
  }

  /** The applied state of a key (undefined: never written). */
  stateOf(key: string): KeyVersion | undefined {
    return this.kv.get(key)
  }

  appliedState(): [string, KeyVersion][] {
    return this.kv.entries()
  }

  // ---- peer messages -------------------------------------------------------------------------

  private onPeer(m: QuorumPeerMessage, out: Out): void {
    if (m.from === this.id || !this.memberSet.has(m.from)) return
    this.detector.heard(m.from, this.now)
    if (m.term > this.term) {
      // Leader stickiness: while we hear a live leader, a candidate of a later term is cut off from
      // it (or disruptive); it must not depose the leader through us.
      if (m.type === 'ELECTION' && this.leaderIsLive()) return
      const fromLeader =
        m.type === 'APPEND' || m.type === 'COORDINATOR' || m.type === 'INSTALL_SNAPSHOT' || m.type === 'COMMIT'
      this.becomeFollower(m.term, fromLeader ? m.from : null, out)
    }
    if (m.term < this.term && this.refuseStale(m, out)) return
    switch (m.type) {
      case 'STATE':
        return this.onState(m, out)
      case 'ELECTION':
        return this.onElection(m, out)
      case 'OK':
        return this.onOk(m)
      case 'VOTE':
        return this.onVote(m, out)
      case 'COORDINATOR':
        return this.onLeaderMessage(m.from)
      case 'APPEND':
        return this.onAppend(m, out)
      case 'APPEND_ACK':
        return this.onAppendAck(m, out)
      case 'COMMIT':
        return this.onCommit(m, out)
      case 'INSTALL_SNAPSHOT':
        return this.onInstallSnapshot(m, out)
      case 'INSTALL_SNAPSHOT_ACK':
        return this.onInstallSnapshotAck(m, out)
      case 'FORWARD':
        return this.onForward(m, out)
      case 'FORWARD_REPLY':
        return this.desk.onWriteOutcome(m.fid, outcomeOf(m), out)
      case 'READ_INDEX':
        return this.requestReadIndex(m.from, m.rid, out)
      case 'READ_INDEX_REPLY':
        return this.desk.onReadIndex(m.rid, m.readIndex, out)
      case 'READ_STATE': {
        const a = this.localReadState(m.key)
        const reply: ReadStateReply = {
          type: 'READ_STATE_REPLY',
          from: this.id,
          term: this.term,
          rid: m.rid,
          round: m.round,
          key: m.key,
          appliedIndex: a.appliedIndex,
          state: a.state,
        }
        return out.toNode(m.from, reply)
      }
      case 'READ_STATE_REPLY':
        return this.desk.onReadStateReply(m, out)
      case 'READ_STATES':
        return this.answerReadStates(m, out)
      case 'READ_STATES_REPLY':
        for (const r of m.resps)
          this.desk.onReadStateReply({type: 'READ_STATE_REPLY', from: m.from, term: m.term, ...r}, out)
        return
    }
  }

  /**
   * A message from an older term. Requests get an answer carrying our term (so a stale leader or
   * candidate steps down); replies that report facts (an outcome, a read index, applied state) stay
   * true whatever the term and are processed. Returns true when the message is done with.
   */
  private refuseStale(m: QuorumPeerMessage, out: Out): boolean {
    switch (m.type) {
      case 'ELECTION':
        out.toNode(m.from, {type: 'VOTE', from: this.id, term: this.term, granted: false} satisfies Vote)
        return true
      case 'APPEND':
      case 'INSTALL_SNAPSHOT':
        out.toNode(m.from, {
          type: 'APPEND_ACK',
          from: this.id,
          term: this.term,
          success: false,
          matchIndex: 0,
          seq: 0,
        } satisfies AppendAck)
        return true
      case 'FORWARD':
        this.replyForward(m.from, m.fid, notLeaderOutcome(this.id, this.term), out)
        return true
      case 'READ_INDEX':
        out.toNode(m.from, {
          type: 'READ_INDEX_REPLY',
          from: this.id,
          term: this.term,
          rid: m.rid,
          readIndex: null,
        } satisfies ReadIndexReply)
        return true
      case 'STATE':
      case 'FORWARD_REPLY':
      case 'READ_INDEX_REPLY':
      case 'READ_STATE':
      case 'READ_STATE_REPLY':
      case 'READ_STATES':
      case 'READ_STATES_REPLY':
        return false
      default:
        return true
    }
  }

  // ---- election ------------------------------------------------------------------------------

  private onElection(m: Election, out: Out): void {
    const answer = (granted: boolean) =>
      out.toNode(m.from, {type: 'VOTE', from: this.id, term: this.term, granted} satisfies Vote)
    if (this.role === 'leader') {
      // It lost this term to us: refuse, and show it who leads.
      answer(false)
      const p = this.lead?.progress.get(m.from)
      if (p && !p.transfer) this.sendAppend(m.from, p, out, true)
      return
    }
    if (this.leaderIsLive()) return answer(false)
    if (this.learner) {
      // A learner never votes, and never answers OK: it will not stand itself, so it must not hold others back.
      this.learner.heard.set(m.from, {term: m.term, lastLogIndex: m.lastLogIndex})
      return answer(false)
    }
    switch (
      answerElection(
        {id: this.id, votedFor: this.vote, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm},
        m.from,
        m,
      )
    ) {
      case 'ok-and-stand':
        out.toNode(m.from, {type: 'OK', from: this.id, term: this.term} satisfies ElectionOk)
        // Bully: the higher the rank, the sooner it runs, so when several replicas outrank the
        // candidate the highest usually runs first and the others vote for it instead of splitting
        // the votes. An ELECTION from a higher replica before our turn gets our vote instead.
        this.electionDeadline = this.now + this.outrankedBy
        if (this.now >= this.electionDeadline) this.startElection(out)
        return
      case 'ok':
        out.toNode(m.from, {type: 'OK', from: this.id, term: this.term} satisfies ElectionOk)
        return
      case 'grant':
        if (this.vote === null) {
          this.vote = m.from
          out.persist.push({t: 'term', term: this.term, vote: m.from})
        }
        this.electionDeadline = this.now + this.randomElectionTimeout()
        return answer(true)
      case 'deny':
        return answer(false)
    }
  }

  /** Run for the next term: vote for ourselves (durably, before ELECTION goes out) and broadcast. */
  private startElection(out: Out): void {
    this.term++
    this.vote = this.id
    this.role = 'candidate'
    this.leaderId = null
    this.matchedIndex = 0
    this.incoming = null
    this.votes.clear()
    this.votes.add(this.id)
    out.persist.push({t: 'term', term: this.term, vote: this.id})
    this.electionDeadline = this.now + this.randomElectionTimeout()
    const msg: Election = {
      type: 'ELECTION',
      from: this.id,
      term: this.term,
      lastLogIndex: this.log.lastIndex,
      lastLogTerm: this.log.lastTerm,
    }
    out.toTopic('election', msg)
    if (hasMajority(this.votes, this.members)) this.becomeLeader(out)
  }

  /** Bully OK: someone that outranks us and could win runs; wait for its COORDINATOR (bounded). */
  private onOk(m: ElectionOk): void {
    if (this.role !== 'candidate' || m.term !== this.term) return
    this.role = 'follower'
    this.votes.clear()
    this.electionDeadline =
      this.now + 2 * this.cfg.electionTimeoutTicks + this.cfg.rng.int(this.cfg.electionTimeoutTicks)
  }

  private onVote(m: Vote, out: Out): void {
    if (this.role !== 'candidate' || m.term !== this.term || !m.granted) return
    this.votes.add(m.from)
    if (hasMajority(this.votes, this.members)) this.becomeLeader(out)
  }

  private becomeLeader(out: Out): void {
    invariant(this.role === 'candidate' && this.vote === this.id, 'only a candidate that voted for itself can lead')
    this.role = 'leader'
    this.leaderId = this.id
    this.votes.clear()
    const noop: LogEntry = {term: this.term, index: this.log.lastIndex + 1, cmd: null}
    this.lead = new LeaderState(this.others, noop.index, this.now, noop.index)
    this.appendAsLeader(noop, out)
    out.log('info', `leader of term ${this.term}`)
    out.toTopic('election', {type: 'COORDINATOR', from: this.id, term: this.term} satisfies Coordinator)
    this.heartbeat(out)
    this.advanceCommit(out)
  }

  /** Adopt `term` (persisting it if new) as a follower; a leader stepping down answers what it held. */
  private becomeFollower(term: number, leader: string | null, out: Out, why = `term ${term} began`): void {
    if (term > this.term) {
      this.term = term
      this.vote = null
      this.matchedIndex = 0
      this.incoming = null
      out.persist.push({t: 'term', term, vote: null})
    }
    const wasLeader = this.role === 'leader'
    if (wasLeader) this.stepDown(out, why)
    this.role = 'follower'
    this.votes.clear()
    this.leaderId = leader
    // A new term alone does not reset the election timer (Raft §5.2); hearing a leader does, and so
    // does stepping down (its timer ran out long ago; running again at once would only churn terms).
    if (leader || wasLeader) {
      this.lastLeaderContact = this.now
      this.electionDeadline = this.now + this.randomElectionTimeout()
    }
  }

  /** APPEND, COORDINATOR or INSTALL_SNAPSHOT of our term: its sender leads the term. */
  private onLeaderMessage(from: string): void {
    invariant(this.role !== 'leader', `two leaders in term ${this.term}: ${this.id} and ${from}`)
    if (this.leaderId !== null)
      invariant(this.leaderId === from, `two leaders in term ${this.term}: ${this.leaderId} and ${from}`)
    this.role = 'follower'
    this.votes.clear()
    this.leaderId = from
    this.lastLeaderContact = this.now
    this.electionDeadline = this.now + this.randomElectionTimeout()
  }

  private leaderIsLive(): boolean {
    if (this.role === 'leader') return true
    return this.leaderId !== null && this.now - this.lastLeaderContact <= this.cfg.electionTimeoutTicks
  }

  private randomElectionTimeout(): number {
    return this.cfg.electionTimeoutTicks + this.cfg.rng.int(this.cfg.electionTimeoutTicks)
  }

  // ---- replication: leader -------------------------------------------------------------------

  private appendAsLeader(e: LogEntry, out: Out): void {
    this.log.append(e)
    out.persist.push({t: 'entries', entries: [e]})
  }

  /** APPEND to one follower from its next index, or a snapshot chunk when that is no longer held. */
  private sendAppend(peer: string, p: PeerProgress, out: Out, heartbeat: boolean): void {
    if (p.next <= this.log.snapshotIndex) return this.startTransfer(peer, p, out)
    const prevIndex = p.next - 1
    const prevTerm = this.log.termAt(prevIndex)
    invariant(prevTerm !== undefined, `no term for index ${prevIndex}`)
    const entries =
      p.next <= this.log.lastIndex
        ? this.log.slice(p.next, this.cfg.batchEntriesMax ?? LIMITS.batchEntriesMax, LIMITS.batchBytesMax)
        : []
    const lead = this.lead as LeaderState
    const msg: Append = {
      type: 'APPEND',
      from: this.id,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      leaderCommit: this.commitIndex,
      seq: lead.sentSeq,
      ...(heartbeat ? {alive: this.detector.reachable(this.now)} : {}),
    }
    out.toNode(peer, msg)
    p.next = prevIndex + entries.length + 1
  }

  /** Every heartbeat interval, and when a read needs confirming: one APPEND (or chunk) per follower. */
  private heartbeat(out: Out): void {
    const lead = this.lead as LeaderState
    lead.lastHeartbeat = this.now
    lead.markRoundsSent()
    for (const [peer, p] of lead.progress) {
      if (p.transfer) {
        this.sendChunk(peer, p, out)
        continue
      }
      // Nothing acked since the last heartbeat: what was sent may be lost, so send it again.
      if (!p.progressed && p.match < this.log.lastIndex) p.next = p.match + 1
      p.progressed = false
      this.sendAppend(peer, p, out, true)
    }
  }

  private onAppendAck(m: AppendAck, out: Out): void {
    const lead = this.lead
    if (this.role !== 'leader' || !lead || m.term !== this.term) return
    const p = lead.progress.get(m.from)
    if (!p) return
    if (m.seq > p.ackSeq) {
      p.ackSeq = m.seq
      this.confirmReads(lead, out)
    }
    if (m.success) {
      if (m.matchIndex > p.match) {
        p.match = m.matchIndex
        p.progressed = true
      }
      p.next = Math.max(p.next, p.match + 1)
      this.advanceCommit(out)
      if (!p.transfer && p.next <= this.log.lastIndex && p.next === p.match + 1) this.sendAppend(m.from, p, out, false)
    } else {
      if (m.matchIndex < p.match) {
        // It no longer holds what it acked (its disk was wiped or damaged; it is a learner now), or its
        // conflict hint reaches below the match: either way resume from its hint and count only what
        // it now acks toward commits, or this leader would resend the same APPEND forever.
        out.log('info', `${m.from} no longer matches up to ${p.match} (it says ${m.matchIndex}); resending from there`)
        p.match = m.matchIndex
      }
      p.next = Math.max(p.match + 1, Math.min(p.next, m.matchIndex + 1))
      if (!p.transfer) this.sendAppend(m.from, p, out, false)
    }
  }

  /** Commit the highest index a majority holds, if it is of our term (Raft §5.4.2). */
  private advanceCommit(out: Out): void {
    const lead = this.lead
    if (this.role !== 'leader' || !lead) return
    const n = majorityMatchIndex([this.log.lastIndex, ...lead.matchIndexes()])
    if (n > this.commitIndex && this.log.termAt(n) === this.term) this.setCommit(n, out)
  }

  private setCommit(index: number, out: Out): void {
    if (index <= this.commitIndex) return
    invariant(index <= this.log.lastIndex, `commit ${index} beyond the log end ${this.log.lastIndex}`)
    this.commitIndex = index
    // Not waited for: the entries are durable on a majority already, and a commit index lost in a
    // crash is learnt again from the leader. Waiting cost every write one more fsync before its reply.
    out.persistSoon.push({t: 'commit', index})
    this.applyCommitted(out)
  }

  /** Apply committed entries in index order; a leader answers the writes they complete. */
  private applyCommitted(out: Out): void {
    while (this.appliedIndex < this.commitIndex) {
      const e = this.log.entryAt(this.appliedIndex + 1)
      invariant(e, `committed entry ${this.appliedIndex + 1} is missing`)
      this.kv.apply(e)
      this.appliedIndex = e.index
      const w = this.lead?.writes.get(e.index)
      if (w) {
        this.lead?.writes.delete(e.index)
        if (e.term === this.term)
          this.deliverWrite(w.origin, w.fid, {ok: true, leader: this.id, version: {term: e.term, index: e.index}}, out)
      }
    }
    const lead = this.lead
    if (lead && !lead.ready && this.commitIndex >= lead.noopIndex) {
      lead.ready = true
      out.log('info', `serving as leader of term ${this.term} (commit index ${this.commitIndex})`)
      for (const h of lead.held.splice(0)) {
        if (h.kind === 'write') this.appendWrite(lead, h.origin, h.fid, h.cmd, h.deadline, out)
        else this.startReadRound(lead, h.origin, h.rid, out)
      }
    }
    // Keep a window of applied entries for followers that lag a little; the rest go by snapshot.
    const retain = this.cfg.logRetainEntries
    if (this.appliedIndex - this.log.snapshotIndex > 2 * retain) this.log.compactTo(this.appliedIndex - retain)
  }

  /** A leader that has not heard a majority for an election timeout may have been replaced: step down. */
  private checkQuorum(out: Out): void {
    const lead = this.lead as LeaderState
    if (this.now - lead.since <= this.cfg.electionTimeoutTicks) return
    const contact = majorityContactTick(
      this.members.map((m) => (m === this.id ? this.now : this.detector.lastHeardTick(m))),
    )
    if (this.now - contact > this.cfg.electionTimeoutTicks) {
      this.becomeFollower(this.term, null, out, `no majority heard for ${this.now - contact} ticks`)
    }
  }

  private stepDown(out: Out, why: string): void {
    const lead = this.lead
    this.lead = null
    out.log('info', `no longer leader of term ${this.term}: ${why}`)
    if (!lead) return
    for (const w of lead.writes.values())
      this.deliverWrite(w.origin, w.fid, lostLeadershipOutcome(this.id, w.index), out)
    for (const h of lead.held) {
      if (h.kind === 'write') this.deliverWrite(h.origin, h.fid, heldDroppedOutcome(this.id), out)
      else this.deliverReadIndex(h.origin, h.rid, null, out)
    }
    for (const w of lead.takeExpiredReads(Number.POSITIVE_INFINITY)) this.deliverReadIndex(w.origin, w.rid, null, out)
  }

  private expireLeaderWork(lead: LeaderState, out: Out): void {
    for (const w of lead.writes.values()) {
      if (this.now < w.deadline) continue
      lead.writes.delete(w.index)
      this.deliverWrite(w.origin, w.fid, notCommittedInTime(w.index, this.term), out)
    }
    for (let i = lead.held.length - 1; i >= 0; i--) {
      const h = lead.held[i]
      if (!h || this.now < h.deadline) continue
      lead.held.splice(i, 1)
      if (h.kind === 'write') this.deliverWrite(h.origin, h.fid, notReadyInTime(this.id), out)
      else this.deliverReadIndex(h.origin, h.rid, null, out)
    }
    for (const w of lead.takeExpiredReads(this.now)) this.deliverReadIndex(w.origin, w.rid, null, out)
  }

  // ---- replication: follower -----------------------------------------------------------------

  private onAppend(m: Append, out: Out): void {
    this.onLeaderMessage(m.from)
    for (const id of m.alive ?? []) if (this.memberSet.has(id)) this.detector.heard(id, this.now)
    const r = appendFromLeader(this.log, this.commitIndex, m)
    out.persist.push(...r.records)
    if (r.success) {
      this.matchedIndex = Math.max(this.matchedIndex, r.matchIndex)
      this.setCommit(Math.min(m.leaderCommit, r.matchIndex), out)
      const learner = this.learner
      if (
        learner &&
        m.leaderCommit > 0 &&
        r.matchIndex >= m.leaderCommit &&
        this.log.termAt(m.leaderCommit) === m.term
      ) {
        learner.caughtUpTo = Math.max(learner.caughtUpTo, m.leaderCommit)
      }
    }
    const ack: AppendAck = {
      type: 'APPEND_ACK',
      from: this.id,
      term: this.term,
      success: r.success,
      matchIndex: r.matchIndex,
      seq: m.seq,
    }
    out.toNode(m.from, ack)
  }

  /** Seed 002's COMMIT: apply up to it, as far as our log is known to match the leader's. */
  private onCommit(m: Commit, out: Out): void {
    if (m.term !== this.term) return
    this.onLeaderMessage(m.from)
    this.setCommit(Math.min(m.commitIndex, this.matchedIndex), out)
  }

  // ---- catch-up by snapshot ------------------------------------------------------------------

  private startTransfer(peer: string, p: PeerProgress, out: Out): void {
    const snapshotTerm = this.log.termAt(this.appliedIndex)
    invariant(snapshotTerm !== undefined, `applied index ${this.appliedIndex} is not in the log`)
    p.transfer = {index: this.appliedIndex, snapshotTerm, chunks: chunkState(this.kv.entries()), next: 0}
    out.log('info', `sending a snapshot at index ${this.appliedIndex} to ${peer}, which lags behind the log`)
    this.sendChunk(peer, p, out)
  }

  private sendChunk(peer: string, p: PeerProgress, out: Out): void {
    const t = p.transfer
    if (!t) return
    const seq = Math.min(t.next, t.chunks.length - 1)
    const msg: InstallSnapshot = {
      type: 'INSTALL_SNAPSHOT',
      from: this.id,
      term: this.term,
      index: t.index,
      snapshotTerm: t.snapshotTerm,
      seq,
      keys: t.chunks[seq] as [string, KeyVersion][],
      done: seq === t.chunks.length - 1,
    }
    out.toNode(peer, msg)
  }

  private onInstallSnapshot(m: InstallSnapshot, out: Out): void {
    this.onLeaderMessage(m.from)
    const ack = (seq: number, done: boolean) =>
      out.toNode(m.from, {
        type: 'INSTALL_SNAPSHOT_ACK',
        from: this.id,
        term: this.term,
        index: m.index,
        seq,
        done,
      } satisfies InstallSnapshotAck)
    if (m.index <= this.appliedIndex) return ack(m.seq, true) // already have it (applied means committed)
    const t = this.incoming
    if (!t || t.leaderTerm !== this.term || t.index !== m.index) {
      if (m.seq !== 0) return ack(-1, false)
      this.incoming = new IncomingTransfer(this.term, m.index, m.snapshotTerm)
    }
    const r = (this.incoming as IncomingTransfer).receive(m.seq, m.keys, m.done)
    if (r.kind === 'ack') return ack(r.seq, false)
    this.incoming = null
    this.installSnapshot(m.index, m.snapshotTerm, r.chunks, out)
    ack(m.seq, true)
  }

  /** Replace the applied state with the leader's at (index, term); durable before the ack goes out. */
  private installSnapshot(index: number, term: number, chunks: [string, KeyVersion][][], out: Out): void {
    out.persist.push({t: 'install.begin', index, term})
    for (const keys of chunks) out.persist.push({t: 'install.keys', index, keys})
    out.persist.push({t: 'install.end', index, term})
    this.kv = KeyValueState.from(chunks.flat())
    if (this.log.termAt(index) === term) this.log.compactTo(index)
    else this.log.resetTo(index, term)
    this.appliedIndex = index
    this.matchedIndex = Math.max(this.matchedIndex, index)
    if (index > this.commitIndex) this.commitIndex = index
    this.applyCommitted(out)
  }

  private onInstallSnapshotAck(m: InstallSnapshotAck, out: Out): void {
    const lead = this.lead
    if (this.role !== 'leader' || !lead || m.term !== this.term) return
    const p = lead.progress.get(m.from)
    if (!p) return
    if (m.done) {
      if (m.index > p.match) p.match = m.index
      p.next = Math.max(p.next, p.match + 1)
      p.progressed = true
      if (p.transfer?.index === m.index) p.transfer = null
      this.advanceCommit(out)
      if (!p.transfer) this.sendAppend(m.from, p, out, false)
      return
    }
    const t = p.transfer
    if (!t || t.index !== m.index || m.seq + 1 === t.next) return
    t.next = Math.min(m.seq + 1, t.chunks.length - 1)
    this.sendChunk(m.from, p, out)
  }

  // ---- writes --------------------------------------------------------------------------------

  private route(): Route {
    if (this.role === 'leader') return {kind: 'self'}
    if (this.leaderIsLive() && this.leaderId) return {kind: 'leader', id: this.leaderId}
    const reachable = this.detector.reachable(this.now)
    return reachable.length < writeQuorum(this.members.length) ? {kind: 'no-quorum', reachable} : {kind: 'wait'}
  }

  private onForward(m: Forward, out: Out): void {
    if (this.role !== 'leader' || m.term !== this.term)
      return this.replyForward(m.from, m.fid, notLeaderOutcome(this.id, this.term), out)
    const keyError = checkKey(m.key)
    if (keyError)
      return this.replyForward(m.from, m.fid, {ok: false, error: {code: 'BAD_REQUEST', message: keyError}}, out)
    this.acceptWrite(m.from, m.fid, {key: m.key, value: m.value}, m.timeoutTicks, out)
  }

  /**
   * The leader takes a write (from its own desk or a FORWARD). A fid is handled once per term: a
   * duplicated FORWARD must not append the write twice. NO_QUORUM is decided before appending, so it
   * is a promise. Until the no-op of the term commits, the write is held.
   */
  private acceptWrite(origin: string, fid: string, cmd: Command, timeoutTicks: number, out: Out): void {
    const lead = this.lead
    if (this.role !== 'leader' || !lead)
      return this.deliverWrite(origin, fid, notLeaderOutcome(this.id, this.term), out)
    if (!lead.firstSight(fid)) return
    // Followers ack every heartbeat, so a leader can tell sooner than a follower who is gone: it
    // refuses after half an election timeout of silence, before it would step down.
    const reachable = this.detector.reachable(
      this.now,
      Math.max(2 * this.cfg.heartbeatTicks, Math.floor(this.cfg.electionTimeoutTicks / 2)),
    )
    if (reachable.length < writeQuorum(this.members.length)) {
      return this.deliverWrite(origin, fid, leaderNoQuorum(this.id, reachable, this.members.length), out)
    }
    const deadline = this.now + timeoutTicks
    if (!lead.ready) {
      if (lead.held.length >= HELD_REQUESTS_MAX) return this.deliverWrite(origin, fid, busyOutcome(this.id), out)
      lead.held.push({kind: 'write', fid, origin, cmd, deadline})
      return
    }
    this.appendWrite(lead, origin, fid, cmd, deadline, out)
  }

  private appendWrite(lead: LeaderState, origin: string, fid: string, cmd: Command, deadline: number, out: Out): void {
    if (lead.writes.size >= APPENDED_WRITES_MAX) return this.deliverWrite(origin, fid, busyOutcome(this.id), out)
    const e: LogEntry = {term: this.term, index: this.log.lastIndex + 1, cmd}
    this.appendAsLeader(e, out)
    lead.writes.set(e.index, {fid, origin, index: e.index, deadline})
    this.advanceCommit(out) // a one-member cluster commits at once
  }

  private deliverWrite(origin: string, fid: string, outcome: WriteOutcome, out: Out): void {
    if (origin === this.id) this.desk.onWriteOutcome(fid, outcome, out)
    else this.replyForward(origin, fid, outcome, out)
  }

  private replyForward(to: string, fid: string, outcome: WriteOutcome, out: Out): void {
    const msg: ForwardReply = {type: 'FORWARD_REPLY', from: this.id, term: this.term, fid, ...outcome}
    out.toNode(to, msg)
  }

  // ---- reads ---------------------------------------------------------------------------------

  /** READ_INDEX (or our own desk): confirm leadership with a heartbeat round, then give the commit index. */
  private requestReadIndex(origin: string, rid: string, out: Out): void {
    const lead = this.lead
    if (this.role !== 'leader' || !lead) return this.deliverReadIndex(origin, rid, null, out)
    if (!lead.ready) {
      if (lead.held.length >= HELD_REQUESTS_MAX) return this.deliverReadIndex(origin, rid, null, out)
      lead.held.push({kind: 'read', rid, origin, deadline: this.now + this.cfg.electionTimeoutTicks})
      return
    }
    this.startReadRound(lead, origin, rid, out)
  }

  /** The round's heartbeat goes out in flush(), once per burst of reads. */
  private startReadRound(lead: LeaderState, origin: string, rid: string, out: Out): void {
    if (this.others.length === 0) return this.deliverReadIndex(origin, rid, this.commitIndex, out)
    lead.addRead({rid, origin}, this.commitIndex, this.now + this.cfg.electionTimeoutTicks)
  }

  private confirmReads(lead: LeaderState, out: Out): void {
    for (const {waiter, readIndex} of lead.takeConfirmedReads(this.id, this.members))
      this.deliverReadIndex(waiter.origin, waiter.rid, readIndex, out)
  }

  private deliverReadIndex(origin: string, rid: string, readIndex: number | null, out: Out): void {
    if (origin === this.id) this.desk.onReadIndex(rid, readIndex, out)
    else
      out.toNode(origin, {
        type: 'READ_INDEX_REPLY',
        from: this.id,
        term: this.term,
        rid,
        readIndex,
      } satisfies ReadIndexReply)
  }

  /** Answers a batch of read rounds' questions, in replies cut under the batch byte limit. */
  private answerReadStates(m: ReadStates, out: Out): void {
    let resps: ReadStatesReply['resps'][number][] = []
    let bytes = 0
    const send = () => {
      if (resps.length === 0) return
      out.toNode(m.from, {type: 'READ_STATES_REPLY', from: this.id, term: this.term, resps} satisfies ReadStatesReply)
      resps = []
      bytes = 0
    }
    for (const q of m.reqs) {
      const a = this.localReadState(q.key)
      const size = q.key.length + (a.state?.value?.length ?? 0) + 96
      if (bytes + size > LIMITS.batchBytesMax) send()
      resps.push({rid: q.rid, round: q.round, key: q.key, appliedIndex: a.appliedIndex, state: a.state})
      bytes += size
    }
    send()
  }

  private localReadState(key: string): StateAnswer {
    return {from: this.id, appliedIndex: this.appliedIndex, state: this.kv.get(key) ?? null}
  }

  // ---- liveness ------------------------------------------------------------------------------

  private reportLiveness(out: Out): void {
    const now = new Set(this.detector.reachable(this.now))
    for (const id of this.others) {
      if (now.has(id) !== this.aliveView.has(id)) out.effects.push({kind: 'peer', id, alive: now.has(id)})
    }
    this.aliveView = now
  }
}
