/**
 * `kv bench`: closed-loop load from the client library against one cluster, optionally after the
 * raw pub/sub baseline on the same broker, and the report CONTRACT.md gives (`ratio` = kv ops/s ÷ raw
 * round trips/s, both measured in this run on the same machine, which is what makes it comparable
 * on a noisy shared host).
 */
import {KvClient} from '../client/kv-client.js'
import {KvError} from '../core/errors.js'
import type {ReplicaCount} from '../core/client-messages.js'
import type {LatencySummary} from './latency-recorder.js'
import {type LoadLimit, type LoadResult, runLoad} from './load-loop.js'
import {measurePubSubBaseline} from './pubsub-baseline.js'

export type BenchOp = 'put' | 'read' | 'mixed'

export interface BenchOptions {
  readonly redisUrl: string
  readonly cluster: string
  /** The cluster secrets (signed requests), or none. */
  readonly secrets?: readonly Buffer[]
  readonly op: BenchOp
  readonly clients: number
  readonly limit: LoadLimit
  readonly keys: number
  readonly valueBytes: number
  readonly w?: ReplicaCount
  readonly r?: ReplicaCount
  readonly baseline: boolean
  readonly timeoutMs: number
  /** A phase starts: `total` is its request count when the run is bounded by --ops. */
  readonly onPhase?: (phase: 'baseline' | 'prefill' | 'kv', total: number | null) => void
  readonly onProgress?: (done: number) => void
}

/** CONTRACT.md's JSON shape. */
export interface BenchReport {
  readonly op: BenchOp
  readonly clients: number
  readonly ops: number
  readonly errors: number
  readonly seconds: number
  readonly opsPerSec: number
  readonly latencyMs: LatencySummary
  readonly baseline: {readonly roundTripsPerSec: number; readonly latencyMs: {p50: number; p99: number}} | null
  readonly ratio: number | null
}

/** The report and the raw results behind it (the human output draws the histogram from `kv`). */
export interface BenchRun {
  readonly report: BenchReport
  readonly kv: LoadResult
  readonly baseline: LoadResult | null
}

export function benchKey(i: number, keys: number): string {
  return `bench-${i % keys}`
}

export async function runBench(o: BenchOptions): Promise<BenchRun> {
  const total = 'ops' in o.limit ? o.limit.ops : null
  let baseline: LoadResult | null = null
  if (o.baseline) {
    o.onPhase?.('baseline', total)
    baseline = await measurePubSubBaseline({...o, inFlight: o.clients, onProgress: o.onProgress})
  }
  const client = await KvClient.connect({
    redisUrl: o.redisUrl,
    cluster: o.cluster,
    timeoutMs: o.timeoutMs,
    secrets: o.secrets,
  })
  try {
    // A cluster that is not there fails the bench at once, not with a run full of UNAVAILABLE.
    const status = await client.status()
    if (!status.nodes.some((n) => n.alive))
      throw new KvError(
        'UNAVAILABLE',
        `no replica of cluster "${o.cluster}" is alive; start them (kv cluster up) or check --cluster and --redis`,
      )
    const value = 'v'.repeat(o.valueBytes)
    const put = (i: number) => client.put(benchKey(i, o.keys), value, {w: o.w})
    const read = (i: number) => client.read(benchKey(i, o.keys), {r: o.r})
    if (o.op !== 'put') {
      // Reads of missing keys would measure nothing: every key holds a value before the clock starts.
      o.onPhase?.('prefill', o.keys)
      const filled = await runLoad({inFlight: o.clients, limit: {ops: o.keys}, request: put, onProgress: o.onProgress})
      if (filled.errors > 0)
        throw new Error(`could not fill the ${o.keys} keys before reading: ${describeErrors(filled)}`)
    }
    o.onPhase?.('kv', total)
    const request = o.op === 'put' ? put : o.op === 'read' ? read : (i: number) => (i % 2 ? put(i) : read(i))
    const kv = await runLoad({inFlight: o.clients, limit: o.limit, request, onProgress: o.onProgress})
    return {report: reportOf(o, kv, baseline), kv, baseline}
  } finally {
    await client.close()
  }
}

function perSecond(r: LoadResult): number {
  const ok = r.ops - r.errors
  return r.seconds > 0 ? Math.round((ok / r.seconds) * 10) / 10 : 0
}

function reportOf(o: BenchOptions, kv: LoadResult, baseline: LoadResult | null): BenchReport {
  const opsPerSec = perSecond(kv)
  const rawPerSec = baseline ? perSecond(baseline) : null
  return {
    op: o.op,
    clients: o.clients,
    ops: kv.ops,
    errors: kv.errors,
    seconds: Math.round(kv.seconds * 1000) / 1000,
    opsPerSec,
    latencyMs: kv.latency.summary(),
    baseline:
      baseline && rawPerSec !== null
        ? {roundTripsPerSec: rawPerSec, latencyMs: {p50: baseline.latency.at(50), p99: baseline.latency.at(99)}}
        : null,
    ratio: rawPerSec ? Math.round((opsPerSec / rawPerSec) * 1000) / 1000 : null,
  }
}

export function describeErrors(r: LoadResult): string {
  return Object.entries(r.errorsByCode)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ')
}
