/**
 * A fast 64-bit string hash for anti-entropy digests and bucketing (pure).
 *
 * NOT for security: it is not collision resistant against an adversary, and must never guard
 * anything a malicious peer could profit from forging. It only has to make accidental collisions
 * between honest replica states unlikely. Two 32-bit multiply-xorshift lanes run over the UTF-16 code
 * units and are cross-mixed at the end (cyrb53 widened to the full 64 bits), so equal strings hash
 * equally on every platform and every run.
 */
import {invariant} from './invariant.js'

/** The identity of xorHex: the digest of an empty set. */
export const ZERO_HASH = '0000000000000000'

const HEX64 = /^[0-9a-f]{16}$/

function lanes(s: string): [number, number] {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return [h2 >>> 0, h1 >>> 0]
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0')
}

/**
 * 64-bit hash of `s` as two unsigned 32-bit halves [high, low]: hashString without the text, for
 * callers that keep many hashes (the eventual KeyStore holds one per key in a Uint32Array).
 */
export function hashWords(s: string): [number, number] {
  return lanes(s)
}

/** The 16-hex text of a hash given as two unsigned 32-bit halves (hashString's form). */
export function hexWords(hi: number, lo: number): string {
  return hex32(hi >>> 0) + hex32(lo >>> 0)
}

/**
 * 64-bit hash of `s` as 16 lowercase hex characters. Anti-entropy hashes canonicalSiblings of each key
 * with it and combines keys with xorHex.
 */
export function hashString(s: string): string {
  const [hi, lo] = lanes(s)
  return hex32(hi) + hex32(lo)
}

/**
 * Which of `buckets` buckets `key` falls in, uniformly and stably. Anti-entropy uses it to split the
 * key space so replicas compare bucket digests before exchanging keys.
 */
export function hashToBucket(key: string, buckets: number): number {
  invariant(Number.isSafeInteger(buckets) && buckets >= 1 && buckets <= 2 ** 32, `bad bucket count ${buckets}`)
  const [hi, lo] = lanes(key)
  // 53 of the 64 bits, so the modulo bias is negligible for any bucket count allowed here.
  return ((hi & 0x1fffff) * 2 ** 32 + lo) % buckets
}

/**
 * Bitwise xor of two 16-hex digests. Xor is commutative, associative and self-inverse, so a bucket
 * digest is updated incrementally: xor out the key's old hash, xor in the new one.
 */
export function xorHex(a: string, b: string): string {
  invariant(HEX64.test(a) && HEX64.test(b), `xorHex wants 16 lowercase hex chars: ${a}, ${b}`)
  const hi = (parseInt(a.slice(0, 8), 16) ^ parseInt(b.slice(0, 8), 16)) >>> 0
  const lo = (parseInt(a.slice(8), 16) ^ parseInt(b.slice(8), 16)) >>> 0
  return hex32(hi) + hex32(lo)
}
