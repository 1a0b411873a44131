/**
 * The election decisions as pure functions: who is more up to date, and what a replica answers to an
 * ELECTION in its current term. The replica (replica.ts) does the term bookkeeping first, persists
 * whatever these decide, and sends the answer.
 *
 * Bully meets Raft here. Bully: a replica that outranks the candidate answers OK (stand down) and
 * stands itself. Raft: a vote is one per term and only for a log at least as up to date as the
 * voter's, so a leader always holds every committed entry. The Bully rule is applied only when the
 * outranking replica could itself win (its log is at least as up to date as the candidate's) and has
 * not given its vote in this term to someone else, so it never blocks a candidate it would have to
 * vote for anyway.
 */
import {outranks} from './bully-rank.js'

/** A log's position for up-to-dateness: the term and index of its last entry. */
export interface LogPosition {
  readonly lastLogIndex: number
  readonly lastLogTerm: number
}

/**
 * True when log `a` is at least as up to date as log `b` (Raft §5.4.1: later last term wins, then the
 * longer log). Voters ask it of the candidate; Bully responders ask it of themselves.
 */
export function atLeastAsUpToDate(a: LogPosition, b: LogPosition): boolean {
  if (a.lastLogTerm !== b.lastLogTerm) return a.lastLogTerm > b.lastLogTerm
  return a.lastLogIndex >= b.lastLogIndex
}

/** What the replica knows about itself when an ELECTION of its own current term arrives. */
export interface VoterView extends LogPosition {
  readonly id: string
  /** Whom it voted for in the current term, or null. */
  readonly votedFor: string | null
}

/**
 * The answer to an ELECTION of the voter's current term:
 * - `ok-and-stand`: the voter outranks the candidate, could win, and is free: OK, then run itself
 *   (in the next term, since lower replicas may already have voted in this one);
 * - `ok`: the same, but the voter already runs in this term (voted for itself): OK only;
 * - `grant`: vote for the candidate (persist the vote before answering);
 * - `deny`: refuse (already voted for another, or the candidate's log is behind).
 */
export type ElectionAnswer = 'ok-and-stand' | 'ok' | 'grant' | 'deny'

/** Decides how a replica answers `candidate`'s ELECTION; called by the replica for each one it accepts. */
export function answerElection(voter: VoterView, candidate: string, candidateLog: LogPosition): ElectionAnswer {
  const free = voter.votedFor === null || voter.votedFor === voter.id
  if (outranks(voter.id, candidate) && free && atLeastAsUpToDate(voter, candidateLog)) {
    return voter.votedFor === null ? 'ok-and-stand' : 'ok'
  }
  const mayVote = voter.votedFor === null || voter.votedFor === candidate
  return mayVote && atLeastAsUpToDate(candidateLog, voter) ? 'grant' : 'deny'
}
