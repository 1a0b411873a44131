/**
 * The history a nemesis run builds: every client operation as a HistoryOp (src/check/history.ts),
 * with invoke/complete times from performance.now() relative to the run's start (monotonic, so
 * only their order matters, as the checkers assume).
 */
import type {HistoryOp} from '../check/history.js'

/** Times are kept to the microsecond: enough to order events, short enough to read in the JSON. */
function micro(ms: number): number {
  return Math.round(ms * 1000) / 1000
}

/** One per run; shared by every client worker and the final reads. */
export class HistoryRecorder {
  readonly ops: HistoryOp[] = []
  /** op id → the error message of a fail or unknown op (for reading a saved run; checkers ignore it). */
  readonly errorMessages: Record<number, string> = {}
  private nextId = 1

  constructor(private readonly t0: number) {}

  /** Milliseconds since the run started. */
  now(): number {
    return micro(performance.now() - this.t0)
  }

  /** Appends one finished (or given-up) operation with the next id; returns it. */
  record(op: Omit<HistoryOp, 'id'>, errorMessage?: string): HistoryOp {
    const full: HistoryOp = {id: this.nextId++, ...op}
    this.ops.push(full)
    if (errorMessage !== undefined) this.errorMessages[full.id] = errorMessage
    return full
  }
}
