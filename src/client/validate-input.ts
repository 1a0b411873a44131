/**
 * Client-side input checks. Every check throws KvError BAD_REQUEST before anything reaches the
 * broker, so a refused request has stored nothing anywhere. The replica checks again (it cannot
 * trust its clients); these exist so a user hears about a typo at once and with the reason.
 */
import {KvError} from '../core/errors.js'
import {LIMITS, checkId, checkKey, checkValue, utf8Bytes} from '../core/limits.js'
import type {ReplicaCount} from '../core/client-messages.js'

/** Context tokens are opaque to the client, but a token larger than this is certainly not ours (LIMITS). */
export const CONTEXT_BYTES_MAX = LIMITS.contextBytesMax

/**
 * Called by KvClient.put/delete/read and by the CLI before it connects. The rule and its words are
 * checkKey's, the same a replica answers with.
 */
export function validateKey(key: string): void {
  if (typeof key !== 'string') throw new KvError('BAD_REQUEST', 'the key must be a string')
  const problem = checkKey(key)
  if (problem !== null) throw new KvError('BAD_REQUEST', problem)
}

/** Called by KvClient.put and by the CLI before it connects (also after reading a value from stdin); checkValue's rule. */
export function validateValue(value: string): void {
  if (typeof value !== 'string') throw new KvError('BAD_REQUEST', 'the value must be a string')
  const problem = checkValue(value)
  if (problem !== null) throw new KvError('BAD_REQUEST', problem)
}

/** Called wherever a replica id comes from the user: --node, fault groups, nodeStatus(); checkId's rule. */
export function validateNodeId(id: string, what = 'replica id'): void {
  const problem =
    typeof id === 'string' ? checkId(id, what) : `${what} ${JSON.stringify(id)} is not valid; it must be a string`
  if (problem !== null) throw new KvError('BAD_REQUEST', problem)
}

/** Called by KvClient.connect: the cluster name is part of every channel and key name. */
export function validateClusterName(cluster: string): void {
  if (typeof cluster !== 'string' || !LIMITS.clusterPattern.test(cluster)) {
    throw new KvError(
      'BAD_REQUEST',
      `cluster name ${JSON.stringify(cluster)} is not valid; use 1 to 64 letters, digits, '.', '_' or '-'`,
    )
  }
}

/** Called by KvClient.put/delete: the token is opaque, only its size is bounded here. */
export function validateContext(context: string | undefined): void {
  if (context === undefined) return
  if (typeof context !== 'string')
    throw new KvError('BAD_REQUEST', 'the context must be the token string printed by kv read or kv put')
  if (utf8Bytes(context) > CONTEXT_BYTES_MAX) {
    throw new KvError(
      'BAD_REQUEST',
      `the context token is over ${CONTEXT_BYTES_MAX} bytes; pass the token printed by kv read or kv put`,
    )
  }
}

/** Called by KvClient for w and r given as values (the library API). */
export function validateReplicaCount(count: ReplicaCount | undefined, flag: 'w' | 'r'): void {
  if (count === undefined || count === 'quorum' || count === 'all') return
  if (typeof count === 'number' && Number.isInteger(count) && count >= 1 && count <= LIMITS.membersMax) return
  throw badReplicaCount(JSON.stringify(count), flag)
}

/** Called by the CLI for --w and --r, which arrive as text. */
export function parseReplicaCount(text: string | undefined, flag: 'w' | 'r'): ReplicaCount | undefined {
  if (text === undefined) return undefined
  if (text === 'quorum' || text === 'all') return text
  if (!/^[0-9]{1,3}$/.test(text)) throw badReplicaCount(JSON.stringify(text), flag)
  const count = Number(text)
  validateReplicaCount(count, flag)
  return count
}

function badReplicaCount(shown: string, flag: 'w' | 'r'): KvError {
  return new KvError(
    'BAD_REQUEST',
    `--${flag} ${shown} is not valid; use a count from 1 to ${LIMITS.membersMax}, quorum or all`,
  )
}

/** Called by KvClient for every wait: a positive integer, capped at LIMITS.requestTimeoutMsMax. */
export function validateTimeout(timeoutMs: number): number {
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new KvError(
      'BAD_REQUEST',
      `timeout ${JSON.stringify(timeoutMs)} is not valid; give a whole number of milliseconds, at least 1`,
    )
  }
  return Math.min(timeoutMs, LIMITS.requestTimeoutMsMax)
}

/**
 * Called by KvClient.partition and by `kv fault partition` (after splitting each GROUP at commas):
 * at least two non-empty groups of valid ids, no id in two groups.
 */
export function validatePartition(groups: string[][]): void {
  if (!Array.isArray(groups) || groups.length < 2) {
    throw new KvError('BAD_REQUEST', 'a partition needs at least two groups, e.g. kv fault partition n2 n1,n3,n4,n5')
  }
  if (groups.length > LIMITS.membersMax)
    throw new KvError('BAD_REQUEST', `a partition has at most ${LIMITS.membersMax} groups`)
  const seen = new Set<string>()
  for (const group of groups) {
    if (!Array.isArray(group) || group.length === 0)
      throw new KvError('BAD_REQUEST', 'a partition group is empty; each group lists replica ids separated by commas')
    for (const id of group) {
      validateNodeId(id)
      if (seen.has(id))
        throw new KvError('BAD_REQUEST', `replica ${id} appears in two groups; each replica belongs to one group`)
      seen.add(id)
    }
  }
  if (seen.size > LIMITS.membersMax)
    throw new KvError('BAD_REQUEST', `a partition names at most ${LIMITS.membersMax} replicas`)
}

/** Called by `kv fault partition`: "n1,n3" → ["n1","n3"] (blanks around commas are ignored). */
export function parsePartitionGroups(args: readonly string[]): string[][] {
  return args.map((group) =>
    group
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id.length > 0),
  )
}
