/**
 * A follower's handling of an APPEND's entries (Raft's AppendEntries receiver, steps 2–4): check that
 * its log matches the leader's at (prevIndex, prevTerm), drop a conflicting uncommitted suffix,
 * append what is new, and say which records make that durable.
 */
import {invariant} from '../core/invariant.js'
import type {QuorumRecord} from './records.js'
import type {ReplicatedLog} from './replicated-log.js'
import type {LogEntry} from './types.js'

export interface AppendOutcome {
  readonly success: boolean
  /** On success, the last index known to match the leader's log; on failure, where the leader should resume (hint). */
  readonly matchIndex: number
  /** To persist before acknowledging. */
  readonly records: QuorumRecord[]
}

/** Called by the follower for each APPEND of its current leader; mutates `log`. */
export function appendFromLeader(
  log: ReplicatedLog,
  commitIndex: number,
  msg: {readonly prevIndex: number; readonly prevTerm: number; readonly entries: readonly LogEntry[]},
): AppendOutcome {
  let {prevIndex, prevTerm} = msg
  let entries = msg.entries
  const lastSent = msg.prevIndex + msg.entries.length
  // At or below the commit index our log equals every leader's (Leader Completeness): skip that part.
  if (prevIndex < commitIndex) {
    const skip = Math.min(entries.length, commitIndex - prevIndex)
    if (skip > 0) prevTerm = (entries[skip - 1] as LogEntry).term
    prevIndex += skip
    entries = entries.slice(skip)
    if (prevIndex < commitIndex) return {success: true, matchIndex: lastSent, records: []}
  }
  if (prevIndex > log.lastIndex) return {success: false, matchIndex: log.lastIndex, records: []}
  const ourTerm = log.termAt(prevIndex)
  if (ourTerm !== prevTerm) {
    invariant(
      prevIndex > commitIndex,
      `committed entry ${prevIndex} has term ${ourTerm} here but ${prevTerm} at the leader`,
    )
    // Resume before the first entry of the conflicting term (one round trip per term, not per entry).
    let first = prevIndex
    while (first - 1 > commitIndex && log.termAt(first - 1) === ourTerm) first--
    return {success: false, matchIndex: first - 1, records: []}
  }
  const records: QuorumRecord[] = []
  let i = 0
  for (; i < entries.length; i++) {
    const e = entries[i] as LogEntry
    if (e.index > log.lastIndex) break
    if (log.termAt(e.index) === e.term) continue
    invariant(e.index > commitIndex, `the leader would overwrite committed entry ${e.index}`)
    log.truncateFrom(e.index)
    records.push({t: 'truncate', from: e.index})
    break
  }
  const fresh = entries.slice(i)
  for (const e of fresh) log.append(e)
  if (fresh.length) records.push({t: 'entries', entries: fresh})
  return {success: true, matchIndex: lastSent, records}
}
