/**
 * Replica ⇄ replica messages of the quorum mode, named after seed 002 (ELECTION, OK, COORDINATOR,
 * COMMIT). Every message carries its sender and the sender's term; a replica that sees a higher term
 * adopts it, and term-bound messages from an older term are refused (see QuorumReplica.step).
 *
 * Destinations: ELECTION and COORDINATOR go to the 'election' topic, COMMIT to the 'commit' topic;
 * everything else is point-to-point (a node's inbox).
 */
import type {ErrorCode} from '../core/errors.js'
import type {KeyVersion, LogEntry, LogVersion} from './types.js'

interface FromTerm {
  readonly from: string
  readonly term: number
}

/** Bully ELECTION, broadcast: "I run in `term`; vote for me". Also the vote request (Raft RequestVote). */
export interface Election extends FromTerm {
  readonly type: 'ELECTION'
  readonly lastLogIndex: number
  readonly lastLogTerm: number
}

/** Bully OK, point-to-point: "I outrank you and my log is as good as yours: stand down". */
export interface ElectionOk extends FromTerm {
  readonly type: 'OK'
}

/** The answer to an ELECTION, point-to-point; sent only after the vote is durable. */
export interface Vote extends FromTerm {
  readonly type: 'VOTE'
  readonly granted: boolean
}

/** Broadcast by a candidate that won a majority of votes: "I lead `term`". */
export interface Coordinator extends FromTerm {
  readonly type: 'COORDINATOR'
}

/**
 * Leader → follower: entries after (prevIndex, prevTerm), and the leader's commit index. An empty
 * APPEND is the heartbeat. `seq` numbers heartbeat rounds (read-index confirmation); `alive` is the
 * leader's failure-detector view, so followers know who is reachable when the leader goes away.
 */
export interface Append extends FromTerm {
  readonly type: 'APPEND'
  readonly prevIndex: number
  readonly prevTerm: number
  readonly entries: readonly LogEntry[]
  readonly leaderCommit: number
  readonly seq: number
  readonly alive?: readonly string[]
}

/**
 * Follower → leader, sent after the entries are durable. On success `matchIndex` is the last index
 * known to match the leader's log; on failure it is a hint where to resume. `seq` echoes the APPEND's.
 */
export interface AppendAck extends FromTerm {
  readonly type: 'APPEND_ACK'
  readonly success: boolean
  readonly matchIndex: number
  readonly seq: number
}

/** Broadcast by the leader when its commit index grows (seed 002's COMMIT). */
export interface Commit extends FromTerm {
  readonly type: 'COMMIT'
  readonly commitIndex: number
}

/**
 * A replica that is not the leader forwards a client write to the leader (`fid` correlates, and the
 * leader refuses a duplicate fid). `timeoutTicks` is how long the leader may work on it.
 */
export interface Forward extends FromTerm {
  readonly type: 'FORWARD'
  readonly fid: string
  readonly key: string
  readonly value: string | null
  readonly timeoutTicks: number
}

/** The outcome of a forwarded write, from the leader back to the forwarding replica. */
export type ForwardReply = FromTerm & {readonly type: 'FORWARD_REPLY'; readonly fid: string} & (
    | {readonly ok: true; readonly leader: string; readonly version: LogVersion}
    | {readonly ok: false; readonly error: {code: ErrorCode; message: string}}
  )

/** A replica serving a read asks the leader for a read index (the leader confirms it still leads). */
export interface ReadIndex extends FromTerm {
  readonly type: 'READ_INDEX'
  readonly rid: string
}

/** The leader's confirmed commit index for a read; null: not now (not the leader, not ready, lost the round). */
export interface ReadIndexReply extends FromTerm {
  readonly type: 'READ_INDEX_REPLY'
  readonly rid: string
  readonly readIndex: number | null
}

/** One round of the seed's NR loop: "what have you applied, and what is `key` there?". */
export interface ReadState extends FromTerm {
  readonly type: 'READ_STATE'
  readonly rid: string
  readonly round: number
  readonly key: string
}

/** The answer: the replica's applied index and the key's last applied write (null: never written). */
export interface ReadStateReply extends FromTerm {
  readonly type: 'READ_STATE_REPLY'
  readonly rid: string
  readonly round: number
  readonly key: string
  readonly appliedIndex: number
  readonly state: KeyVersion | null
}

/** Every READ_STATE one replica's reads of a burst ask of one peer, in one message. */
export interface ReadStates extends FromTerm {
  readonly type: 'READ_STATES'
  readonly reqs: readonly {readonly rid: string; readonly round: number; readonly key: string}[]
}

/** The answers to a READ_STATES, cut under the batch byte limit. */
export interface ReadStatesReply extends FromTerm {
  readonly type: 'READ_STATES_REPLY'
  readonly resps: readonly Omit<ReadStateReply, 'type' | 'from' | 'term'>[]
}

/**
 * Leader → follower that needs entries the leader no longer holds: its applied state at
 * (index, snapshotTerm), in chunks numbered from 0; `done` marks the last chunk.
 */
export interface InstallSnapshot extends FromTerm {
  readonly type: 'INSTALL_SNAPSHOT'
  readonly index: number
  readonly snapshotTerm: number
  readonly seq: number
  readonly keys: readonly (readonly [string, KeyVersion])[]
  readonly done: boolean
}

/** Follower → leader: chunks up to `seq` received (-1: start over); `done`: installed and durable. */
export interface InstallSnapshotAck extends FromTerm {
  readonly type: 'INSTALL_SNAPSHOT_ACK'
  readonly index: number
  readonly seq: number
  readonly done: boolean
}

/**
 * A learner (a replica that started empty or lost data, see learner.ts) broadcasts its state on the
 * election topic every heartbeat; every other replica answers it point-to-point with its own. That is
 * how a learner hears the term and log length of every member.
 */
export interface State extends FromTerm {
  readonly type: 'STATE'
  readonly lastLogIndex: number
  readonly learner: boolean
}

export type QuorumPeerMessage =
  | State
  | Election
  | ElectionOk
  | Vote
  | Coordinator
  | Append
  | AppendAck
  | Commit
  | Forward
  | ForwardReply
  | ReadIndex
  | ReadIndexReply
  | ReadState
  | ReadStateReply
  | ReadStates
  | ReadStatesReply
  | InstallSnapshot
  | InstallSnapshotAck
