/**
 * One worker thread of seed-workers.ts: runs its seeds in order and posts a SeedSummary for each.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {runSeed} from './run-seed.js'
import type {SeedSummary, WorkerJob} from './seed-workers.js'

const job = workerData as WorkerJob
for (const seed of job.seeds) {
  let summary: SeedSummary
  try {
    const r = runSeed(job.mode, seed, job.faultTicks === undefined ? {} : {faultTicks: job.faultTicks})
    summary = {
      seed,
      verdict: r.verdict.verdict,
      problems: r.verdict.problems.slice(0, 10),
      ops: r.history.length,
      okOps: r.history.filter((o) => o.status === 'ok').length,
      faults: Object.values(r.faults).reduce((a, b) => a + b, 0),
    }
  } catch (error) {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error)
    summary = {seed, verdict: 'violation', problems: [`the run threw: ${text}`], ops: 0, okOps: 0, faults: 0}
  }
  parentPort?.postMessage(summary)
}
