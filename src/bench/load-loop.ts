/**
 * Closed-loop load: `inFlight` workers, each sending its next request as soon as the last one
 * answered, until `ops` requests were sent or `durationMs` passed. Used for kv's requests and for
 * the raw pub/sub baseline alike, so both are measured the same way.
 */
import {LatencyRecorder} from './latency-recorder.js'

/** How long the run goes: a number of requests, or a time. */
export type LoadLimit = {readonly ops: number} | {readonly durationMs: number}

export interface LoadResult {
  readonly ops: number
  readonly errors: number
  /** Failed requests by error code (KvError code, else the error's name). */
  readonly errorsByCode: Readonly<Record<string, number>>
  readonly seconds: number
  readonly latency: LatencyRecorder
}

export interface LoadOptions {
  readonly inFlight: number
  readonly limit: LoadLimit
  /** Sends request number `i` (0, 1, 2, …) and settles when it is answered. */
  readonly request: (i: number) => Promise<unknown>
  /** Called about ten times a second with the requests finished so far. */
  readonly onProgress?: (done: number) => void
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const latency = new LatencyRecorder()
  const errorsByCode: Record<string, number> = {}
  let errors = 0
  let next = 0
  let done = 0
  const started = performance.now()
  const deadline = 'durationMs' in o.limit ? started + o.limit.durationMs : Number.POSITIVE_INFINITY
  const maxOps = 'ops' in o.limit ? o.limit.ops : Number.POSITIVE_INFINITY
  const progress = o.onProgress ? setInterval(() => o.onProgress?.(done), 100) : undefined
  const worker = async (): Promise<void> => {
    while (next < maxOps && performance.now() < deadline) {
      const i = next++
      const t0 = performance.now()
      try {
        await o.request(i)
        latency.record(performance.now() - t0)
      } catch (error) {
        errors++
        const code = (error as {code?: unknown}).code
        const key = typeof code === 'string' ? code : (error as Error).name
        errorsByCode[key] = (errorsByCode[key] ?? 0) + 1
      }
      done++
    }
  }
  try {
    await Promise.all(Array.from({length: o.inFlight}, worker))
  } finally {
    if (progress) clearInterval(progress)
  }
  o.onProgress?.(done)
  return {ops: done, errors, errorsByCode, seconds: (performance.now() - started) / 1000, latency}
}
