/**
 * The eventual replica's in-memory data: key → sibling set, plus anti-entropy digests kept up to
 * date incrementally (a bucket's digest is the XOR of its keys' hashes, so a change costs O(1)).
 */
import {hashString, hashToBucket, xorHex} from '../core/hash.js'
import {outOfRange} from '../core/invariant.js'
import {canonicalSiblings, isFound} from './siblings.js'
import type {Siblings} from './types.js'

const ZERO = '0000000000000000'

export class KeyStore {
  private readonly data = new Map<string, Siblings>()
  private readonly hashes = new Map<string, string>()
  private readonly digests: string[]
  private found = 0

  constructor(readonly buckets: number) {
    this.digests = Array.from({length: buckets}, () => ZERO)
  }

  get(key: string): Siblings {
    return this.data.get(key) ?? []
  }

  has(key: string): boolean {
    return this.data.has(key)
  }

  /** Replace a key's state (callers merge first). */
  set(key: string, siblings: Siblings): void {
    const old = this.data.get(key)
    if (old && isFound(old)) this.found--
    if (isFound(siblings)) this.found++
    const bucket = hashToBucket(key, this.buckets)
    const oldHash = this.hashes.get(key)
    const newHash = hashString(key + '\u0000' + canonicalSiblings(siblings))
    const digest = this.digests[bucket] ?? outOfRange(bucket) // one digest per bucket
    this.digests[bucket] = xorHex(xorHex(digest, oldHash ?? ZERO), newHash)
    this.data.set(key, siblings)
    this.hashes.set(key, newHash)
  }

  /** Hash of a key's state; equal hashes mean equal states (up to a 64-bit collision). */
  hashOf(key: string): string | undefined {
    return this.hashes.get(key)
  }

  bucketOf(key: string): number {
    return hashToBucket(key, this.buckets)
  }

  digest(): readonly string[] {
    return this.digests
  }

  /** (key, hash) pairs of the given buckets, at most `limit` of them. */
  keysIn(buckets: ReadonlySet<number>, limit: number): [string, string][] {
    const out: [string, string][] = []
    for (const [key, hash] of this.hashes) {
      if (out.length >= limit) break
      if (buckets.has(hashToBucket(key, this.buckets))) out.push([key, hash])
    }
    return out
  }

  /** Keys whose latest state has a live (non-tombstone) value. */
  get liveKeys(): number {
    return this.found
  }

  get size(): number {
    return this.data.size
  }

  entries(): IterableIterator<[string, Siblings]> {
    return this.data.entries()
  }
}
