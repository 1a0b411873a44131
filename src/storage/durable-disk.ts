/**
 * The runner's disk port (runtime/ports.ts DiskPort) over a DurableStore, for a real replica. The
 * Redis host creates one per process. DurableStore already runs appends and compactions in call
 * order, which is the port's promise.
 *
 * A failed disk stops the process: after a failed write or fsync we can no longer promise that what
 * we acknowledge is durable, and refusing to run is better than lying to clients.
 */
import type {DiskPort, Log} from '../runtime/ports.js'
import type {DurableStore} from './durable-store.js'

/** DurableStore.markRecovered, where the store has it (data-loss recovery). */
type MaybeRecoverable = {markRecovered?: () => Promise<void>}

export class DurableDisk<S, R> implements DiskPort<R, S> {
  constructor(
    private readonly store: DurableStore<S, R>,
    private readonly log: Log,
  ) {}

  append(records: readonly R[], onDurable: () => void): void {
    this.store.append(records).then(
      () => onDurable(),
      (error: unknown) => this.fail(error),
    )
  }

  compact(state: S, onDone: () => void): void {
    this.store.compact(state).then(
      () => onDone(),
      (error: unknown) => this.fail(error),
    )
  }

  markRecovered(onDone: () => void): void {
    const store = this.store as unknown as MaybeRecoverable
    if (typeof store.markRecovered !== 'function') return onDone()
    store.markRecovered().then(
      () => onDone(),
      (error: unknown) => this.fail(error),
    )
  }

  get recordsSinceSnapshot(): number {
    return this.store.recordsSinceSnapshot
  }

  private fail(error: unknown): never {
    this.log(
      'warn',
      `cannot write to the data dir ${this.store.dir}: ${error instanceof Error ? error.message : String(error)}; stopping`,
    )
    process.exit(1)
  }
}
