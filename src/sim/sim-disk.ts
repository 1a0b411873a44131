/**
 * One simulated replica's disk, behind the runner's DiskPort: what is durable (a snapshot and the
 * records appended since), and a queue of operations still waiting for their fsync.
 *
 * It fails the way the real DurableStore does:
 * - operations complete in call order, like the record log's queue: a compaction waits for every
 *   earlier append and replaces snapshot + records when it completes; later appends land after it;
 * - an fsync completes at once, or, while the disk is slow, at some later sync() (the simulator
 *   calls it at the end of a tick); callbacks run in order when it does;
 * - a crash keeps the durable part plus a random prefix of the unsynced appends that are not queued
 *   behind a compaction (the record log cuts a torn tail off), and drops every pending callback;
 * - faults for the nemesis: the next compaction may be torn (the snapshot renamed, the log not yet
 *   truncated, so replay starts before the snapshot), and the disk may lie about fsync (sabotage).
 *
 * A restart reads the disk through open(), the one place recovery starts from.
 */
import type {Rng} from '../core/rng.js'
import type {DiskPort} from '../runtime/ports.js'

/** What a restart finds on the disk: replay `records` in order over `snapshot` (null: start empty). */
export interface DiskContents {
  readonly snapshot: unknown | null
  readonly records: readonly unknown[]
}

type Op =
  | {readonly kind: 'append'; readonly records: readonly unknown[]; readonly onDone: () => void}
  | {readonly kind: 'compact'; readonly state: unknown; readonly keepRecords: number; readonly onDone: () => void}
  | {readonly kind: 'mark'; readonly onDone: () => void}

/** The world's current weather for disks (read at each decision). */
export interface DiskConditions {
  /** The chance that an fsync is still unfinished when it is asked for. */
  readonly slowDisk: number
  /**
   * Sabotage for testing the checkers end to end: the disk lies about fsync, so a crash also loses
   * the last few records it had reported durable. A correct core cannot survive that; the checkers
   * must notice.
   */
  readonly fsyncLies: boolean
}

/** What a crash did to the unsynced appends (for the trace and the run's stats). */
export interface CrashLoss {
  readonly kept: number
  readonly unsynced: number
}

export class SimDisk implements DiskPort<unknown, unknown> {
  private durableSnapshot: unknown | null = null
  private durableRecords: unknown[] = []
  private queue: Op[] = []
  private syncing = false
  private syncAgain = false
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
    // Serialised now, as the real log encodes at append: the core may keep mutating its objects.
    this.push({kind: 'append', records: clone(records), onDone: onDurable})
  }

  compact(state: unknown, onDone: () => void): void {
    const keepRecords = this.tornCompactionKeep
    this.tornCompactionKeep = 0
    this.push({kind: 'compact', state: clone(state), keepRecords, onDone})
  }

  markRecovered(onDone: () => void): void {
    this.push({kind: 'mark', onDone})
  }

  get recordsSinceSnapshot(): number {
    return this.durableRecords.length
  }

  // ---- what restarts and checkers read -------------------------------------------------------

  /** The durable snapshot (null before the first compaction). */
  get snapshot(): unknown | null {
    return this.durableSnapshot
  }

  /** The durable records since the snapshot. */
  get records(): readonly unknown[] {
    return this.durableRecords
  }

  /** What a restart recovers: a private copy of the durable contents. */
  open(): DiskContents {
    return {snapshot: clone(this.durableSnapshot), records: clone(this.durableRecords)}
  }

  // ---- the world -----------------------------------------------------------------------------

  /** Completes every queued operation's fsync, in order (callbacks may queue more; so does their turn). */
  sync(): void {
    if (this.syncing) {
      this.syncAgain = true
      return
    }
    this.syncing = true
    try {
      do {
        this.syncAgain = false
        const ops = this.queue
        this.queue = []
        for (const op of ops) this.complete(op)
      } while (this.syncAgain && this.queue.length > 0)
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
    const unsynced = written.flatMap((op) => (op.kind === 'append' ? op.records : []))
    const kept = unsynced.length === 0 ? 0 : this.rng.int(unsynced.length + 1)
    this.durableRecords.push(...unsynced.slice(0, kept))
    if (this.conditions.fsyncLies) this.durableRecords.splice(Math.max(0, this.durableRecords.length - 1 - this.rng.int(10)))
    this.queue = []
    return {kept, unsynced: unsynced.length}
  }

  private push(op: Op): void {
    this.queue.push(op)
    // Usually the group commit is done long before anything else happens; a slow disk holds it
    // (and every later operation, which keeps its order) until a later sync().
    if (this.rng.next() >= this.conditions.slowDisk) this.sync()
  }

  private complete(op: Op): void {
    switch (op.kind) {
      case 'append':
        this.durableRecords.push(...op.records)
        break
      case 'compact':
        this.durableSnapshot = op.state
        this.durableRecords = op.keepRecords > 0 ? this.durableRecords.slice(-op.keepRecords) : []
        break
      case 'mark':
        this.recoveredMarked = true
        break
    }
    op.onDone()
  }
}

function clone<T>(x: T): T {
  return x === null || x === undefined ? x : (JSON.parse(JSON.stringify(x)) as T)
}
