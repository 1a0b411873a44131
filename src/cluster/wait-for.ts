/**
 * Polling with a deadline, the only way scenario tests and the nemesis wait for a condition (never a
 * blind sleep): the condition is retried until it returns a truthy value / stops throwing, or the
 * deadline fails the wait with the last error. Moved here from test/support so src/ can use it.
 */

/** Called by tests, LocalCluster and PrivateRedis; rejects after `timeoutMs` with what it waited for. */
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
      const detail = lastError ? `: ${messageOf(lastError)}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
