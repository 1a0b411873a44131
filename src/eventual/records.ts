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

export interface EventualSnapshot {
  mode: 'eventual'
  id: string
  /** The actor its dots use, when it is not `id` itself. */
  actor?: string
  members: string[]
  keys: [string, Siblings][]
}
