/**
 * Proves that a cluster runs over `redis+sentinel://…/MASTER` and rides out the death of the Redis
 * master by itself: replicas, clients and the BullMQ hint queues follow the promoted replica, writes
 * succeed again within seconds, no acknowledged write is lost (eventual: checkEventual) and the
 * quorum history stays linearizable (checkLinearizable), and the CLI and `kv cluster up` work over
 * the URL. A dead Sentinel set, an unknown master name and a URL kv cannot use fail with a message
 * that names the redacted URL.
 * How: each test starts its own SentinelSet (a redis-server master, one `--replicaof` replica and
 * three redis-sentinel processes, each with its own config copy; down-after-milliseconds 1000,
 * failover-timeout 3000) on free ports. In each mode three replicas run through bin/run.js and three
 * client loops put and read (eventual: w=2) over the Sentinel URL, recording a history as the
 * nemesis does; the master is SIGKILLed mid-run, and the time from the kill to the first write
 * acknowledged after it is printed. Every wait polls with a deadline.
 * KV_SENTINEL_DOWN_AFTER_MS=30000 (Sentinel's production default) measures the same with production
 * timing; a run then takes about a minute.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect} from 'chai'
import {checkEventual} from '../../src/check/eventual-history.js'
import type {HistoryOp, Verdict} from '../../src/check/history.js'
import {checkLinearizable} from '../../src/check/linearizability.js'
import {delay} from '../../src/cluster/process-helpers.js'
import {PrivateRedis} from '../../src/cluster/private-redis.js'
import {SentinelSet} from '../../src/cluster/sentinel-set.js'
import {KvError} from '../../src/core/errors.js'
import {readItems, writeFields} from '../../src/nemesis/client-worker.js'
import {collectFinalStates, finalQuorumReads} from '../../src/nemesis/final-state.js'
import {HistoryRecorder} from '../../src/nemesis/history-recorder.js'
import {outcomeOfError} from '../../src/nemesis/op-outcome.js'
import {ReconnectingClient} from '../../src/nemesis/reconnecting-client.js'
import {clusterNames} from '../../src/redis/channel-names.js'
import {HintQueues} from '../../src/redis/hint-queues.js'
import {KvClient} from '../../src/client/index.js'
import {RUN_JS, TestCluster, uniqueCluster} from '../support/cluster.js'
import {waitFor} from '../support/wait.js'
import {expectKvError, parseJson, printLogTails, runCli} from './scenario-support.js'

const IDS = ['n1', 'n2', 'n3']
const KEYS = ['k0', 'k1', 'k2', 'k3']
const WRITERS = 3
const OP_TIMEOUT_MS = 2000
/** Acknowledged writes each phase waits for: before the kill, and after the first one after it. */
const WRITES_PER_PHASE = 20
/** Sentinel's down-after-milliseconds: how long the master must be silent before a failover starts. */
const DOWN_AFTER_MS = Number(process.env.KV_SENTINEL_DOWN_AFTER_MS ?? 1000)

type Mode = 'eventual' | 'quorum'

/** What the client loops share: the history and a stop flag. */
interface LoopContext {
  readonly mode: Mode
  readonly recorder: HistoryRecorder
  stopped: boolean
}

/**
 * One client: put, put, read, … round-robin over KEYS with values unique in the run, one operation
 * at a time, each recorded with its outcome as the nemesis's workers do (src/nemesis/client-worker.ts).
 * Reconnects (through the Sentinels) when the broker connection dies.
 */
async function clientLoop(name: string, conn: ReconnectingClient, ctx: LoopContext): Promise<void> {
  const eventual = ctx.mode === 'eventual'
  for (let seq = 0; !ctx.stopped; seq++) {
    const connected = await conn.get()
    if (!connected) {
      await delay(50)
      continue
    }
    const {client, watch} = connected
    const key = KEYS[seq % KEYS.length] as string
    const kind = seq % 3 === 2 ? 'read' : 'put'
    const value = kind === 'put' ? `${name}-${seq}` : undefined
    const base = {client: name, kind, key, ...(value !== undefined ? {value} : {})} as const
    const invoke = ctx.recorder.now()
    watch.begin()
    try {
      if (kind === 'read') {
        const result = await client.read(key, {timeoutMs: OP_TIMEOUT_MS})
        const read = readItems(result, ctx.mode)
        ctx.recorder.record({...base, invoke, complete: ctx.recorder.now(), status: 'ok', node: result.node, read})
      } else {
        const w = eventual ? 2 : undefined
        const result = await client.put(key, value as string, {timeoutMs: OP_TIMEOUT_MS, ...(w ? {w} : {})})
        const fields = writeFields(result, w, IDS.length)
        ctx.recorder.record({...base, invoke, complete: ctx.recorder.now(), status: 'ok', ...fields})
      }
    } catch (error) {
      const outcome = outcomeOfError(error, watch.mayHaveDelivered)
      const complete = outcome.status === 'fail' ? ctx.recorder.now() : null
      ctx.recorder.record({...base, invoke, complete, ...outcome}, (error as Error).message)
      if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await conn.reset()
      await delay(20)
    }
  }
}

const ackedWrites = (ops: readonly HistoryOp[], after = Number.NEGATIVE_INFINITY): HistoryOp[] =>
  ops.filter((op) => op.kind === 'put' && op.status === 'ok' && op.invoke >= after)

function expectOk(verdict: Verdict, what: string): void {
  expect(verdict.verdict, `${what}: ${verdict.problems.join('\n')}`).to.equal('ok')
}

describe('a broker behind Sentinel (redis+sentinel://)', function () {
  this.timeout(90_000)
  let set: SentinelSet | undefined
  let cluster: TestCluster | undefined
  const cleanups: (() => Promise<void>)[] = []

  const sentinels = async (): Promise<SentinelSet> => {
    set = await SentinelSet.start({downAfterMs: DOWN_AFTER_MS})
    return set
  }

  afterEach(async function () {
    this.timeout(30_000)
    if (this.currentTest?.state === 'failed') printLogTails([cluster], 30)
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {})
    await cluster?.close()
    cluster = undefined
    await set?.stop()
    set = undefined
  })

  /**
   * Runs the cluster in `mode` under the client loops, kills the master once WRITES_PER_PHASE writes
   * were acknowledged, and stops the loops WRITES_PER_PHASE writes after the first one acknowledged
   * after the kill. Returns the history and the measured times.
   */
  async function failoverUnderLoad(mode: Mode) {
    const broker = await sentinels()
    cluster = new TestCluster(broker.url, uniqueCluster(`sentinel-${mode}`), IDS, mode)
    cluster.startAll()
    await cluster.waitAlive()
    const name = cluster.name
    const recorder = new HistoryRecorder(performance.now())
    const ctx: LoopContext = {mode, recorder, stopped: false}
    const conns = Array.from({length: WRITERS}, () => new ReconnectingClient(broker.url, name, OP_TIMEOUT_MS))
    cleanups.push(async () => {
      ctx.stopped = true
      await Promise.all(conns.map((c) => c.close()))
    })
    const loops = conns.map((conn, i) => clientLoop(`c${i}`, conn, ctx))

    await waitFor('writes before the kill', () => ackedWrites(recorder.ops).length >= WRITES_PER_PHASE, {
      timeoutMs: 20_000,
    })
    const termsBefore = await termsOf(broker.url, name)
    const oldPort = await broker.masterPort()
    const killedAt = recorder.now()
    await broker.killMaster(oldPort)
    // Writes sent after this went through the promoted replica: the old master was gone.
    const diedAt = recorder.now()
    const newPort = await broker.waitPromoted(oldPort, DOWN_AFTER_MS + 20_000)
    const promotedAt = recorder.now()
    const first = await waitFor(
      'a write acknowledged after the kill',
      () => ackedWrites(recorder.ops, diedAt).sort((a, b) => (a.complete ?? 0) - (b.complete ?? 0))[0],
      {timeoutMs: DOWN_AFTER_MS + 30_000, intervalMs: 20},
    )
    await waitFor('writes after the failover', () => ackedWrites(recorder.ops, diedAt).length >= WRITES_PER_PHASE, {
      timeoutMs: 20_000,
    })
    ctx.stopped = true
    await Promise.all(loops)
    // The replicas' own connections went through the switch too (not only the clients'): each one
    // lost the broker, and found the promoted replica by itself.
    for (const id of IDS) {
      const log = cluster.logOf(id)
      const lost = log.indexOf('lost the broker')
      expect(lost >= 0 && log.indexOf(' is back', lost) > lost, `${id} lost the broker and found it again`).to.equal(
        true,
      )
    }
    const termsAfter = await termsOf(broker.url, name)

    const firstWriteMs = Math.round((first.complete ?? 0) - killedAt)
    const promotedMs = Math.round(promotedAt - killedAt)
    const outcomes: Record<string, number> = {}
    for (const op of recorder.ops.filter((o) => o.status !== 'ok')) {
      const outcome = `${op.kind} ${op.status} ${op.error ?? ''}`.trim()
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    }
    console.log(
      `      ${mode}: master 127.0.0.1:${oldPort} killed; Sentinels named 127.0.0.1:${newPort} after ${promotedMs} ms; ` +
        `first write acknowledged after the kill: ${firstWriteMs} ms; ${ackedWrites(recorder.ops).length} acked puts; ` +
        `not ok: ${JSON.stringify(outcomes)}` +
        (mode === 'quorum' ? `; terms ${termsBefore} before, ${termsAfter} after` : ''),
    )
    expect(firstWriteMs, 'writes succeed again within 10 s of the Sentinels noticing').to.be.below(
      DOWN_AFTER_MS + 10_000,
    )
    return {broker, name, recorder, conns}
  }

  /** Each replica's quorum term as `n1:3,n2:3,…` (empty in eventual mode), from a fresh client. */
  async function termsOf(url: string, name: string): Promise<string> {
    const client = await KvClient.connect({redisUrl: url, cluster: name, timeoutMs: 3000})
    try {
      const st = await client.status({timeoutMs: 1000})
      return st.nodes.map((n) => `${n.id}:${n.term ?? '-'}`).join(',')
    } finally {
      await client.close()
    }
  }

  /** `kv put` then `kv read` and `kv status` through the CLI over the Sentinel URL. */
  async function cliWorks(url: string, name: string, putArgs: string[]): Promise<void> {
    const kv = async (args: string[]) => {
      const run = await runCli([...args, '--redis', url, '--cluster', name, '--json'])
      expect(run.code, `kv ${args.join(' ')}: ${run.stdout}${run.stderr}`).to.equal(0)
      return parseJson(run)
    }
    await kv(['put', 'after-failover', 'yes', ...putArgs])
    const read = await kv(['read', 'after-failover'])
    expect((read.values as {value: string}[]).map((v) => v.value)).to.deep.equal(['yes'])
    const status = await kv(['status'])
    expect((status.nodes as {alive: boolean}[]).filter((n) => n.alive)).to.have.length(IDS.length)
  }

  it('eventual: writes resume after the master dies, and no acknowledged write is lost', async () => {
    const {broker, name, recorder, conns} = await failoverUnderLoad('eventual')
    const touched = [...new Set(recorder.ops.map((op) => op.key))].sort()
    const collected = await collectFinalStates(conns[0] as ReconnectingClient, IDS, touched, 30_000)
    expect(collected.unreadable, 'every replica answers at the end').to.deep.equal([])
    expect(collected.converged, 'the replicas converge').to.equal(true)
    const verdict = checkEventual(recorder.ops, collected.finals)
    console.log(`      eventual: checkEventual ${verdict.verdict} ${JSON.stringify(verdict.stats)}`)
    expectOk(verdict, 'checkEventual')
    await cliWorks(broker.url, name, ['--w', 'all'])
  })

  it('quorum: writes resume after the master dies, and the history is linearizable', async () => {
    const {broker, name, recorder} = await failoverUnderLoad('quorum')
    const finalConns = new Map(IDS.map((id) => [id, new ReconnectingClient(broker.url, name, OP_TIMEOUT_MS)]))
    cleanups.push(async () => {
      await Promise.all([...finalConns.values()].map((c) => c.close()))
    })
    const stuck = await finalQuorumReads(finalConns, KEYS, recorder, 30_000)
    expect(stuck, 'every replica serves reads at the end').to.deep.equal([])
    const verdict = checkLinearizable(recorder.ops)
    console.log(`      quorum: checkLinearizable ${verdict.verdict} ${JSON.stringify(verdict.stats)}`)
    expectOk(verdict, 'checkLinearizable')
    await cliWorks(broker.url, name, [])
  })

  it('BullMQ hint queues made before a failover store and deliver hints on the new master', async () => {
    const broker = await sentinels()
    const delivered: object[] = []
    const hints = new HintQueues(
      broker.url,
      clusterNames(uniqueCluster('sentinel-hints')),
      'n1',
      (_peer, msg) => {
        delivered.push(msg)
        return Promise.resolve()
      },
      () => {},
    )
    cleanups.push(() => hints.close())
    hints.peerAlive('n2', true)
    hints.add('n2', {before: 1})
    await waitFor('the hint before the failover delivered', () => delivered.length === 1)
    const oldPort = await broker.masterPort()
    await broker.killMaster()
    await broker.waitPromoted(oldPort)
    // The queue and its worker (and the blocking connection BullMQ duplicated) were made before the kill.
    hints.add('n2', {after: 2})
    await waitFor('the hint after the failover delivered', () => delivered.length === 2, {timeoutMs: 20_000})
    expect(delivered).to.deep.equal([{before: 1}, {after: 2}])
    expect(hints.pendingFor('n2')).to.equal(0)
  })

  it('`kv cluster up` uses the URL; dead Sentinels, an unknown master, a Sentinel login and a bad URL say so', async () => {
    const broker = await sentinels()
    const name = uniqueCluster('sentinel-up')
    const dir = mkdtempSync(join(tmpdir(), 'kv-sentinel-up-'))
    const up = spawn(
      process.execPath,
      [RUN_JS, 'cluster', 'up', '--nodes', '1', '--redis', broker.url, '--cluster', name, '--data-dir', dir, '--json'],
      {stdio: ['ignore', 'pipe', 'pipe']},
    )
    const exited = new Promise<number | null>((done) => up.once('exit', (code) => done(code)))
    cleanups.push(() => {
      up.kill('SIGKILL')
      rmSync(dir, {recursive: true, force: true})
      return Promise.resolve()
    })
    let stdout = ''
    let stderr = ''
    up.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
    up.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const report = await waitFor(
      'kv cluster up to report ready',
      () => (stdout.includes('\n') ? (JSON.parse(stdout.split('\n')[0] as string) as {redis: string}) : undefined),
      {timeoutMs: 30_000},
    )
    expect(report.redis).to.equal(broker.url)
    expect(stderr).not.to.match(/private redis-server/)
    const client = await KvClient.connect({redisUrl: broker.url, cluster: name, timeoutMs: 3000})
    cleanups.push(() => client.close())
    expect((await client.put('up', 'yes')).node).to.equal('n1')
    up.kill('SIGTERM')
    expect(await exited, stderr).to.equal(0)

    const dead = 'redis+sentinel://kv-user:sekret@127.0.0.1:1,127.0.0.1:2/kvm'
    const error = await expectKvError(KvClient.connect({redisUrl: dead, timeoutMs: 1000}), 'REDIS_UNAVAILABLE')
    expect(error.message).to.include('redis+sentinel://kv-user:***@127.0.0.1:1,127.0.0.1:2/kvm')
    expect(error.message).to.match(/no Sentinel told where master "kvm" is/)
    expect(error.message).not.to.include('sekret')

    const unknown = await runCli(['status', '--redis', broker.url.replace(/kvm$/, 'nope'), '--json'])
    expect(unknown.code).to.equal(1)
    expect(parseJson(unknown).error).to.deep.include({code: 'REDIS_UNAVAILABLE'})
    expect(JSON.stringify(parseJson(unknown).error)).to.match(/do not know a master named \\"nope\\"/)

    const locked = await PrivateRedis.start({
      sentinelConfig: `requirepass sentinel-secret\nsentinel monitor kvm 127.0.0.1 ${await broker.masterPort()} 2\n`,
      login: {username: 'default', password: 'sentinel-secret'},
    })
    cleanups.push(() => locked.stop())
    const lockedUrl = `redis+sentinel://:master-secret@127.0.0.1:${locked.port}/kvm`
    const login = await expectKvError(KvClient.connect({redisUrl: lockedUrl, timeoutMs: 1000}), 'REDIS_UNAVAILABLE')
    expect(login.message).to.match(/^the Sentinels at redis\+sentinel:\/\/:\*\*\*@127\.0\.0\.1:\d+\/kvm want a login/)
    expect(login.message).to.include('kv asks Sentinels without one')

    // A replica stops at start, with the reason, instead of retrying a master name nobody knows.
    const replica = await runCli(
      ['node', 'start', '--id', 'n1', '--peers', 'n1', '--data-dir', join(dir, 'refused')].concat([
        '--redis',
        broker.url.replace(/kvm$/, 'nope'),
        '--cluster',
        name,
      ]),
      {timeoutMs: 15_000},
    )
    expect(replica.code, replica.stderr).to.equal(1)
    expect(replica.stderr).to.match(/^error: the Sentinels at \S+\/nope do not know a master named "nope"/m)

    const bad = await runCli(['status', '--redis', 'redis+sentinal://:sekret@127.0.0.1:1/kvm', '--json'])
    expect(bad.code).to.equal(2)
    const badError = parseJson(bad).error as {code: string; message: string}
    expect(badError.code).to.equal('BAD_REQUEST')
    expect(badError.message).to.include('redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER')
    expect(badError.message).not.to.include('sekret')
  })
})
