/**
 * Request latencies in an HDR histogram (hdr-histogram-js: constant memory, 3 significant digits from
 * 1 µs to 10 minutes), and the two ways kv bench shows them: percentiles for JSON, and a log-scale bar
 * chart for people.
 */
import * as hdr from 'hdr-histogram-js'

/** p50/p90/p99/max in milliseconds, as CONTRACT.md's `latencyMs`. */
export interface LatencySummary {
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

const MICROS_MAX = 600_000_000

export class LatencyRecorder {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MICROS_MAX,
    numberOfSignificantValueDigits: 3,
  })

  /** One request's latency, in milliseconds (performance.now() differences). */
  record(ms: number): void {
    this.histogram.recordValue(Math.min(MICROS_MAX, Math.max(1, Math.round(ms * 1000))))
  }

  get count(): number {
    return this.histogram.totalCount
  }

  /** The latency at percentile `p` (0–100), in ms. */
  at(p: number): number {
    return this.histogram.totalCount === 0 ? 0 : round(this.histogram.getValueAtPercentile(p) / 1000)
  }

  summary(): LatencySummary {
    return {p50: this.at(50), p90: this.at(90), p99: this.at(99), max: this.at(100)}
  }

  /**
   * Counts in `buckets` log-spaced latency ranges from the fastest to the slowest request, walking
   * the histogram's own equivalent-value ranges (no second histogram).
   */
  buckets(buckets = 10): {readonly fromMs: number; readonly toMs: number; readonly count: number}[] {
    // Public in HdrHistogram's Java API and at run time here; only the TypeScript typings hide them.
    const h = this.histogram as hdr.Histogram & {
      lowestEquivalentValue(v: number): number
      nextNonEquivalentValue(v: number): number
      getCountAtValue(v: number): number
    }
    if (h.totalCount === 0) return []
    const min = Math.max(1, h.minNonZeroValue)
    const max = Math.max(min + 1, h.maxValue)
    const edges = Array.from({length: buckets + 1}, (_, i) => min * (max / min) ** (i / buckets))
    const counts = new Array<number>(buckets).fill(0)
    for (let v = h.lowestEquivalentValue(min); v <= max; v = h.nextNonEquivalentValue(v)) {
      const c = h.getCountAtValue(v)
      if (c === 0) continue
      const i = Math.min(buckets - 1, Math.max(0, Math.floor((Math.log(v / min) / Math.log(max / min)) * buckets)))
      counts[i] = (counts[i] ?? 0) + c
    }
    return counts.map((count, i) => ({
      fromMs: round((edges[i] ?? 0) / 1000),
      toMs: round((edges[i + 1] ?? 0) / 1000),
      count,
    }))
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
