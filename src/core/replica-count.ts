/**
 * Turning --w / --r into a number of replicas. Shared by both modes and by the client's validation.
 */
import type {ReplicaCount} from './client-messages.js'

/** Smallest majority of `members` (NW >= N/2 + 1 in the seed's words). */
export function majorityOf(members: number): number {
  return Math.floor(members / 2) + 1
}

/** The count a request asks for, or an error text when it cannot mean anything for `members`. */
export function resolveReplicaCount(
  count: ReplicaCount | undefined,
  members: number,
  fallback: number,
): number | string {
  if (count === undefined) return fallback
  if (count === 'quorum') return majorityOf(members)
  if (count === 'all') return members
  if (!Number.isSafeInteger(count) || count < 1) return `replica count must be a positive integer, 'quorum' or 'all'`
  if (count > members) return `asked for ${count} replicas but the cluster has ${members} members`
  return count
}

/** Untrusted input check (wire). */
export function isReplicaCount(x: unknown): x is ReplicaCount {
  return x === 'quorum' || x === 'all' || (typeof x === 'number' && Number.isSafeInteger(x) && x >= 1 && x <= 1000)
}
