/**
 * What a data directory's contents mean: a torn tail (drop it, carry on) or lost data (say so, and
 * let the core act on it). Pure, so the real store (durable-store.ts) and the simulator's disk
 * (src/sim/sim-disk.ts) judge the same bytes the same way.
 *
 * Only the very end of a log may be torn (etcd's WAL and TigerBeetle draw the same line): a crash
 * mid-append leaves the beginning of one frame, never an intact frame after a damaged one. Every
 * other inconsistency is data loss:
 * - a bad frame followed by intact ones (corruption in the middle of the log);
 * - a snapshot that cannot be read;
 * - no snapshot, but a log that starts after record 1 (it was compacted into a snapshot that is gone);
 * - a log that starts after the record the snapshot ends at (records in between are gone: an old
 *   snapshot came back, or the log lost its head);
 * - a snapshot without its log file (the directory lost a file);
 * - a RECOVERING marker: an earlier start found loss and the replica had not caught up since.
 */
import type {DiskLoss, RecoveryFacts} from '../core/recovery-facts.js'
import type {DecodedLog} from './log-frames.js'
import type {SnapshotRead} from './snapshot-file.js'

/** What was found in a data directory. */
export interface DiskContents<S, R> {
  readonly snapshot: SnapshotRead<S>
  /** null: there is no log file at all. */
  readonly log: DecodedLog<R> | null
  /** The RECOVERING marker's text, or null if there is none. */
  readonly marker: string | null
  /** File names for the messages (paths in the real store, names in the simulator). */
  readonly files: {readonly snapshot: string; readonly log: string; readonly marker: string}
}

export interface RecoveryPlan<S, R> {
  /** Replay `records` over `snapshot` (null: start from nothing). */
  readonly snapshot: S | null
  readonly records: R[]
  /** The seq the next appended record gets. */
  readonly nextSeq: number
  /**
   * Cut the log file to `bytes` (keeping `records` frames) before appending; null: leave it. Whatever
   * stays must end right before `nextSeq`, or the next append would leave a gap in the file.
   */
  readonly truncateLog: {readonly bytes: number; readonly records: number} | null
  /** Repairs that lose nothing acknowledged (a torn tail); one log line each. */
  readonly warnings: string[]
  readonly facts: RecoveryFacts
}

/** Judges what `open` found; never throws. */
export function planRecovery<S, R>(found: DiskContents<S, R>): RecoveryPlan<S, R> {
  const {files} = found
  const losses: DiskLoss[] = []
  const warnings: string[] = []
  const frames = found.log?.frames ?? []
  const bad = found.log?.bad ?? null
  if (bad?.goodFrameAfter) {
    losses.push({
      file: files.log,
      what:
        `a damaged frame at byte ${bad.offset} (${bad.reason}) is followed by intact frames: the ${frames.length} ` +
        `record(s) before it are kept, everything from it on is lost`,
    })
  } else if (bad) {
    warnings.push(
      `log ${files.log}: dropped a torn tail at byte ${bad.offset} after ${frames.length} good record(s) (${bad.reason}); ` +
        `a crash interrupted that append, so nothing in it had been acknowledged`,
    )
  }
  const firstSeq = frames[0]?.seq ?? null
  const snap = found.snapshot
  let lastSeq = 0
  if (snap.kind === 'bad') {
    losses.push({
      file: files.snapshot,
      what: `the snapshot is unreadable (${snap.reason}): the state compacted into it is lost`,
    })
  } else if (snap.kind === 'missing') {
    if (firstSeq !== null && firstSeq > 1) {
      losses.push({
        file: files.snapshot,
        what: `the snapshot is missing but the log starts at record ${firstSeq}: records 1..${firstSeq - 1} were compacted into a snapshot that is gone`,
      })
    }
  } else {
    lastSeq = snap.lastSeq
    if (firstSeq !== null && firstSeq > lastSeq + 1) {
      losses.push({
        file: files.log,
        what: `the log starts at record ${firstSeq} but the snapshot ends at record ${lastSeq}: records ${lastSeq + 1}..${firstSeq - 1} are lost (an older snapshot came back?)`,
      })
    }
    if (found.log === null) {
      losses.push({
        file: files.log,
        what: 'the log file is missing beside the snapshot: records appended after the snapshot may be lost',
      })
    }
  }
  if (found.marker !== null) {
    losses.push({
      file: files.marker,
      what: `an earlier start found lost data and the replica had not caught up since (${found.marker.trim()})`,
    })
  }
  const records = frames.filter((f) => f.seq > lastSeq).map((f) => f.record)
  const last = frames.at(-1)?.seq ?? 0
  // Every kept frame is covered by the snapshot: empty the log, so numbering continues without a gap.
  const covered = frames.length > 0 && last < lastSeq
  const truncateLog = covered
    ? {bytes: 0, records: 0}
    : bad
      ? {bytes: (found.log as DecodedLog<R>).goodBytes, records: frames.length}
      : null
  const loss: DiskLoss | null =
    losses.length === 0
      ? null
      : losses.length === 1
        ? (losses[0] as DiskLoss)
        : {file: (losses[0] as DiskLoss).file, what: losses.map((l) => `${l.file}: ${l.what}`).join('; ')}
  return {
    snapshot: snap.kind === 'ok' ? snap.state : null,
    records,
    nextSeq: Math.max(lastSeq, last) + 1,
    truncateLog,
    warnings,
    facts: {loss, empty: loss === null && snap.kind === 'missing' && frames.length === 0},
  }
}
