import {Flags} from '@oclif/core'
import {parseReplicaCount} from '../client/validate-input.js'
import {KvCommand} from '../cli/base-command.js'
import {KvError} from '../core/errors.js'
import {LIMITS} from '../core/limits.js'
import {BenchProgress, formatBench} from '../bench/bench-output.js'
import type {LoadLimit} from '../bench/load-loop.js'
import {type BenchOp, runBench} from '../bench/run-bench.js'

/** Run for this long when neither --ops nor --duration is given. */
const DEFAULT_DURATION_S = 10

/** `kv bench`: load from the client library, with the raw pub/sub baseline for a ratio. */
export default class Bench extends KvCommand {
  static override description = `Measure the cluster: requests per second and latency from the client library.
--clients requests are in flight at once (closed loop). read and mixed (half reads, half puts) first write every key once.
--baseline first measures raw Redis pub/sub round trips on the same broker, with the same number in flight and the same value size, and reports ratio = kv ops/s ÷ raw round trips/s.`

  static override examples = [
    '<%= config.bin %> bench --baseline',
    '<%= config.bin %> bench --op read --r quorum --duration 30 --json',
    '<%= config.bin %> bench --op mixed --clients 1 --ops 2000',
  ]

  static override flags = {
    op: Flags.string({description: 'what to measure', options: ['put', 'read', 'mixed'], default: 'put'}),
    clients: Flags.integer({description: 'requests in flight at once', default: 64, min: 1, max: 10_000}),
    ops: Flags.integer({description: 'stop after this many requests', min: 1, exclusive: ['duration'], helpValue: 'N'}),
    duration: Flags.string({
      description: `stop after this many seconds (default ${DEFAULT_DURATION_S} when --ops is not given)`,
      exclusive: ['ops'],
      helpValue: 'S',
    }),
    keys: Flags.integer({
      description: 'distinct keys the requests spread over',
      default: 1000,
      min: 1,
      max: 10_000_000,
    }),
    'value-bytes': Flags.integer({description: 'size of each value', default: 100, min: 0, max: LIMITS.valueBytesMax}),
    w: Flags.string({description: 'eventual mode: replicas holding each put before its reply', helpValue: 'N'}),
    r: Flags.string({description: 'eventual mode: replicas each read consults', helpValue: 'N'}),
    baseline: Flags.boolean({description: 'first measure raw pub/sub round trips on the same broker', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Bench)
    const w = parseReplicaCount(flags.w, 'w')
    const r = parseReplicaCount(flags.r, 'r')
    const limit: LoadLimit =
      flags.ops !== undefined ? {ops: flags.ops} : {durationMs: parseDuration(flags.duration) * 1000}
    const progress = new BenchProgress(limit, process.stderr.isTTY)
    try {
      const result = await runBench({
        ...this.target(flags),
        op: flags.op as BenchOp,
        clients: flags.clients,
        limit,
        keys: flags.keys,
        valueBytes: flags['value-bytes'],
        w,
        r,
        baseline: flags.baseline,
        timeoutMs: flags.timeout,
        onPhase: (phase, total) => progress.phase(phase, total),
        onProgress: (done) => progress.update(done),
      })
      progress.stop()
      this.print(flags, result.report, () => formatBench(result))
    } finally {
      progress.stop()
    }
  }
}

function parseDuration(text: string | undefined): number {
  if (text === undefined) return DEFAULT_DURATION_S
  const s = Number(text)
  if (!/^\d+(\.\d+)?$/.test(text) || !(s > 0) || s > 86_400)
    throw new KvError(
      'BAD_REQUEST',
      `--duration must be a number of seconds between 0 and 86400, got ${JSON.stringify(text)}`,
    )
  return s
}
