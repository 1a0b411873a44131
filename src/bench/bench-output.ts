/**
 * What kv bench shows people: a progress bar on stderr while it runs (cli-progress, only when stderr
 * is a terminal), then the summary and a latency histogram. Pure text functions besides the bar.
 */
import cliProgress from 'cli-progress'
import {table} from '../cli/format.js'
import type {LoadLimit} from './load-loop.js'
import {type BenchRun, describeErrors} from './run-bench.js'

const PHASE_NAMES = {baseline: 'raw pub/sub', prefill: 'filling keys', kv: 'kv'} as const

/** A bar per phase: by requests when the run is bounded by --ops, else by elapsed time. */
export class BenchProgress {
  private bar: cliProgress.SingleBar | null = null
  private started = 0
  private byTime = false

  constructor(
    private readonly limit: LoadLimit,
    private readonly enabled: boolean,
  ) {}

  phase(name: keyof typeof PHASE_NAMES, total: number | null): void {
    if (!this.enabled) return
    this.bar?.stop()
    this.byTime = total === null && name !== 'prefill'
    this.started = performance.now()
    this.bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${PHASE_NAMES[name].padEnd(12)} [{bar}] {percentage}% | {ops} requests`,
        hideCursor: true,
        clearOnComplete: true,
      },
      cliProgress.Presets.shades_classic,
    )
    const seconds = 'durationMs' in this.limit ? this.limit.durationMs / 1000 : 0
    this.bar.start(this.byTime ? Math.max(1, Math.round(seconds * 10)) : (total ?? 1), 0, {ops: 0})
  }

  update(done: number): void {
    if (!this.bar) return
    const value = this.byTime ? Math.round((performance.now() - this.started) / 100) : done
    this.bar.update(value, {ops: done})
  }

  stop(): void {
    this.bar?.stop()
    this.bar = null
  }
}

/** The human report: one summary line, the baseline and ratio, the percentiles and the histogram. */
export function formatBench(run: BenchRun): string {
  const {report, kv, baseline} = run
  const lines: string[] = []
  const errors = report.errors ? ` (${describeErrors(kv)})` : ''
  lines.push(
    `${report.op}: ${report.opsPerSec} ops/s, ${report.ops} requests from ${report.clients} clients in ${report.seconds} s, ${report.errors} errors${errors}`,
  )
  if (report.baseline && baseline) {
    lines.push(
      `raw pub/sub round trips on the same broker: ${report.baseline.roundTripsPerSec}/s (p50 ${report.baseline.latencyMs.p50} ms, p99 ${report.baseline.latencyMs.p99} ms); ratio ${report.ratio}`,
    )
  }
  const l = report.latencyMs
  lines.push(`latency (ms): p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  max ${l.max}`)
  const buckets = kv.latency.buckets(10)
  const most = Math.max(1, ...buckets.map((b) => b.count))
  const rows = buckets.map((b) => [
    `  ${b.fromMs.toFixed(3)} – ${b.toMs.toFixed(3)} ms`,
    String(b.count),
    '█'.repeat(Math.round((b.count / most) * 40)) || (b.count ? '▏' : ''),
  ])
  if (rows.length) lines.push('histogram:', table(rows))
  return lines.join('\n')
}
