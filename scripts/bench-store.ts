/**
 * How compact a replica's store is: resident memory, restart-to-serving time and bytes on disk for
 * N keys of 100-byte values (issue "Performance", item 3). A script, not a timed test: the numbers
 * depend on the machine, so it prints them instead of asserting them.
 *
 * How: the real core (EventualReplica or QuorumReplica) is fed N keys through restore() and asked
 * for its snapshot(), which the real DurableStore writes into a data directory, followed by
 * --log-records more records appended to the log (what a replica holds between two compactions).
 * Then, --runs times, a copy of that directory is given to a real replica process
 * (`./bin/run.js node start`, so `npm run build` first) against a private redis-server; the script
 * polls `status` until the single member serves (alive, not recovering, a leader in quorum mode, all
 * keys loaded) and one read succeeds, waits --settle-ms, and reads VmRSS/VmHWM from /proc.
 *
 *   node --import tsx scripts/bench-store.ts --mode eventual --keys 1000000 [--runs 3]
 *
 * With others building the same tree, a private build is steadier: copy package.json and bin/run.js
 * to DIR, symlink node_modules, `npx tsc -p tsconfig.json --outDir DIR/dist`, and pass --bin DIR/bin/run.js.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {parseArgs} from 'node:util'
import {KvClient} from '../src/client/kv-client.js'
import {PrivateRedis} from '../src/cluster/private-redis.js'
import {Rng} from '../src/core/rng.js'
import type {EventualRecord, EventualSnapshot} from '../src/eventual/records.js'
import {DEFAULT_EVENTUAL_TIMING, EventualReplica} from '../src/eventual/replica.js'
import type {Clock, Siblings, Version} from '../src/eventual/types.js'
import {DEFAULT_QUORUM_TIMING} from '../src/quorum/config.js'
import type {QuorumRecord, QuorumSnapshot} from '../src/quorum/records.js'
import {QuorumReplica} from '../src/quorum/replica.js'
import type {LogEntry} from '../src/quorum/types.js'
import {DurableStore} from '../src/storage/durable-store.js'

const VALUE_BYTES = 100
const REPLICAS = ['n1', 'n2', 'n3', 'n4', 'n5']
/** Share of eventual keys written concurrently twice (two siblings), and of tombstones. */
const SIBLING_SHARE = 0.02
const TOMBSTONE_SHARE = 0.01
const SERVE_DEADLINE_MS = 180_000
const STOP_DEADLINE_MS = 60_000

const {values: args} = parseArgs({
  options: {
    mode: {type: 'string', default: 'eventual'},
    keys: {type: 'string', default: '100000'},
    'log-records': {type: 'string', default: '10000'},
    runs: {type: 'string', default: '1'},
    'settle-ms': {type: 'string', default: '5000'},
    seed: {type: 'string', default: '1'},
    /** Another build's bin/run.js: `npm run build` elsewhere in the tree empties dist/ while it runs. */
    bin: {type: 'string', default: 'bin/run.js'},
  },
})
const mode = args.mode === 'quorum' ? 'quorum' : 'eventual'
const keyCount = Number(args.keys)
const logRecords = Number(args['log-records'])
const runs = Number(args.runs)
const settleMs = Number(args['settle-ms'])
const rng = new Rng(Number(args.seed))

function keyName(i: number): string {
  return `key-${String(i).padStart(6, '0')}`
}

function value(i: number, generation: number): string {
  const head = `v${generation}-${i}-`
  return head + 'x'.repeat(VALUE_BYTES - head.length)
}

// ---- eventual state ----------------------------------------------------------------------------

/** A version as real ones look: a dot from one of five replicas and a context of up to five entries. */
function randomVersion(i: number, generation: number, node: string, counter: number): Version {
  const ctx: Record<string, number> = {}
  for (const id of REPLICAS) {
    if (rng.next() < 0.6) continue
    const n = id === node ? counter - 1 - rng.int(3) : 1 + rng.int(counter)
    if (n > 0) ctx[id] = n
  }
  const tombstone = rng.next() < TOMBSTONE_SHARE
  return {dot: {node, counter}, ctx: sortClock(ctx), value: tombstone ? null : value(i, generation)}
}

function sortClock(c: Record<string, number>): Clock {
  return Object.fromEntries(Object.entries(c).sort((a, b) => (a[0] < b[0] ? -1 : 1)))
}

function eventualSiblings(i: number, generation: number): Siblings {
  const node = rng.pick(REPLICAS)
  const counter = 1_000 * generation + 10 + rng.int(2_000_000)
  const first = randomVersion(i, generation, node, counter)
  if (rng.next() >= SIBLING_SHARE) return [first]
  // A concurrent write elsewhere: its context does not cover the first dot, nor the first's its dot.
  const other = REPLICAS.find((r) => r !== node) as string
  const second: Version = {
    dot: {node: other, counter: counter + 1},
    ctx: sortClock({[node]: counter - 1}),
    value: value(i, generation + 1),
  }
  return first.ctx[other] !== undefined && first.ctx[other] >= counter + 1 ? [first] : [first, second]
}

function eventualState(): {snapshot: EventualSnapshot; log: EventualRecord[]} {
  const records: EventualRecord[] = []
  for (let i = 0; i < keyCount; i++) records.push({t: 'key', key: keyName(i), siblings: eventualSiblings(i, 1)})
  const core = new EventualReplica({id: 'n1', peers: ['n1'], rng: rng.fork(), ...DEFAULT_EVENTUAL_TIMING})
  core.restore(null, records)
  const snapshot = core.snapshot()
  // Later writes that supersede a key's state: a dot above everything the key saw.
  const log: EventualRecord[] = []
  for (let j = 0; j < logRecords; j++) {
    const i = rng.int(keyCount)
    const v: Version = {
      dot: {node: rng.pick(REPLICAS), counter: 5_000_000 + j},
      ctx: sortClock(Object.fromEntries(REPLICAS.map((r) => [r, 4_000_000]))),
      value: value(i, 2),
    }
    log.push({t: 'key', key: keyName(i), siblings: [v]})
  }
  return {snapshot, log}
}

// ---- quorum state ------------------------------------------------------------------------------

function quorumState(): {snapshot: QuorumSnapshot; log: QuorumRecord[]} {
  const records: QuorumRecord[] = [{t: 'term', term: 1, vote: 'n1'}]
  const CHUNK = 100
  for (let i = 0; i < keyCount; i += CHUNK) {
    const entries: LogEntry[] = []
    for (let k = i; k < Math.min(keyCount, i + CHUNK); k++) {
      const tombstone = rng.next() < TOMBSTONE_SHARE
      entries.push({term: 1, index: k + 1, cmd: {key: keyName(k), value: tombstone ? null : value(k, 1)}})
    }
    records.push({t: 'entries', entries})
  }
  records.push({t: 'commit', index: keyCount})
  const core = new QuorumReplica({id: 'n1', peers: ['n1'], rng: rng.fork(), ...DEFAULT_QUORUM_TIMING})
  core.restore(null, records)
  const snapshot = core.snapshot()
  // Later committed writes, as a leader persists them: the entry, then the commit.
  const log: QuorumRecord[] = []
  for (let j = 0; j < logRecords; j += 2) {
    const index = keyCount + 1 + j / 2
    const i = rng.int(keyCount)
    log.push({t: 'entries', entries: [{term: 1, index, cmd: {key: keyName(i), value: value(i, 2)}}]})
    log.push({t: 'commit', index})
  }
  return {snapshot, log}
}

// ---- measuring a real replica ------------------------------------------------------------------

function dirBytes(dir: string): number {
  let total = 0
  for (const name of readdirSync(dir)) total += statSync(join(dir, name)).size
  return total
}

function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field + ':'))
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN)
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Resolves after `ms` without keeping the process alive (a deadline, not a wait). */
function deadline(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref())
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once('exit', () => r()))
}

interface RunResult {
  serveMs: number
  rssMb: number
  hwmMb: number
  stopMs: number
}

async function measureOnce(redis: PrivateRedis, pristine: string, run: number): Promise<RunResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kv-bench-store-run-'))
  cpSync(pristine, dataDir, {recursive: true})
  const cluster = `bench-store-${process.pid}-${run}`
  const started = performance.now()
  const child = spawn(
    resolve(args.bin),
    [
      'node',
      'start',
      '--id',
      'n1',
      '--peers',
      'n1',
      '--mode',
      mode,
      '--data-dir',
      dataDir,
      '--redis',
      redis.url,
      '--cluster',
      cluster,
    ],
    {stdio: ['ignore', 'ignore', 'pipe']},
  )
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000)
  })
  const client = await KvClient.connect({redisUrl: redis.url, cluster, timeoutMs: 2000})
  try {
    let serveMs = NaN
    const wanted = keyName(keyCount - 1)
    while (Number.isNaN(serveMs)) {
      if (child.exitCode !== null) throw new Error(`replica exited with ${child.exitCode}:\n${stderr}`)
      if (performance.now() - started > SERVE_DEADLINE_MS) throw new Error(`not serving after ${SERVE_DEADLINE_MS} ms`)
      const status = await client.status().catch(() => null)
      const n1 = status?.nodes.find((n) => n.id === 'n1')
      const ready = n1?.alive === true && n1.recovering !== true && (mode === 'eventual' || n1.role === 'leader')
      if (ready && (await client.read(wanted, {node: 'n1'}).catch(() => null)) !== null) {
        serveMs = performance.now() - started
      } else {
        await sleep(50)
      }
    }
    await sleep(settleMs)
    const pid = child.pid as number
    const rssMb = procKb(pid, 'VmRSS') / 1024
    const hwmMb = procKb(pid, 'VmHWM') / 1024
    const stopAt = performance.now()
    child.kill('SIGTERM')
    await Promise.race([exited(child), deadline(STOP_DEADLINE_MS)])
    const stopMs = performance.now() - stopAt
    return {serveMs, rssMb, hwmMb, stopMs}
  } finally {
    await client.close()
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited(child)
    }
    rmSync(dataDir, {recursive: true, force: true})
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  const pristine = mkdtempSync(join(tmpdir(), 'kv-bench-store-'))
  const redis = await PrivateRedis.start()
  try {
    let t = performance.now()
    const state = mode === 'eventual' ? eventualState() : quorumState()
    const buildMs = performance.now() - t
    t = performance.now()
    const {store} = await DurableStore.open<unknown, unknown>(pristine)
    await store.compact(state.snapshot)
    for (let i = 0; i < state.log.length; i += 100) await store.append(state.log.slice(i, i + 100))
    await store.close()
    const writeMs = performance.now() - t
    const disk = dirBytes(pristine)
    const dataBytes = keyCount * (keyName(0).length + VALUE_BYTES)
    console.log(
      `${mode}: ${keyCount} keys, ${state.log.length} log records; built in ${(buildMs / 1000).toFixed(1)} s, ` +
        `written in ${(writeMs / 1000).toFixed(1)} s`,
    )
    const results: RunResult[] = []
    for (let run = 0; run < runs; run++) {
      const r = await measureOnce(redis, pristine, run)
      results.push(r)
      console.log(
        `  run ${run + 1}: serving after ${(r.serveMs / 1000).toFixed(2)} s, RSS ${r.rssMb.toFixed(0)} MB ` +
          `(peak ${r.hwmMb.toFixed(0)} MB), stopped in ${(r.stopMs / 1000).toFixed(1)} s`,
      )
    }
    const row = [
      mode,
      String(keyCount),
      (median(results.map((r) => r.rssMb)) / 1).toFixed(0),
      median(results.map((r) => r.hwmMb)).toFixed(0),
      ((median(results.map((r) => r.rssMb)) * 1024 * 1024) / keyCount).toFixed(0),
      (median(results.map((r) => r.serveMs)) / 1000).toFixed(2),
      (disk / 1e6).toFixed(1),
      (disk / dataBytes).toFixed(2),
    ]
    const head = ['mode', 'keys', 'RSS MB', 'peak MB', 'B/key', 'serve s', 'disk MB', 'disk/data']
    console.log(`\nmedian of ${runs} run(s):`)
    console.log(head.map((h, i) => h.padStart(Math.max(h.length, (row[i] as string).length))).join('  '))
    console.log(row.map((c, i) => c.padStart(Math.max(c.length, (head[i] as string).length))).join('  '))
  } finally {
    await redis.stop()
    rmSync(pristine, {recursive: true, force: true})
  }
}

await main()
