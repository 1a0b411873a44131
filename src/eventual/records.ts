/**
 * What the eventual replica persists: log records (one per changed key or learnt member) and the
 * snapshot. Replaying records is idempotent (a key record is merged, never blindly assigned).
 */
import type {Siblings} from './types.js'

export type EventualRecord =
  | {t: 'key'; key: string; siblings: Siblings}
  | {t: 'member'; id: string}
  /** The replica writes as `actor` from now on (taken after data loss; see actor.ts). */
  | {t: 'actor'; actor: string}
  /**
   * It started empty and began catching up (`done` false), or finished (`done` true). Persisted so
   * a crash during the catch-up does not make it coordinate writes as if it were whole on restart.
   */
  | {t: 'catchup'; done: boolean}
  /** Its own incarnation (`id` is its own id), or one heard from peer `id` in a heartbeat. */
  | {t: 'incarnation'; id: string; inc: string}

export interface EventualSnapshot {
  mode: 'eventual'
  id: string
  /** The actor its dots use, when it is not `id` itself. */
  actor?: string
  /** Present while it catches up after starting empty (see the `catchup` record). */
  catchingUp?: true
  /** Its own incarnation and the incarnations it heard of each peer (latest last). */
  incarnations?: [string, string[]][]
  members: string[]
  /**
   * [key, state] pairs; an array when a core makes it, an iterable read chunk by chunk when it
   * comes from a snapshot file (storage/snapshot-file.ts), so iterate it once.
   */
  keys: Iterable<[string, Siblings]>
}
