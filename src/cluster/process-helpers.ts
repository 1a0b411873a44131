/**
 * Small helpers the supervisor uses to watch child processes: how a child ended, and bounded waits
 * whose timers never outlive them (a stray timer would keep the supervisor alive after Ctrl-C).
 */
import type {ChildProcess} from 'node:child_process'

/** Resolves with how the child ended ("exit code 1", "signal SIGKILL", "could not start: …"). */
export function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve(`could not start: ${error.message}`))
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`))
  })
}

/** True if `promise` settles within `ms`; the timer is cleared either way. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** A pause between two polls of a condition that has its own deadline. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
