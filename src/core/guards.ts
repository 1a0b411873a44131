/**
 * Type guards for untrusted input: the wire codec and both modes' message validators use them to
 * check fields of a decoded message before a core sees it. Pure; they never throw.
 */
import {checkId, checkKey} from './limits.js'

/** A plain JSON object (not null, not an array). */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x)
}

/** A replica id by the rule of limits.ts checkId. */
export function isId(x: unknown): x is string {
  return typeof x === 'string' && checkId(x) === null
}

/** A key by the rule of limits.ts checkKey (1 to LIMITS.keyBytesMax UTF-8 bytes). */
export function isKey(x: unknown): x is string {
  return typeof x === 'string' && checkKey(x) === null
}

/** Correlation ids (nanoid) and reply channel names: short printable strings. */
export function isToken(x: unknown, max = 256): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= max
}
