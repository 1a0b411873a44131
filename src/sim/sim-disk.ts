/**
 * One simulated replica's disk, behind the runner's DiskPort. It holds what the real data directory
 * holds, as bytes in the real formats: numbered log frames (storage/log-frames.ts), an encoded
 * snapshot (storage/snapshot-file.ts) and the RECOVERING marker; a restart judges them with the real
 * recovery policy (storage/recovery-policy.ts). So torn tails, corruption and lost files reach the
 * core exactly as they would from a real disk, and the core's answer to them is what is tested.
 *
 * It fails the way the real DurableStore does:
 * - operations complete in call order, like the record log's queue: a compaction waits for every
 *   earlier append and replaces snapshot + log when it completes; later appends land after it;
 * - an fsync completes at once, or, while the disk is slow, at some later sync() (the simulator
 *   calls it at the end of a tick); callbacks run in order when it does;
 * - a crash keeps the durable part plus a random prefix of the unsynced appends that are not queued
 *   behind a compaction, sometimes with the beginning of the next frame (a torn tail), and drops
 *   every pending callback;
 * - faults (the simulator's nemesis applies them while the replica is down): a torn compaction (the
 *   snapshot renamed, the log not yet truncated); a flipped byte in the middle of the log or in the
 *   snapshot; a wiped directory; an older snapshot coming back while the log runs on from the newer
 *   one. And two sabotages for testing the checkers: a disk that lies about fsync, and a replica
 *   blind to lost data (it is told its disk is whole: the old behaviour, which the checkers must flag).
 */
import type {RecoveryFacts} from '../core/recovery-facts.js'
import type {Rng} from '../core/rng.js'
import type {DiskPort} from '../runtime/ports.js'
import {decodeFrames, encodeFrame, FRAME_HEADER_BYTES} from '../storage/log-frames.js'
import {planRecovery} from '../storage/recovery-policy.js'
import {decodeSnapshot, encodeSnapshot, type SnapshotRead} from '../storage/snapshot-file.js'

/** What a restart finds on the disk: replay `records` in order over `snapshot` (null: start empty). */
export interface DiskContents {
  readonly snapshot: unknown
  readonly records: readonly unknown[]
  /** What the recovery policy made of the bytes (lost data, or an empty disk). */
  readonly facts: RecoveryFacts
  /** Repairs that lost nothing acknowledged (a torn tail), for the trace. */
  readonly warnings: readonly string[]
}

type Op =
  | {readonly kind: 'append'; readonly frames: readonly Buffer[]; readonly onDone: () => void}
  | {readonly kind: 'compact'; readonly snapshot: Buffer; readonly keepRecords: number; readonly onDone: () => void}
  | {readonly kind: 'mark'; readonly onDone: () => void}

/** The world's current weather for disks (read at each decision). */
export interface DiskConditions {
  /** The chance that an fsync is still unfinished when it is asked for. */
  slowDisk(): number
  /**
   * Sabotage for testing the checkers end to end: the disk lies about fsync, so a crash also loses
   * the last few records it had reported durable. A correct core cannot survive that; the checkers
   * must notice.
   */
  fsyncLies(): boolean
  /**
   * Sabotage: a restart hands the core whatever survived as if the disk were whole (no loss, not
   * empty), as the replica did before it learnt to tell lost data from a torn tail.
   */
  lossBlind(): boolean
}

/** What a crash did to the unsynced appends (for the trace and the run's stats). */
export interface CrashLoss {
  readonly kept: number
  readonly unsynced: number
  readonly torn: boolean
}

const FILES = {snapshot: 'snapshot.json', log: 'log.bin', marker: 'RECOVERING'}

export class SimDisk implements DiskPort<unknown, unknown> {
  /** The durable files. */
  private snapshotBytes: Buffer | null = null
  private frames: Buffer[] = []
  /** The beginning of a frame a crash interrupted (the torn tail), if any. */
  private tail: Buffer | null = null
  private marker: string | null = null
  /** The snapshot before the current one, for the "older snapshot came back" fault. */
  private previousSnapshot: Buffer | null = null
  /** The seq the next append gets; assigned at call time, as the real log does. */
  private nextSeq = 1
  private queue: Op[] = []
  private syncing = false
  /** sync() calls so far: one made by a callback while a sync runs asks that sync for another round. */
  private syncCalls = 0
  /** Fault: the next compaction leaves this many of the newest records in the log. */
  private tornCompactionKeep = 0
  /** True once a markRecovered completed (the data-loss recovery's marker is gone). */
  recoveredMarked = false

  constructor(
    private readonly rng: Rng,
    private readonly conditions: DiskConditions,
  ) {}

  // ---- the runner's port ---------------------------------------------------------------------

  append(records: readonly unknown[], onDurable: () => void): void {
    // Encoded now, as the real log does at append: the core may keep mutating its objects.
    const frames = records.map((r) => encodeFrame(this.nextSeq++, r))
    this.push({kind: 'append', frames, onDone: onDurable})
  }

  compact(state: unknown, onDone: () => void): void {
    const keepRecords = this.tornCompactionKeep
    this.tornCompactionKeep = 0
    this.push({kind: 'compact', snapshot: encodeSnapshot(state, this.nextSeq - 1), keepRecords, onDone})
  }

  markRecovered(onDone: () => void): void {
    this.push({kind: 'mark', onDone})
  }

  get recordsSinceSnapshot(): number {
    return this.frames.length
  }

  // ---- what restarts and checkers read -------------------------------------------------------

  /** The durable snapshot's state (null before the first compaction, or if it is unreadable). */
  get snapshot(): unknown {
    const read = this.readSnapshot()
    return read.kind === 'ok' ? read.state : null
  }

  /** The durable records a restart would replay over the snapshot. */
  get records(): readonly unknown[] {
    return this.judge().records
  }

  /**
   * A restart: judges the bytes with the real recovery policy, repairs what it says to (cut the log,
   * write the marker), and returns what the core restores from.
   */
  open(): DiskContents {
    const plan = this.judge()
    if (plan.facts.loss && this.marker === null) this.marker = plan.facts.loss.what
    if (plan.truncateLog !== null) this.frames = this.frames.slice(0, plan.truncateLog.records)
    this.tail = null
    this.nextSeq = plan.nextSeq
    this.recoveredMarked = false
    const facts = this.conditions.lossBlind() ? {loss: null, empty: false} : plan.facts
    if (this.conditions.lossBlind()) this.marker = null
    return {snapshot: plan.snapshot, records: plan.records, facts, warnings: plan.warnings}
  }

  // ---- the world -----------------------------------------------------------------------------

  /** Completes every queued operation's fsync, in order (callbacks may queue more; so does their turn). */
  sync(): void {
    this.syncCalls++
    if (this.syncing) return
    this.syncing = true
    try {
      let round: number
      do {
        round = this.syncCalls
        const ops = this.queue
        this.queue = []
        for (const op of ops) this.complete(op)
      } while (this.syncCalls !== round && this.queue.length > 0)
    } finally {
      this.syncing = false
    }
  }

  /** Fault: the next compaction is torn (see the header); `keepRecords` newest records stay in the log. */
  tearNextCompaction(keepRecords: number): void {
    this.tornCompactionKeep = keepRecords
  }

  /** kill -9: the unsynced tail survives only in part, and nobody is told about anything pending. */
  crash(): CrashLoss {
    const blocked = this.queue.findIndex((op) => op.kind === 'compact')
    const written = blocked < 0 ? this.queue : this.queue.slice(0, blocked)
    const unsynced = written.flatMap((op) => (op.kind === 'append' ? op.frames : []))
    const kept = unsynced.length === 0 ? 0 : this.rng.int(unsynced.length + 1)
    this.frames.push(...unsynced.slice(0, kept))
    const next = unsynced[kept]
    // Half the time the write of the next frame had begun: a torn tail the policy must cut off.
    const torn = next !== undefined && this.rng.next() < 0.5
    if (torn) this.tail = next.subarray(0, 1 + this.rng.int(next.length - 1))
    if (this.conditions.fsyncLies()) this.frames.splice(Math.max(0, this.frames.length - 1 - this.rng.int(10)))
    this.queue = []
    return {kept, unsynced: unsynced.length, torn}
  }

  /** Fault: flip one byte of a log frame that has intact frames after it. False if the log is too short. */
  corruptLog(): boolean {
    if (this.frames.length < 2) return false
    const i = this.rng.int(this.frames.length - 1)
    this.frames[i] = flipByte(this.frames[i] as Buffer, this.rng)
    return true
  }

  /** Fault: flip one byte of the snapshot body. False if there is no snapshot. */
  corruptSnapshot(): boolean {
    if (this.snapshotBytes === null) return false
    const newline = this.snapshotBytes.indexOf(0x0a)
    const at = newline + 1 + this.rng.int(this.snapshotBytes.length - newline - 1)
    this.snapshotBytes = flipByte(this.snapshotBytes, this.rng, at)
    return true
  }

  /** Fault: the data directory is gone (rm -rf); the replica restarts on an empty one. */
  wipe(): void {
    this.snapshotBytes = null
    this.previousSnapshot = null
    this.frames = []
    this.tail = null
    this.marker = null
    this.nextSeq = 1
  }

  /**
   * Fault: the previous snapshot comes back (a lost rename, a restored backup) while the log runs on
   * from the newer one. Only offered when the log holds records, so the gap shows: with an empty log
   * an older snapshot is a consistent older state that no disk can tell from the truth (README).
   */
  revertSnapshot(): boolean {
    if (this.previousSnapshot === null || this.frames.length === 0) return false
    this.snapshotBytes = this.previousSnapshot
    this.previousSnapshot = null
    return true
  }

  private readSnapshot(): SnapshotRead<unknown> {
    return this.snapshotBytes === null ? {kind: 'missing'} : decodeSnapshot(this.snapshotBytes)
  }

  private judge() {
    const bytes = this.tail ? Buffer.concat([...this.frames, this.tail]) : Buffer.concat(this.frames)
    return planRecovery<unknown, unknown>({
      snapshot: this.readSnapshot(),
      log: decodeFrames<unknown>(bytes),
      marker: this.marker,
      files: FILES,
    })
  }

  private push(op: Op): void {
    this.queue.push(op)
    // Usually the group commit is done long before anything else happens; a slow disk holds it
    // (and every later operation, which keeps its order) until a later sync().
    if (this.rng.next() >= this.conditions.slowDisk()) this.sync()
  }

  private complete(op: Op): void {
    switch (op.kind) {
      case 'append':
        this.frames.push(...op.frames)
        break
      case 'compact':
        this.previousSnapshot = this.snapshotBytes
        this.snapshotBytes = op.snapshot
        this.frames = op.keepRecords > 0 ? this.frames.slice(-op.keepRecords) : []
        break
      case 'mark':
        this.marker = null
        this.recoveredMarked = true
        break
    }
    op.onDone()
  }
}

/** A copy of `bytes` with one bit flipped at `at` (default: anywhere past the frame header's length field). */
function flipByte(
  bytes: Buffer,
  rng: Rng,
  at = FRAME_HEADER_BYTES / 4 + rng.int(bytes.length - FRAME_HEADER_BYTES / 4),
): Buffer {
  const copy = Buffer.from(bytes)
  copy[at] = (copy[at] as number) ^ (1 << rng.int(8))
  return copy
}
