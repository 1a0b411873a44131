/**
 * How a write ended, as the leader reports it to the replica that took the client's request, and
 * the failures it can report. Each message says whether the write may still commit: TIMEOUT when it
 * may (or when nothing can be promised), NO_QUORUM only when it was refused before being appended.
 */
import type {ErrorCode} from '../core/errors.js'
import {writeQuorum} from './majority.js'
import type {ForwardReply} from './messages.js'
import type {LogVersion} from './types.js'

export type WriteOutcome =
  | {readonly ok: true; readonly leader: string; readonly version: LogVersion}
  | {readonly ok: false; readonly error: {code: ErrorCode; message: string}}

/** The outcome a FORWARD_REPLY carries (the forwarding replica relays it to its client). */
export function outcomeOf(m: ForwardReply): WriteOutcome {
  return m.ok ? {ok: true, leader: m.leader, version: m.version} : {ok: false, error: m.error}
}

/** A FORWARD reached a replica that does not lead the sender's term: it may have led it before. */
export function notLeaderOutcome(id: string, term: number): WriteOutcome {
  return {
    ok: false,
    error: {
      code: 'TIMEOUT',
      message: `replica ${id} is not the leader of term ${term} any more; the write's outcome is unknown (read the key to find out, then retry)`,
    },
  }
}

/** Appended, then the leader stepped down: the next leader may still commit it. */
export function lostLeadershipOutcome(id: string, index: number): WriteOutcome {
  return {
    ok: false,
    error: {
      code: 'TIMEOUT',
      message: `leader ${id} lost its leadership before index ${index} committed; the write may still commit under the next leader (read the key to find out)`,
    },
  }
}

/** Held until the no-op committed, but the leader stepped down first: never appended. */
export function heldDroppedOutcome(id: string): WriteOutcome {
  return {
    ok: false,
    error: {
      code: 'TIMEOUT',
      message: `leader ${id} lost its leadership before it took the write; it was not written, retry`,
    },
  }
}

/** The leader's bound on writes in flight was reached: refused before appending. */
export function busyOutcome(id: string): WriteOutcome {
  return {ok: false, error: {code: 'UNAVAILABLE', message: `leader ${id} has too many writes in flight; retry shortly`}}
}

/** Appended, but no majority acknowledged it before the deadline. */
export function notCommittedInTime(index: number, term: number): WriteOutcome {
  return {
    ok: false,
    error: {
      code: 'TIMEOUT',
      message: `the write was appended at index ${index} of term ${term} but a majority did not acknowledge it in time; it may still commit (read the key to find out)`,
    },
  }
}

/** Held while the new leader's no-op committed, and the deadline came first: never appended. */
export function notReadyInTime(id: string): WriteOutcome {
  return {
    ok: false,
    error: {
      code: 'TIMEOUT',
      message: `leader ${id} was still bringing a majority up to date and did not take the write in time; it was not written, retry`,
    },
  }
}

/** Refused by the leader before appending: a majority is unreachable, so it never commits. */
export function leaderNoQuorum(id: string, reachable: readonly string[], members: number): WriteOutcome {
  return {
    ok: false,
    error: {
      code: 'NO_QUORUM',
      message: `leader ${id} reaches only ${reachable.length} of ${members} replicas (${reachable.join(', ')}); ${writeQuorum(members)} are needed, so the write was not written anywhere and never will be. Start the missing replicas or heal the partition, then retry`,
    },
  }
}
