/**
 * `npm run bench`: the README's performance table, reproduced on this machine. Starts a private
 * redis-server and a 5-replica cluster per mode (real processes, fresh data dirs), then runs the real
 * `kv bench --baseline --json` against each, so every row carries its own ratio to raw pub/sub round
 * trips measured on the same broker in the same run. Prints a Markdown table, then the raw JSON.
 * Speed is reported here, never asserted in tests. Then, unless --store-keys 0, scripts/bench-store.ts
 * per mode: resident memory, restart-to-serving and bytes on disk of one replica holding that many
 * 100-byte keys (default 1,000,000; a few minutes).
 *
 * Signing cost (--auth both, the default): per mode a second, authenticated cluster (a fresh secret
 * file, mode 600) runs beside the unsigned one on the same broker, and every row's runs alternate
 * between them (unsigned then signed on odd runs, signed then unsigned on even ones, the bench client
 * given --secret-file for the signed ones), so machine noise hits both; a second table puts signed
 * next to unsigned with signed ops/s ÷ unsigned ops/s. --auth unsigned is the single-cluster table.
 *
 *   npm run bench -- [--duration 10] [--runs 1] [--nodes 5] [--auth both|unsigned|signed] [--store-keys 1000000]
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
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
    auth: {type: 'string', default: 'both'},
  },
})
const duration = values.duration
const runs = Number(values.runs)
const ids = Array.from({length: Number(values.nodes)}, (_, i) => `n${i + 1}`)
type Auth = 'unsigned' | 'signed'
const AUTHS: Record<string, Auth[]> = {both: ['unsigned', 'signed'], unsigned: ['unsigned'], signed: ['signed']}
const auths = AUTHS[values.auth]
if (auths === undefined) throw new Error(`--auth ${values.auth}: both, unsigned or signed`)

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

function kvBench(cluster: LocalCluster, args: string[], secretFile: string | undefined): Promise<BenchReport> {
  const argv = [RUN_JS, 'bench', '--redis', cluster.redisUrl, '--cluster', cluster.name, '--duration', duration]
  if (secretFile !== undefined) argv.push('--secret-file', secretFile)
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

interface Result {
  readonly row: Row
  readonly auth: Auth
  readonly run: number
  readonly report: BenchReport
}

const results: Result[] = []
const secretDir = mkdtempSync(join(tmpdir(), 'kv-bench-'))
const secretFile = join(secretDir, 'secret')
writeFileSync(secretFile, `${randomBytes(48).toString('base64')}\n`, {mode: 0o600})
const started = performance.now()
const redis = await PrivateRedis.start()
try {
  for (const mode of ['eventual', 'quorum'] as const) {
    const clusters = new Map<Auth, LocalCluster>()
    try {
      for (const auth of auths) {
        const cluster = new LocalCluster(redis.url, uniqueCluster(`bench-${mode}-${auth}`), ids, mode, {
          ...(auth === 'signed' ? {secretFile} : {}),
        })
        clusters.set(auth, cluster)
        cluster.startAll()
      }
      for (const cluster of clusters.values()) await cluster.waitAlive(ids, 60_000)
      for (const row of ROWS.filter((r) => r.mode === mode)) {
        for (let run = 1; run <= runs; run++) {
          // Alternate which goes first, so a drift in the machine's speed favours neither.
          const order = run % 2 === 1 ? auths : [...auths].reverse()
          for (const auth of order) {
            process.stderr.write(`${mode} ${row.what}, ${auth} (run ${run}/${runs})…\n`)
            const cluster = clusters.get(auth) as LocalCluster
            const report = await kvBench(cluster, row.args, auth === 'signed' ? secretFile : undefined)
            results.push({row, auth, run, report})
          }
        }
      }
    } finally {
      for (const cluster of clusters.values()) await cluster.close()
    }
  }
} finally {
  await redis.stop()
  rmSync(secretDir, {recursive: true, force: true})
}
const benchMinutes = (performance.now() - started) / 60_000

const fmt = (n: number | null | undefined, digits = 0) => (n === null || n === undefined ? '–' : n.toFixed(digits))
console.log(
  `\n${ids.length} replicas, 100-byte values, 1000 keys, ${duration} s per run, ${runs} run(s) per row and auth (${auths.join(' and ')}${auths.length > 1 ? ', interleaved, both clusters up at once' : ''}); ${benchMinutes.toFixed(1)} min\n`,
)
console.log(
  '| mode | load | auth | run | kv ops/s | errors | raw round trips/s | ratio | kv p50 / p99 ms | raw p50 ms | p50 ÷ raw p50 |',
)
console.log('|---|---|---|---|---|---|---|---|---|---|---|')
for (const {row, auth, run, report: r} of results) {
  const raw = r.baseline
  const p50ratio = raw && raw.latencyMs.p50 > 0 ? r.latencyMs.p50 / raw.latencyMs.p50 : null
  console.log(
    `| ${row.mode} | ${row.what} | ${auth} | ${run} | ${fmt(r.opsPerSec)} | ${r.errors} | ${fmt(raw?.roundTripsPerSec)} | ${fmt(r.ratio, 3)} | ${fmt(r.latencyMs.p50, 2)} / ${fmt(r.latencyMs.p99, 2)} | ${fmt(raw?.latencyMs.p50, 2)} | ${fmt(p50ratio, 1)} |`,
  )
}

if (auths.length > 1) {
  // Per row: medians and min–max over the runs, and signed ÷ unsigned of each run's pair.
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b)
    const mid = Math.floor(s.length / 2)
    return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
  }
  const spread = (xs: number[], digits: number): string =>
    xs.length > 1 ? ` (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})` : ''
  console.log(`\nSigning cost: median over ${runs} run(s) (min–max); pairs are the same run number\n`)
  console.log(
    '| mode | load | unsigned ops/s | signed ops/s | signed ÷ unsigned ops/s (pairs) | unsigned p50 ms | signed p50 ms | signed ÷ unsigned p50 |',
  )
  console.log('|---|---|---|---|---|---|---|---|')
  for (const row of ROWS) {
    const of = (auth: Auth) => results.filter((r) => r.row === row && r.auth === auth).map((r) => r.report)
    const u = of('unsigned')
    const sg = of('signed')
    if (u.length === 0 || sg.length === 0) continue
    const ops = (rs: BenchReport[]) => rs.map((r) => r.opsPerSec)
    const p50 = (rs: BenchReport[]) => rs.map((r) => r.latencyMs.p50)
    const pairs = u.flatMap((ur, i) => {
      const sr = sg[i]
      return sr && ur.opsPerSec > 0 ? [sr.opsPerSec / ur.opsPerSec] : []
    })
    const ratio = median(ops(u)) > 0 ? median(ops(sg)) / median(ops(u)) : null
    const p50Ratio = median(p50(u)) > 0 ? median(p50(sg)) / median(p50(u)) : null
    console.log(
      `| ${row.mode} | ${row.what} | ${fmt(median(ops(u)))}${spread(ops(u), 0)} | ${fmt(median(ops(sg)))}${spread(ops(sg), 0)} | ${fmt(ratio, 3)}${spread(pairs, 3)} | ${fmt(median(p50(u)), 2)}${spread(p50(u), 2)} | ${fmt(median(p50(sg)), 2)}${spread(p50(sg), 2)} | ${fmt(p50Ratio, 2)} |`,
    )
  }
}
console.log(
  `\n${JSON.stringify(results.map(({row, auth, run, report}) => ({mode: row.mode, load: row.what, auth, run, ...report})))}`,
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
