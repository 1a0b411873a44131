/**
 * What the eventual replica persists: log records (one per changed key or learnt member) and the
 * snapshot. Replaying records is idempotent (a key record is merged, never blindly assigned).
 */
import type {Siblings} from './types.js'

export type EventualRecord = {t: 'key'; key: string; siblings: Siblings} | {t: 'member'; id: string}

export interface EventualSnapshot {
  mode: 'eventual'
  id: string
  members: string[]
  keys: [string, Siblings][]
}
