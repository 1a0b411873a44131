/**
 * Data types of the quorum mode: the replicated log's entries and the applied state they build.
 * A write is named by the log position that committed it, (term, index): that is its version.
 */
import type {LogVersion} from '../core/client-messages.js'

export type {LogVersion}

/** A client write carried by the log; `value: null` is a delete (a tombstone). */
export interface Command {
  readonly key: string
  readonly value: string | null
}

/**
 * One log entry. `cmd: null` is the no-op a new leader appends in its own term: committing it
 * commits everything before it (Raft §5.4.2), after which the leader may serve.
 */
export interface LogEntry {
  readonly term: number
  readonly index: number
  readonly cmd: Command | null
}

/** A key's applied state: the last committed write of the key and where it sits in the log. */
export interface KeyVersion {
  readonly value: string | null
  readonly version: LogVersion
}

/** Role of a replica in the current term. */
export type QuorumRole = 'leader' | 'follower' | 'candidate'
