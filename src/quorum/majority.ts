/**
 * Majority maths of the quorum mode (etcd's quorum/majority.go in miniature). Every count here is
 * over the fixed membership given by --peers; ids outside it never count.
 */
import {majorityOf} from '../core/replica-count.js'

/** NW: how many replicas must hold a write before it commits (and vote for a leader). */
export function writeQuorum(members: number): number {
  return majorityOf(members)
}

/**
 * NR: how many replicas a read asks, the smallest count with NR + NW > N, so every read set meets
 * every write quorum. Used by the read loop of the replica that serves a client read.
 */
export function readQuorum(members: number): number {
  return members - writeQuorum(members) + 1
}

/** True when the members among `ids` form a majority of `members` (used for votes and read rounds). */
export function hasMajority(ids: Iterable<string>, members: readonly string[]): boolean {
  const set = new Set(members)
  let n = 0
  for (const id of new Set(ids)) if (set.has(id)) n++
  return n >= writeQuorum(members.length)
}

/**
 * The highest log index held by a majority, given every member's match index (the leader's own last
 * index included). The leader calls it after each ack to find what it may commit.
 */
export function majorityMatchIndex(matchIndexes: readonly number[]): number {
  if (matchIndexes.length === 0) return 0
  const sorted = [...matchIndexes].sort((a, b) => b - a)
  return sorted[writeQuorum(sorted.length) - 1] as number
}

/**
 * The most recent tick by which a majority had been heard from, given the tick each member was last
 * heard (the replica itself counts as `now`). The leader steps down when this is too old.
 */
export function majorityContactTick(lastHeardTicks: readonly number[]): number {
  if (lastHeardTicks.length === 0) return Number.NEGATIVE_INFINITY
  const sorted = [...lastHeardTicks].sort((a, b) => b - a)
  return sorted[writeQuorum(sorted.length) - 1] as number
}
