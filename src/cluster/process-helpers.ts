/**
 * Small helpers the supervisor uses to watch child processes: how a child ended, and (re-exported
 * from src/runtime/waits.ts, which the driver shares) bounded waits whose timers never outlive them.
 */
import type {ChildProcess} from 'node:child_process'

/** Resolves with how the child ended ("exit code 1", "signal SIGKILL", "could not start: …"). */
export function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    child.once('error', (error) => resolve(`could not start: ${error.message}`))
    child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`))
  })
}

export {delay, settlesWithin} from '../runtime/waits.js'
