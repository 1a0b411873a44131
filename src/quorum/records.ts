/**
 * What the quorum replica persists: log records (replayed in order after the snapshot) and the
 * snapshot itself. The driver makes an Output's records durable before it sends that Output's
 * messages, which is what lets a VOTE or an APPEND_ACK promise durability.
 *
 * Replay is idempotent, because a crash between writing a snapshot and truncating the log replays
 * records the snapshot already holds (see recovery.ts for why each kind is safe to repeat).
 */
import type {KeyVersion, LogEntry} from './types.js'

export type QuorumRecord =
  /** The replica's term and its vote in that term (Raft's hard state); written before answering. */
  | {t: 'term'; term: number; vote: string | null}
  /** Entries now in the log at their indexes (a conflicting suffix was dropped first, see truncate). */
  | {t: 'entries'; entries: LogEntry[]}
  /** A follower dropped its uncommitted entries from `from` on, because the leader's differ. */
  | {t: 'truncate'; from: number}
  /** The commit index grew to `index` (persistSoon: a lost one is learnt again from the leader). */
  | {t: 'commit'; index: number}
  /**
   * A snapshot installed from the leader, written as begin, keys..., end in one Output: a torn
   * write leaves no `end`, and recovery then ignores the whole install.
   */
  | {t: 'install.begin'; index: number; term: number}
  | {t: 'install.keys'; index: number; keys: [string, KeyVersion][]}
  | {t: 'install.end'; index: number; term: number}
  /**
   * The replica became a learner (it started empty or lost data; `done` false) or a voter again
   * (`done` true). Persisted so a crash while learning does not make it a voter on restart.
   */
  | {t: 'learner'; done: boolean}

/**
 * The state a snapshot holds: the applied key-value state at `lastIncludedIndex`, the log entries
 * after it (committed or not: nothing durable may exist only in the truncated log), and the hard state.
 */
export interface QuorumSnapshot {
  mode: 'quorum'
  id: string
  term: number
  vote: string | null
  commitIndex: number
  lastIncludedIndex: number
  lastIncludedTerm: number
  /** [key, state] pairs; an array from snapshot(), a chunk-by-chunk iterable from a snapshot file: iterate once. */
  keys: Iterable<[string, KeyVersion]>
  tail: LogEntry[]
  /** Present while the replica is a learner (see the `learner` record). */
  learner?: true
}
