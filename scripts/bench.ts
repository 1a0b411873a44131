/**
 * `npm run bench`: the README's performance table, reproduced on this machine. Starts a private
 * redis-server and a 5-replica cluster per mode (real processes, fresh data dirs), then runs the real
 * `kv bench --baseline --json` against each, so every row carries its own ratio to raw pub/sub round
 * trips measured on the same broker in the same run. Prints a Markdown table, then the raw JSON.
 * Speed is reported here, never asserted in tests. Then, unless --store-keys 0, scripts/bench-store.ts
 * per mode: resident memory, restart-to-serving and bytes on disk of one replica holding that many
 * 100-byte keys (default 1,000,000; a few minutes).
 *
 *   npm run bench -- [--duration 10] [--runs 1] [--nodes 5] [--store-keys 1000000]
 */
import {spawn} from 'node:child_process'
import {parseArgs} from 'node:util'
import {LocalCluster, RUN_JS, uniqueCluster} from '../src/cluster/local-cluster.js'
import {PrivateRedis} from '../src/cluster/private-redis.js'
import type {BenchReport} from '../src/bench/run-bench.js'

const {values} = parseArgs({
  options: {
    duration: {type: 'string', default: '10'},
    runs: {type: 'string', default: '1'},
    nodes: {type: 'string', default: '5'},
    'store-keys': {type: 'string', default: '1000000'},
  },
})
const duration = values.duration
const runs = Number(values.runs)
const ids = Array.from({length: Number(values.nodes)}, (_, i) => `n${i + 1}`)

interface Row {
  readonly mode: 'eventual' | 'quorum'
  readonly what: string
  readonly args: string[]
}

const ROWS: Row[] = [
  {mode: 'eventual', what: 'put, 64 in flight', args: ['--op', 'put']},
  {mode: 'eventual', what: 'read (default r), 64 in flight', args: ['--op', 'read']},
  {mode: 'eventual', what: 'put, 1 client', args: ['--op', 'put', '--clients', '1']},
  {mode: 'quorum', what: 'put, 64 in flight', args: ['--op', 'put']},
  {mode: 'quorum', what: 'read, 64 in flight', args: ['--op', 'read']},
  {mode: 'quorum', what: 'put, 1 client', args: ['--op', 'put', '--clients', '1']},
]

function kvBench(cluster: LocalCluster, args: string[]): Promise<BenchReport> {
  const argv = [RUN_JS, 'bench', '--redis', cluster.redisUrl, '--cluster', cluster.name, '--duration', duration]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...argv, ...args, '--baseline', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (b: Buffer) => (out += b.toString()))
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as BenchReport)
      else reject(new Error(`kv bench ${args.join(' ')} exited ${code}: ${out}${err}`))
    })
  })
}

const results: {row: Row; run: number; report: BenchReport}[] = []
const redis = await PrivateRedis.start()
try {
  for (const mode of ['eventual', 'quorum'] as const) {
    const cluster = new LocalCluster(redis.url, uniqueCluster(`bench-${mode}`), ids, mode)
    cluster.startAll()
    try {
      await cluster.waitAlive(ids, 60_000)
      for (const row of ROWS.filter((r) => r.mode === mode)) {
        for (let run = 1; run <= runs; run++) {
          process.stderr.write(`${mode} ${row.what} (run ${run}/${runs})…\n`)
          results.push({row, run, report: await kvBench(cluster, row.args)})
        }
      }
    } finally {
      await cluster.close()
    }
  }
} finally {
  await redis.stop()
}

const fmt = (n: number | null | undefined, digits = 0) => (n === null || n === undefined ? '–' : n.toFixed(digits))
console.log(`\n${ids.length} replicas, 100-byte values, 1000 keys, ${duration} s per run, ${runs} run(s) per row\n`)
console.log('| mode | load | kv ops/s | raw round trips/s | ratio | kv p50 / p99 ms | raw p50 ms | p50 ÷ raw p50 |')
console.log('|---|---|---|---|---|---|---|---|')
for (const {row, report: r} of results) {
  const raw = r.baseline
  const p50ratio = raw && raw.latencyMs.p50 > 0 ? r.latencyMs.p50 / raw.latencyMs.p50 : null
  console.log(
    `| ${row.mode} | ${row.what} | ${fmt(r.opsPerSec)} | ${fmt(raw?.roundTripsPerSec)} | ${fmt(r.ratio, 3)} | ${fmt(r.latencyMs.p50, 2)} / ${fmt(r.latencyMs.p99, 2)} | ${fmt(raw?.latencyMs.p50, 2)} | ${fmt(p50ratio, 1)} |`,
  )
}
console.log(
  `\n${JSON.stringify(results.map(({row, run, report}) => ({mode: row.mode, load: row.what, run, ...report})))}`,
)

const storeKeys = Number(values['store-keys'])
if (storeKeys > 0) {
  for (const mode of ['eventual', 'quorum'] as const) {
    process.stderr.write(`store: ${storeKeys} keys, ${mode} mode…\n`)
    await new Promise<void>((resolve, reject) => {
      const script = new URL('./bench-store.ts', import.meta.url).pathname
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', script, '--mode', mode, '--keys', String(storeKeys), '--runs', '1'],
        {stdio: ['ignore', 'inherit', 'inherit']},
      )
      child.on('close', (code) => {
        if (code === 0) resolve()
        else reject(new Error(`bench-store ${mode} exited ${code}`))
      })
    })
  }
}
