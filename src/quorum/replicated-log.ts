/**
 * The replicated log in memory: entries after a base (the last index folded into the applied state,
 * with its term), so the log can forget what every replica that still needs it can get as a snapshot.
 * Mutations here are the live ones and assert the Raft rules; recovery.ts replays records leniently.
 */
import {invariant} from '../core/invariant.js'
import type {LogEntry} from './types.js'

/** Rough payload size of an entry, for cutting APPEND batches. */
export function entryBytes(e: LogEntry): number {
  return 48 + (e.cmd ? e.cmd.key.length + (e.cmd.value?.length ?? 0) : 0)
}

/** The log of one replica; the replica owns it and mutates it only through these methods. */
export class ReplicatedLog {
  private entries: LogEntry[] = []
  private base = 0
  private baseTerm = 0

  /** Index of the last entry no longer held (0 = nothing forgotten). */
  get snapshotIndex(): number {
    return this.base
  }

  get snapshotTerm(): number {
    return this.baseTerm
  }

  get lastIndex(): number {
    return this.base + this.entries.length
  }

  get lastTerm(): number {
    return this.entries.length ? (this.entries[this.entries.length - 1] as LogEntry).term : this.baseTerm
  }

  /** Term of the entry at `index`; the base's term at the base; undefined when not held. */
  termAt(index: number): number | undefined {
    if (index === this.base) return this.baseTerm
    return this.entryAt(index)?.term
  }

  entryAt(index: number): LogEntry | undefined {
    if (index <= this.base) return undefined
    return this.entries[index - this.base - 1]
  }

  /** Entries from `from` on, cut at `maxEntries` or `maxBytes` (the first one always fits). */
  slice(from: number, maxEntries: number, maxBytes: number): LogEntry[] {
    invariant(from > this.base, `slice from ${from} is at or below the log base ${this.base}`)
    const out: LogEntry[] = []
    let bytes = 0
    for (let i = from - this.base - 1; i < this.entries.length && out.length < maxEntries; i++) {
      const e = this.entries[i] as LogEntry
      bytes += entryBytes(e)
      if (out.length > 0 && bytes > maxBytes) break
      out.push(e)
    }
    return out
  }

  /** Every held entry after `index` (for snapshots: the part not yet applied). */
  after(index: number): LogEntry[] {
    return this.entries.slice(Math.max(0, index - this.base))
  }

  /** Append at the end; the index must be the next one and terms never go down. */
  append(e: LogEntry): void {
    invariant(e.index === this.lastIndex + 1, `append at ${e.index} but the log ends at ${this.lastIndex}`)
    invariant(e.term >= this.lastTerm, `append of term ${e.term} after term ${this.lastTerm}`)
    this.entries.push(e)
  }

  /** Drop entries from `from` on (a follower's conflicting suffix). Never below the base. */
  truncateFrom(from: number): void {
    invariant(from > this.base, `truncate from ${from} at or below the log base ${this.base}`)
    if (from <= this.lastIndex) this.entries.length = from - this.base - 1
  }

  /** Forget entries up to `index`, which must be held (called once they are applied). */
  compactTo(index: number): void {
    if (index <= this.base) return
    const term = this.termAt(index)
    invariant(term !== undefined, `compact to ${index} beyond the log end ${this.lastIndex}`)
    this.entries = this.entries.slice(index - this.base)
    this.base = index
    this.baseTerm = term
  }

  /** Start over at a snapshot's (index, term): everything held is dropped. */
  resetTo(index: number, term: number): void {
    this.entries = []
    this.base = index
    this.baseTerm = term
  }
}
