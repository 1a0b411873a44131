/**
 * Rebuilding a replica's durable state from its snapshot and the records appended after it. Called
 * once, by QuorumReplica.restore, before any step.
 *
 * The records may start before the snapshot (a crash between the snapshot rename and the log
 * truncate, or an Output still queued when the driver took the snapshot), so replay must be
 * idempotent and must tolerate records older than the state it is applied to:
 * - term: the term only grows; a vote is taken for the record's term only;
 * - commit: the maximum;
 * - entries: an entry at or below the base is already folded into the applied state and skipped; an
 *   equal entry is skipped; a conflicting one replaces the suffix; one past a gap, or one whose term is
 *   below the entry before it, is skipped. A stale
 *   record can only disagree with the state at a position that a later record in the same replay
 *   rewrites (the state came from those very records), so the end result is the newest log;
 * - truncate at or below the base is skipped (the base is applied, hence committed, never truncated);
 * - install: only an install past the base, and only once its `end` record is read.
 */
import {invariant} from '../core/invariant.js'
import {KeyValueState} from './kv-state.js'
import {ReplicatedLog} from './replicated-log.js'
import type {QuorumRecord, QuorumSnapshot} from './records.js'
import type {KeyVersion, LogEntry} from './types.js'

/** Everything a replica recovers; `kv` is the applied state at `log.snapshotIndex`. */
export interface RecoveredState {
  term: number
  vote: string | null
  commitIndex: number
  log: ReplicatedLog
  kv: KeyValueState
  /** It was a learner when it stopped: it still is (a crash while learning changes nothing). */
  learning: boolean
}

/**
 * Replays `records` over `snapshot`; the caller then applies entries up to `commitIndex`. With
 * `lostData` (the disk lost records) no `commit` record is believed: the records it covered may be
 * the lost ones (a truncate, or the entries a later leader put in place of uncommitted ones), so the
 * surviving log can hold a different entry at an index the record calls committed (simulator seed
 * 519: an older snapshot came back, the log after the gap said commit 14, the log's entry 14 was a
 * term-3 leftover, and the replica applied it). What stays true is what the snapshot (or an install)
 * had applied: the commit index goes back to that, and the learner learns the rest from the leader,
 * whose consistency check replaces whatever does not match.
 */
export function recover(
  snapshot: QuorumSnapshot | null,
  records: readonly QuorumRecord[],
  lostData = false,
): RecoveredState {
  const log = new ReplicatedLog()
  let kv = new KeyValueState()
  let term = 0
  let vote: string | null = null
  let commitIndex = 0
  let learning = snapshot?.learner === true
  if (snapshot) {
    term = snapshot.term
    vote = snapshot.vote
    commitIndex = snapshot.commitIndex
    log.resetTo(snapshot.lastIncludedIndex, snapshot.lastIncludedTerm)
    kv = KeyValueState.from(snapshot.keys)
    for (const e of snapshot.tail) replayEntry(log, e)
  }
  let staging: {index: number; term: number; keys: [string, KeyVersion][]} | null = null
  for (const r of records) {
    switch (r.t) {
      case 'term':
        if (r.term > term) {
          term = r.term
          vote = r.vote
        } else if (r.term === term && vote === null) vote = r.vote
        break
      case 'entries':
        for (const e of r.entries) replayEntry(log, e)
        break
      case 'truncate':
        if (r.from > log.snapshotIndex) log.truncateFrom(r.from)
        break
      case 'commit':
        commitIndex = Math.max(commitIndex, r.index)
        break
      case 'learner':
        learning = !r.done
        break
      case 'install.begin':
        staging = {index: r.index, term: r.term, keys: []}
        break
      case 'install.keys':
        if (staging?.index === r.index) staging.keys.push(...r.keys)
        break
      case 'install.end':
        if (staging?.index === r.index && staging.term === r.term && r.index > log.snapshotIndex) {
          kv = KeyValueState.from(staging.keys)
          if (log.termAt(r.index) === r.term) log.compactTo(r.index)
          else log.resetTo(r.index, r.term)
          commitIndex = Math.max(commitIndex, r.index)
        }
        staging = null
        break
    }
  }
  if (lostData) commitIndex = Math.min(Math.max(snapshot?.commitIndex ?? 0, log.snapshotIndex), log.lastIndex)
  invariant(
    commitIndex <= log.lastIndex,
    `recovered commit index ${commitIndex} is past the recovered log end ${log.lastIndex}`,
  )
  return {term, vote, commitIndex, log, kv, learning}
}

function replayEntry(log: ReplicatedLog, e: LogEntry): void {
  if (e.index <= log.snapshotIndex) return
  if (e.index <= log.lastIndex) {
    if (log.termAt(e.index) === e.term) return
    log.truncateFrom(e.index)
  }
  // Past a gap, or an older term after a newer one: a stale record whose position a later record
  // in this replay rewrites (the newer entry before it was written after it), so skip it.
  if (e.index !== log.lastIndex + 1 || e.term < log.lastTerm) return
  log.append(e)
}
