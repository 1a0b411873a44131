/**
 * A broken invariant is a programmer error: crash loudly instead of corrupting data (TIGER_STYLE).
 * Expected failures (bad input, no quorum, timeouts) are KvError values instead.
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`)
}
