/**
 * The applied state machine: key → last committed write (value or tombstone, and its version).
 * Tombstones stay so that a read can still tell which write deleted a key.
 */
import type {KeyVersion, LogEntry} from './types.js'

/** Owned by the replica; changed only by applying committed entries in index order, or by a snapshot. */
export class KeyValueState {
  private readonly data = new Map<string, KeyVersion>()
  private live = 0

  /** Builds the state a snapshot holds. */
  static from(keys: Iterable<readonly [string, KeyVersion]>): KeyValueState {
    const s = new KeyValueState()
    for (const [k, v] of keys) s.set(k, v)
    return s
  }

  get(key: string): KeyVersion | undefined {
    return this.data.get(key)
  }

  /** Keys with a value (tombstones excluded), for status. */
  get liveKeys(): number {
    return this.live
  }

  /** Apply one committed entry (no-ops change nothing). */
  apply(e: LogEntry): void {
    if (!e.cmd) return
    this.set(e.cmd.key, {value: e.cmd.value, version: {term: e.term, index: e.index}})
  }

  entries(): [string, KeyVersion][] {
    return [...this.data.entries()]
  }

  private set(key: string, v: KeyVersion): void {
    const old = this.data.get(key)
    if (old && old.value !== null) this.live--
    if (v.value !== null) this.live++
    this.data.set(key, v)
  }
}
