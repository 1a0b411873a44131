/**
 * A broken invariant is a programmer error: crash loudly instead of corrupting data (TIGER_STYLE).
 * Expected failures (bad input, no quorum, timeouts) are KvError values instead.
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`)
}

/**
 * The right side of `items[i] ?? outOfRange(i)`, for an index that is in range by construction (a loop
 * bound, a slot the caller sized) where `noUncheckedIndexedAccess` cannot see it. Out of range is a
 * programmer error and crashes here, instead of letting `undefined` flow on (into NaN, for typed
 * arrays). Only for arrays that hold no null or undefined. The load stays at the call site on purpose:
 * a helper taking the array made the linearizability search twice as slow (one megamorphic load).
 */
export function outOfRange(index: number): never {
  throw new Error(`invariant violated: index ${index} is out of range`)
}
