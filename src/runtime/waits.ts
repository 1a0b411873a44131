/**
 * Bounded waits whose timers never outlive them (a stray timer keeps a process alive after it
 * should exit). Used by the driver's graceful stop and by the process supervisors in src/cluster.
 */

/** True if `promise` settles within `ms`; the timer is cleared either way, and a rejection counts as settled. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** A pause between two polls of a condition that has its own deadline. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
