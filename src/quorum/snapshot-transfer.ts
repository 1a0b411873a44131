/**
 * Catch-up by snapshot: when a follower needs entries the leader has already folded into its applied
 * state, the leader sends that state in numbered chunks, one at a time (stop and wait: each chunk is
 * acked, a lost one is resent on the next heartbeat). The follower stages the chunks in memory and
 * installs them all at once, persisted as one group of records, after the last one.
 */
import {LIMITS} from '../core/limits.js'
import type {KeyVersion} from './types.js'

/** A staged transfer may not grow past this; a bigger state is refused (the leader keeps retrying). */
export const INSTALL_BYTES_MAX = 512 * 1024 * 1024

function pairBytes(key: string, v: KeyVersion): number {
  return key.length + (v.value?.length ?? 0) + 64
}

/**
 * Cuts a frozen applied state into chunks under the batch limits; an empty state is one empty chunk.
 * Called by the leader when a transfer to a follower starts.
 */
export function chunkState(keys: readonly [string, KeyVersion][]): [string, KeyVersion][][] {
  const chunks: [string, KeyVersion][][] = []
  let current: [string, KeyVersion][] = []
  let bytes = 0
  for (const [k, v] of keys) {
    const size = pairBytes(k, v)
    if (current.length > 0 && (bytes + size > LIMITS.batchBytesMax || current.length >= LIMITS.batchEntriesMax * 4)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push([k, v])
    bytes += size
  }
  chunks.push(current)
  return chunks
}

/** The leader's side of one transfer to one follower. */
export interface OutgoingTransfer {
  readonly index: number
  readonly snapshotTerm: number
  readonly chunks: [string, KeyVersion][][]
  /** The chunk to send next (acked chunks are below it). */
  next: number
}

/** What a follower does with one INSTALL_SNAPSHOT chunk. */
export type ChunkOutcome =
  /** Ack this seq (-1: start over) and wait for the next chunk. */
  | {kind: 'ack'; seq: number}
  /** The last chunk arrived in order: install these keys (then ack done). */
  | {kind: 'complete'; chunks: [string, KeyVersion][][]}

/** The follower's side: chunks of one (leader term, index) transfer, staged in memory until the last. */
export class IncomingTransfer {
  private readonly chunks: [string, KeyVersion][][] = []
  private bytes = 0

  constructor(
    readonly leaderTerm: number,
    readonly index: number,
    readonly snapshotTerm: number,
  ) {}

  /** Called by the follower for each chunk of this transfer, in whatever order the network delivers. */
  receive(seq: number, keys: readonly (readonly [string, KeyVersion])[], done: boolean): ChunkOutcome {
    if (seq !== this.chunks.length) return {kind: 'ack', seq: this.chunks.length - 1}
    for (const [k, v] of keys) this.bytes += pairBytes(k, v)
    if (this.bytes > INSTALL_BYTES_MAX) {
      this.chunks.length = 0
      this.bytes = 0
      return {kind: 'ack', seq: -1}
    }
    this.chunks.push(keys.map(([k, v]) => [k, v]))
    return done ? {kind: 'complete', chunks: this.chunks} : {kind: 'ack', seq}
  }
}
