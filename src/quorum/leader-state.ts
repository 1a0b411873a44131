/**
 * What a replica holds only while it leads a term: per-follower replication progress, writes waiting
 * for their commit, read-index rounds, and the forwarded-write ids it has seen. Created by
 * QuorumReplica.becomeLeader and dropped when it steps down; nothing here is persisted.
 */
import {hasMajority} from './majority.js'
import type {OutgoingTransfer} from './snapshot-transfer.js'
import type {Command} from './types.js'

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

/** A write appended by this leader, waiting for its commit. `origin` is the replica to answer. */
export interface AppendedWrite {
  readonly fid: string
  readonly origin: string
  readonly index: number
  readonly deadline: number
}

/** A request that arrived before the leader's no-op committed; handled once it has (or at its deadline). */
export type HeldRequest =
  | {
      readonly kind: 'write'
      readonly fid: string
      readonly origin: string
      readonly cmd: Command
      readonly deadline: number
    }
  | {readonly kind: 'read'; readonly rid: string; readonly origin: string; readonly deadline: number}

/** A read waiting for its read index, and where to send it. */
export interface ReadWaiter {
  readonly rid: string
  readonly origin: string
}

/** A read-index round: confirmed once a majority acked a heartbeat numbered `seq` or later. */
interface ReadRound {
  readonly seq: number
  readIndex: number
  readonly waiters: ReadWaiter[]
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
  private readonly rounds: ReadRound[] = []
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
    for (const f of followers)
      this.progress.set(f, {next: nextIndex, match: 0, ackSeq: 0, progressed: false, transfer: null})
  }

  /** Followers' match indexes (the leader adds its own last index). */
  matchIndexes(): number[] {
    return [...this.progress.values()].map((p) => p.match)
  }

  /**
   * A read needs the commit index confirmed by a heartbeat round that starts after it arrived. It
   * joins the round whose heartbeat has not gone out yet (raising that round's index to the current
   * commit index is always safe), or opens a new one.
   */
  addRead(waiter: ReadWaiter, commitIndex: number, deadline: number): void {
    const last = this.rounds[this.rounds.length - 1]
    if (last && !last.sent) {
      last.readIndex = Math.max(last.readIndex, commitIndex)
      last.waiters.push(waiter)
      return
    }
    this.readSeq++
    this.rounds.push({seq: this.readSeq, readIndex: commitIndex, waiters: [waiter], deadline, sent: false})
  }

  /** True when a round waits for its heartbeat (flush sends one). */
  get roundPending(): boolean {
    return this.rounds.some((r) => !r.sent)
  }

  /** Called as a heartbeat goes out: every open round is in it, and APPENDs now carry its number. */
  markRoundsSent(): void {
    for (const r of this.rounds) r.sent = true
    this.sentSeq = this.readSeq
  }

  /** Removes and returns the reads whose round a majority (the leader included) has confirmed. */
  takeConfirmedReads(self: string, members: readonly string[]): {waiter: ReadWaiter; readIndex: number}[] {
    const done: {waiter: ReadWaiter; readIndex: number}[] = []
    while (this.rounds.length) {
      const r = this.rounds[0] as ReadRound
      if (!r.sent) break
      const acks = [self, ...[...this.progress].filter(([, p]) => p.ackSeq >= r.seq).map(([id]) => id)]
      if (!hasMajority(acks, members)) break
      this.rounds.shift()
      for (const waiter of r.waiters) done.push({waiter, readIndex: r.readIndex})
    }
    return done
  }

  /** Removes and returns the reads of rounds that ran out of time (or all of them, on step-down). */
  takeExpiredReads(now: number): ReadWaiter[] {
    const expired: ReadWaiter[] = []
    while (this.rounds.length && (this.rounds[0] as ReadRound).deadline <= now)
      expired.push(...(this.rounds.shift() as ReadRound).waiters)
    return expired
  }

  /** True the first time `fid` is seen in this term (the caller then handles the write). */
  firstSight(fid: string): boolean {
    if (this.seen.has(fid)) return false
    if (this.seen.size >= SEEN_FIDS_MAX) this.seen.delete(this.seen.values().next().value as string)
    this.seen.add(fid)
    return true
  }
}
