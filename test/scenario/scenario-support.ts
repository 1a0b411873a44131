/**
 * Shared pieces of the eventual-mode scenario suite (not a test file itself): per-file broker and
 * per-test cluster lifecycle, r:1 polling of every replica, comparing values and clocks, running the
 * real CLI, and expecting a KvError code. Everything waits by polling with a deadline (waitFor).
 */
import {spawn} from 'node:child_process'
import {expect} from 'chai'
import {KvError, type KvClient, type ReadResult} from '../../src/client/index.js'
import {compareClocks} from '../../src/eventual/vector-clock.js'
import type {Clock} from '../../src/eventual/types.js'
import {RUN_JS, TestCluster, uniqueCluster} from '../support/cluster.js'
import {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'

export const FIVE = ['n1', 'n2', 'n3', 'n4', 'n5']

export interface Scenario {
  /** The file's broker (started in `before`). */
  redis(): TestRedis
  /** A fresh cluster with a unique name: every replica started and seeing the others. */
  startCluster(prefix: string, ids?: string[]): Promise<TestCluster>
}

/**
 * Registers before/after hooks (one redis-server per file) and afterEach hooks that close every
 * cluster the test made, even when it failed (then the replica logs' tails are printed first).
 * Call it inside a `describe` body.
 */
export function useScenario(): Scenario {
  let redis: TestRedis | undefined
  let clusters: TestCluster[] = []
  before(async function () {
    this.timeout(30_000)
    redis = await TestRedis.start()
  })
  after(async () => {
    await redis?.stop()
  })
  afterEach(async function () {
    this.timeout(30_000)
    if (this.currentTest?.state === 'failed') printLogTails(clusters)
    const closing = clusters
    clusters = []
    await Promise.all(closing.map((c) => c.close()))
  })
  return {
    redis: () => {
      if (!redis) throw new Error('the broker did not start')
      return redis
    },
    async startCluster(prefix: string, ids: string[] = FIVE): Promise<TestCluster> {
      if (!redis) throw new Error('the broker did not start')
      const cluster = new TestCluster(redis.url, uniqueCluster(prefix), ids)
      clusters.push(cluster)
      cluster.startAll()
      await cluster.waitAlive()
      return cluster
    },
  }
}

/** After a failed test: the last lines of every replica's log of `clusters`, to see why. */
export function printLogTails(clusters: readonly (TestCluster | undefined)[], lines = 40): void {
  for (const c of clusters) {
    if (!c) continue
    for (const id of c.logs.keys()) {
      const tail = c.logOf(id).split('\n').slice(-lines).join('\n')
      console.log(`---- ${c.name} ${id} (last lines) ----\n${tail}`)
    }
  }
}

/** A clock with its entries in sorted order, so deep-equal and JSON comparisons are order-free. */
export function sortedClock(clock: Clock | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  for (const id of Object.keys(clock ?? {}).sort()) out[id] = (clock as Clock)[id] as number
  return out
}

export interface ValueAndClock {
  value: string
  clock: Clock
}

/** The values of a read as a canonical, order-free list (value + sorted clock), for comparisons. */
export function canonicalValues(values: readonly {value: string; clock?: Clock}[]): string[] {
  return values.map((v) => JSON.stringify({value: v.value, clock: sortedClock(v.clock)})).sort()
}

/** Asserts a read found exactly `expected` (any order), with `conflict` set iff there are several. */
export function expectValues(result: ReadResult, expected: readonly ValueAndClock[], where = result.node): void {
  expect(result.found, `${where}: found`).to.equal(expected.length > 0)
  expect(result.conflict, `${where}: conflict`).to.equal(expected.length > 1)
  expect(canonicalValues(result.values), `${where}: values`).to.deep.equal(canonicalValues(expected))
}

/** A read of `key` answered by replica `node` from its own state only (r:1: no peer, no repair). */
export function readLocal(client: KvClient, node: string, key: string): Promise<ReadResult> {
  return client.read(key, {node, r: 1, timeoutMs: 3000})
}

/**
 * Polls every replica in `nodes` with r:1 reads of `key` until each one satisfies `check` (which
 * throws a chai assertion when not yet), or fails with the last assertion after `timeoutMs`.
 * Returns the final reads by node.
 */
export async function waitEveryReplica(
  client: KvClient,
  nodes: readonly string[],
  key: string,
  check: (result: ReadResult) => void,
  timeoutMs = 20_000,
): Promise<Map<string, ReadResult>> {
  return waitFor(
    `every replica (${nodes.join(',')}) to agree on ${key}`,
    async () => {
      const reads = new Map<string, ReadResult>()
      for (const node of nodes) {
        const result = await readLocal(client, node, key)
        check(result)
        reads.set(node, result)
      }
      return reads
    },
    {timeoutMs, intervalMs: 100},
  )
}

/** Waits until every node in `nodes` holds exactly `expected` for `key` (r:1 reads). */
export function waitConverged(
  client: KvClient,
  nodes: readonly string[],
  key: string,
  expected: readonly ValueAndClock[],
  timeoutMs = 20_000,
) {
  return waitEveryReplica(client, nodes, key, (r) => expectValues(r, expected, `${r.node} ${key}`), timeoutMs)
}

/** Whether neither clock is ≤ the other. */
export function concurrent(a: Clock, b: Clock): boolean {
  return compareClocks(a, b) === 'concurrent'
}

/** Awaits `promise` and asserts it rejected with a KvError of `code`; returns the error. */
export async function expectKvError(promise: Promise<unknown>, code: string, what = 'the call'): Promise<KvError> {
  let result: unknown
  try {
    result = await promise
  } catch (error) {
    expect(error, `${what} should fail with a KvError`).to.be.instanceOf(KvError)
    expect((error as KvError).code, `${what}: ${(error as Error).message}`).to.equal(code)
    return error as KvError
  }
  const shown = JSON.stringify(result) as string | undefined // undefined for undefined, whatever lib.d.ts says
  throw new Error(`${what} should have failed with ${code} but succeeded: ${shown?.slice(0, 300)}`)
}

/** Keys per replica as `kv status` reports them (only alive replicas). */
export async function keysByNode(client: KvClient): Promise<Record<string, number>> {
  const st = await client.status()
  return Object.fromEntries(st.nodes.filter((n) => n.alive).map((n) => [n.id, n.keys]))
}

/** Waits until replica `observer` no longer counts `gone` among the peers it believes alive. */
export async function waitPeerDown(
  client: KvClient,
  observer: string,
  gone: string,
  timeoutMs = 10_000,
): Promise<void> {
  await waitFor(
    `${observer} to see ${gone} down`,
    async () => {
      const st = await client.nodeStatus(observer, {timeoutMs: 1000})
      return st.peersAlive !== undefined && !st.peersAlive.includes(gone)
    },
    {timeoutMs},
  )
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `kv ARGS` through bin/run.js, as a user would, optionally feeding `stdin` and adding `env`. */
export function runCli(
  args: string[],
  opts: {stdin?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv} = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = opts.env ? {...process.env, ...opts.env} : undefined
    const child = spawn(process.execPath, [RUN_JS, ...args], {stdio: ['pipe', 'pipe', 'pipe'], env})
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    // The CLI may stop reading an oversized stdin early; the broken pipe is expected then.
    child.stdin.on('error', () => {})
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8')})
    })
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin)
    else child.stdin.end()
  })
}

/** The flags that point the CLI at a test cluster. */
export function cliTarget(cluster: TestCluster): string[] {
  return ['--redis', cluster.redisUrl, '--cluster', cluster.name]
}

/** Parses the one JSON document the CLI printed with --json (fails with the output if not JSON). */
export function parseJson(result: CliResult): Record<string, unknown> {
  try {
    return JSON.parse(result.stdout) as Record<string, unknown>
  } catch {
    throw new Error(
      `stdout is not one JSON document (exit ${result.code}): ${result.stdout.slice(0, 500)} / stderr: ${result.stderr.slice(0, 500)}`,
    )
  }
}
