/**
 * The eventual replica's in-memory data: key → sibling set, plus anti-entropy digests kept up to
 * date incrementally (a bucket's digest is the XOR of its keys' hashes, so a change costs O(1)).
 *
 * Laid out for a million keys in a few hundred MB: each key has a slot number; its state sits in
 * `states` (a lone version bare, without the one-element array around it, since that is the
 * common case) and its 64-bit hash in two words of `hashWords`, not as a 16-character string in a
 * second Map. Keys are never removed (a delete is a tombstone version), so slots only grow.
 */
import {hashToBucket, hashWords, hexWords} from '../core/hash.js'
import {outOfRange} from '../core/invariant.js'
import {canonicalSiblings, isFound} from './siblings.js'
import type {Siblings, Version} from './types.js'

const EMPTY: Siblings = Object.freeze([])
const INITIAL_SLOTS = 1024

export class KeyStore {
  private readonly slots = new Map<string, number>()
  /** Slot → state: a Version when the state is exactly that one version, else the Siblings. */
  private readonly states: (Version | Siblings)[] = []
  /** Slot s's hash is [hashWords[2s], hashWords[2s+1]] (high, low). */
  private hashWords = new Uint32Array(2 * INITIAL_SLOTS)
  /** Bucket b's digest is [digestWords[2b], digestWords[2b+1]]. */
  private readonly digestWords: Uint32Array
  private found = 0

  constructor(readonly buckets: number) {
    this.digestWords = new Uint32Array(2 * buckets)
  }

  get(key: string): Siblings {
    const slot = this.slots.get(key)
    return slot === undefined ? EMPTY : this.stateAt(slot)
  }

  has(key: string): boolean {
    return this.slots.has(key)
  }

  /** Replace a key's state (callers merge first). */
  set(key: string, siblings: Siblings): void {
    let slot = this.slots.get(key)
    if (slot === undefined) {
      slot = this.states.length
      this.grow(slot + 1)
      this.states.push(EMPTY)
      this.slots.set(key, slot)
    } else if (isFound(this.stateAt(slot))) {
      this.found--
    }
    if (isFound(siblings)) this.found++
    const bucket = hashToBucket(key, this.buckets)
    const [hi, lo] = hashWords(key + '\u0000' + canonicalSiblings(siblings))
    const h = 2 * slot
    const d = 2 * bucket
    // A new slot's words are 0, the identity of xor, as an absent key's hash was ZERO before.
    this.digestWords[d] = (this.digestWords[d] ?? outOfRange(d)) ^ (this.hashWords[h] ?? outOfRange(h)) ^ hi
    this.digestWords[d + 1] = (this.digestWords[d + 1] ?? outOfRange(d)) ^ (this.hashWords[h + 1] ?? outOfRange(h)) ^ lo
    this.hashWords[h] = hi
    this.hashWords[h + 1] = lo
    this.states[slot] = siblings.length === 1 ? (siblings[0] as Version) : siblings
  }

  /** Hash of a key's state; equal hashes mean equal states (up to a 64-bit collision). */
  hashOf(key: string): string | undefined {
    const slot = this.slots.get(key)
    return slot === undefined ? undefined : this.hashAt(slot)
  }

  bucketOf(key: string): number {
    return hashToBucket(key, this.buckets)
  }

  /** One 16-hex digest per bucket, made afresh on each call (anti-entropy asks once per round). */
  digest(): readonly string[] {
    const out: string[] = []
    for (let b = 0; b < this.buckets; b++)
      out.push(hexWords(this.word(this.digestWords, 2 * b), this.word(this.digestWords, 2 * b + 1)))
    return out
  }

  /** (key, hash) pairs of the given buckets, at most `limit` of them. */
  keysIn(buckets: ReadonlySet<number>, limit: number): [string, string][] {
    const out: [string, string][] = []
    for (const [key, slot] of this.slots) {
      if (out.length >= limit) break
      if (buckets.has(hashToBucket(key, this.buckets))) out.push([key, this.hashAt(slot)])
    }
    return out
  }

  /** Keys whose latest state has a live (non-tombstone) value. */
  get liveKeys(): number {
    return this.found
  }

  get size(): number {
    return this.slots.size
  }

  *entries(): IterableIterator<[string, Siblings]> {
    for (const [key, slot] of this.slots) yield [key, this.stateAt(slot)]
  }

  private stateAt(slot: number): Siblings {
    const s = this.states[slot] ?? outOfRange(slot)
    return isSiblings(s) ? s : Object.freeze([s])
  }

  private hashAt(slot: number): string {
    return hexWords(this.word(this.hashWords, 2 * slot), this.word(this.hashWords, 2 * slot + 1))
  }

  private word(words: Uint32Array, i: number): number {
    return words[i] ?? outOfRange(i)
  }

  /** Makes room for `slots` hashes, doubling so that n inserts copy O(n) words in all. */
  private grow(slots: number): void {
    if (2 * slots <= this.hashWords.length) return
    const bigger = new Uint32Array(Math.max(2 * slots, 2 * this.hashWords.length))
    bigger.set(this.hashWords)
    this.hashWords = bigger
  }
}

function isSiblings(s: Version | Siblings): s is Siblings {
  return Array.isArray(s)
}
