/**
 * Runs a range of seeds on worker threads (one run is single-threaded and CPU-bound) and reports a
 * summary per seed as it finishes. A core that throws (a broken invariant) is a violation too.
 */
import {Worker} from 'node:worker_threads'
import {outOfRange} from '../core/invariant.js'
import type {SimMode} from './run-seed.js'

export interface SeedSummary {
  readonly seed: number
  readonly verdict: 'ok' | 'violation' | 'unknown'
  readonly problems: readonly string[]
  readonly ops: number
  readonly okOps: number
  readonly faults: number
}

export interface WorkerJob {
  readonly mode: SimMode
  readonly seeds: readonly number[]
  /** Length of the faulty phase, in ticks (runSeed's default when absent). */
  readonly faultTicks?: number
}

/** Under tsx this file is .ts and its workers need tsx's loader too; compiled, both are .js. */
const UNDER_TSX = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(`./seed-worker.${UNDER_TSX ? 'ts' : 'js'}`, import.meta.url)

/** A worker does not inherit tsx's loader, so under tsx a small bootstrap registers it first. */
function startWorker(job: WorkerJob): Worker {
  if (!UNDER_TSX) return new Worker(WORKER_URL, {workerData: job})
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}) })`
  return new Worker(boot, {eval: true, workerData: job})
}

export async function runSeedsInWorkers(
  mode: SimMode,
  from: number,
  count: number,
  jobs: number,
  onSeed: (s: SeedSummary) => void,
  faultTicks?: number,
): Promise<void> {
  const lanes: number[][] = Array.from({length: Math.min(jobs, Math.max(count, 1))}, () => [])
  for (let i = 0; i < count; i++) {
    const lane = i % lanes.length
    const seeds = lanes[lane] ?? outOfRange(lane)
    seeds.push(from + i)
  }
  await Promise.all(
    lanes.map(
      (seeds) =>
        new Promise<void>((resolve, reject) => {
          const w = startWorker({mode, seeds, faultTicks})
          w.on('message', (s: SeedSummary) => onSeed(s))
          w.on('error', reject)
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`seed worker exited with ${code}`))))
        }),
    ),
  )
}
