/**
 * Polling with a deadline, the only way tests wait (never a blind sleep): the condition is retried
 * until it returns a truthy value / stops throwing, or the deadline fails the test with the last error.
 */
export async function waitFor<T>(
  what: string,
  condition: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  {timeoutMs = 15_000, intervalMs = 100}: {timeoutMs?: number; intervalMs?: number} = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value) return value
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) {
      const detail = lastError ? `: ${(lastError as Error).message ?? lastError}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
