/**
 * Vector-clock maths for the eventual mode (pure: no I/O, no time, no randomness).
 *
 * Every clock returned here is a new frozen object with keys in ascending string order and no zero
 * entries. Replica ids may be any string matching LIMITS.idPattern, which admits names such as
 * `__proto__`, `constructor` or `42`; so entries are read with Object.hasOwn (never `c[id]`, which
 * would find Object.prototype members) and written with Object.fromEntries (never `o[id] = n`, which
 * would set the prototype for `__proto__`). JavaScript enumerates integer-like keys first whatever
 * the insertion order, so canonical text must come from clockToCanonicalJson, not JSON.stringify.
 */
import {invariant} from '../core/invariant.js'
import {LIMITS} from '../core/limits.js'
import type {Clock, ClockOrder, Dot} from './types.js'

/** Most entries a clock read from the outside may have (membersMax, with room for departed members). */
export const CLOCK_ENTRIES_MAX = LIMITS.membersMax * 4

/** Counter of `id` in `c`, 0 when absent. Used by every module that reads a clock entry. */
export function clockGet(c: Clock, id: string): number {
  return Object.hasOwn(c, id) ? (c[id] as number) : 0
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function build(entries: Array<[string, number]>): Clock {
  entries.sort((x, y) => byString(x[0], y[0]))
  return Object.freeze(Object.fromEntries(entries))
}

/**
 * Canonical form of a trusted clock: zero entries dropped, keys sorted. Called by siblings.ts to
 * canonicalise versions read from peers (after isValidClock accepted them).
 */
export function normalizeClock(c: Clock): Clock {
  const entries: Array<[string, number]> = []
  for (const id of Object.keys(c)) {
    const n = c[id] as number
    invariant(Number.isSafeInteger(n) && n >= 0, `clock entry ${id} is not a counter: ${String(n)}`)
    if (n > 0) entries.push([id, n])
  }
  return build(entries)
}

/**
 * How `a` relates to `b` in causal order ('before' means a < b). The eventual replica calls it to
 * decide whether a peer's state is news; tests use it as the definition of concurrency.
 */
export function compareClocks(a: Clock, b: Clock): ClockOrder {
  let aBigger = false
  let bBigger = false
  for (const id of Object.keys(a)) {
    const x = clockGet(a, id)
    const y = clockGet(b, id)
    if (x > y) aBigger = true
    else if (x < y) bBigger = true
  }
  for (const id of Object.keys(b)) {
    if (!Object.hasOwn(a, id) && clockGet(b, id) > 0) bBigger = true
  }
  if (aBigger && bBigger) return 'concurrent'
  if (aBigger) return 'after'
  if (bBigger) return 'before'
  return 'equal'
}

/** Pointwise maximum (the join). Used to combine contexts of siblings and of merged replica states. */
export function mergeClocks(a: Clock, b: Clock): Clock {
  const entries: Array<[string, number]> = []
  for (const id of Object.keys(a)) {
    const n = Math.max(clockGet(a, id), clockGet(b, id))
    if (n > 0) entries.push([id, n])
  }
  for (const id of Object.keys(b)) {
    const n = clockGet(b, id)
    if (!Object.hasOwn(a, id) && n > 0) entries.push([id, n])
  }
  return build(entries)
}

/** `c` with `id`'s counter one higher: the next event of replica `id`. */
export function incrementClock(c: Clock, id: string): Clock {
  return clockWith(c, {node: id, counter: clockGet(c, id) + 1})
}

/** Whether `c` has seen the write named by `dot`. This is the whole of "supersedes" (siblings.ts). */
export function covers(c: Clock, dot: Dot): boolean {
  return clockGet(c, dot.node) >= dot.counter
}

/** c ⊔ {dot.node: dot.counter}: the user-facing clock of a version whose context is `c`. */
export function clockWith(c: Clock, dot: Dot): Clock {
  return mergeClocks(c, {[dot.node]: dot.counter})
}

/**
 * Canonical JSON of a clock (sorted keys, whatever the key shapes), for hashing and equality.
 * Called by canonicalSiblings.
 */
export function clockToCanonicalJson(c: Clock): string {
  const ids = Object.keys(c).filter((id) => clockGet(c, id) > 0)
  ids.sort(byString)
  return `{${ids.map((id) => `${JSON.stringify(id)}:${clockGet(c, id)}`).join(',')}}`
}

/** An object whose own properties are all plain enumerable data properties (as JSON.parse makes). */
export function isPlainRecord(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false
  const proto: unknown = Object.getPrototypeOf(x)
  if (proto !== Object.prototype && proto !== null) return false
  for (const key of Reflect.ownKeys(x)) {
    if (typeof key !== 'string') return false
    const d = Object.getOwnPropertyDescriptor(x, key)
    if (d === undefined || !d.enumerable || !('value' in d)) return false
  }
  return true
}

/**
 * Whether untrusted input (a wire message, a client's --context) is a clock: a plain object of at
 * most CLOCK_ENTRIES_MAX entries, ids matching LIMITS.idPattern, counters positive safe integers.
 * Called by siblings validation and the wire codec before any clock maths runs on the value.
 */
export function isValidClock(x: unknown): x is Clock {
  if (typeof x !== 'object' || x === null) return false
  // Count before the full check so a huge object is refused without walking every descriptor.
  if (Reflect.ownKeys(x).length > CLOCK_ENTRIES_MAX) return false
  if (!isPlainRecord(x)) return false
  for (const id of Object.keys(x)) {
    const n = x[id]
    if (!LIMITS.actorPattern.test(id)) return false
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) return false
  }
  return true
}
