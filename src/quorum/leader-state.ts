/**
 * What a replica holds only while it leads a term: per-follower replication progress, writes waiting
 * for their commit, read-index rounds, and the forwarded-write ids it has seen. Created by
 * QuorumReplica.becomeLeader and dropped when it steps down; nothing here is persisted.
 */
import type {ErrorCode} from '../core/errors.js'
import type {OutgoingTransfer} from './snapshot-transfer.js'
import type {Command, LogVersion} from './types.js'

/** Replication progress of one follower (Raft's nextIndex / matchIndex). */
export interface PeerProgress {
  /** Next index to send (advanced optimistically when sent). */
  next: number
  /** Highest index the follower acknowledged durably in this term. */
  match: number
  /** Highest heartbeat round the follower acknowledged in this term (read-index confirmation). */
  ackSeq: number
  /** Whether an ack advanced `match` since the last heartbeat (else the heartbeat retransmits). */
  progressed: boolean
  /** A snapshot transfer in progress, when the follower needs entries no longer held. */
  transfer: OutgoingTransfer | null
}

/** How a write ended, as the leader reports it to the replica that took the client's request. */
export type WriteOutcome =
  | {readonly ok: true; readonly leader: string; readonly version: LogVersion}
  | {readonly ok: false; readonly error: {code: ErrorCode; message: string}}

/** A write appended by this leader, waiting for its commit. `origin` is the replica to answer. */
export interface AppendedWrite {
  readonly fid: string
  readonly origin: string
  readonly index: number
  readonly deadline: number
}

/** A request that arrived before the leader's no-op committed; handled once it has (or at its deadline). */
export type HeldRequest =
  | {readonly kind: 'write'; readonly fid: string; readonly origin: string; readonly cmd: Command; readonly deadline: number}
  | {readonly kind: 'read'; readonly rid: string; readonly origin: string; readonly deadline: number}

/** A read-index round: confirmed once a majority acked a heartbeat numbered `seq` or later. */
export interface ReadRound {
  readonly seq: number
  readIndex: number
  readonly waiters: {readonly rid: string; readonly origin: string}[]
  readonly deadline: number
  /** False until the heartbeat carrying `seq` has gone out; later reads may still join it. */
  sent: boolean
}

/** Forwarded-write ids remembered per term, so a duplicated FORWARD is never appended twice. */
const SEEN_FIDS_MAX = 100_000

export class LeaderState {
  readonly progress = new Map<string, PeerProgress>()
  readonly writes = new Map<number, AppendedWrite>()
  readonly held: HeldRequest[] = []
  readonly rounds: ReadRound[] = []
  /** Numbers read-index rounds; the newest round's number. */
  readSeq = 0
  /**
   * The newest round whose heartbeat has gone out: APPENDs carry it and acks echo it. A round is
   * confirmed only by acks to APPENDs sent after every read in it arrived, hence the separate count.
   */
  sentSeq = 0
  lastHeartbeat: number
  /** True once the no-op of this term has committed: the leader then holds every committed entry. */
  ready = false
  private readonly seen = new Set<string>()

  constructor(
    followers: readonly string[],
    nextIndex: number,
    readonly since: number,
    readonly noopIndex: number,
  ) {
    this.lastHeartbeat = Number.NEGATIVE_INFINITY
    for (const f of followers) this.progress.set(f, {next: nextIndex, match: 0, ackSeq: 0, progressed: false, transfer: null})
  }

  /** True the first time `fid` is seen in this term (the caller then handles the write). */
  firstSight(fid: string): boolean {
    if (this.seen.has(fid)) return false
    if (this.seen.size >= SEEN_FIDS_MAX) this.seen.delete(this.seen.values().next().value as string)
    this.seen.add(fid)
    return true
  }
}
