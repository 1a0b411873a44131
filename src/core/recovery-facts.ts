/**
 * What a replica's disk said about itself at start, handed to the core's restore(): the storage
 * layer finds the facts (src/storage/recovery-policy.ts), the core decides what they mean for its
 * protocol (a new actor for its dots; no vote until it caught up), and says when it is whole again
 * with the `recovered` effect.
 */

/** Data the disk had acknowledged and no longer holds, found at start. */
export interface DiskLoss {
  /** The file that shows the loss (snapshot.json, log.bin, RECOVERING). */
  readonly file: string
  /** What was lost, in words a log line can carry. */
  readonly what: string
}

export interface RecoveryFacts {
  /** Non-null: the replica must not act on its restored state as if it were whole. */
  readonly loss: DiskLoss | null
  /** Nothing at all on disk: a brand-new replica, or one whose data directory was wiped. */
  readonly empty: boolean
}

export const WHOLE_DISK: RecoveryFacts = {loss: null, empty: false}
