/**
 * Proves that deploy/redis-acl/kv-users.acl, as shipped, is enough for a kv cluster named `prod` and
 * no more, and that a refused login says so. How: a private redis-server runs with a copy of the file
 * (plus one test-only admin user, appended, that reads ACL LOG); three replicas log in as `kv-replica`
 * and the CLI as `kv-client`, in eventual mode (put, read, delete, status, a partition whose hinted
 * hand-off goes through BullMQ after the heal) and then in quorum mode on the same broker, restarted
 * empty; ACL LOG must then hold no denial. Then, as those users through ioredis directly, every step
 * outside `prod` (another cluster's channels and keys, FLUSHALL, CONFIG, KEYS) must answer NOPERM.
 * Last, a wrong password: the CLI exits 1 with REDIS_UNAVAILABLE naming the refusal and the user but
 * not the password, and `kv node start` exits non-zero within seconds with one clear line.
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {expect} from 'chai'
import {Redis} from 'ioredis'
import {RUN_JS, TestCluster} from '../support/cluster.js'
import {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'
import {parseJson, printLogTails, runCli, type CliResult} from './scenario-support.js'

const ACL_FILE = resolve(import.meta.dirname, '../../deploy/redis-acl/kv-users.acl')
/** The placeholder passwords of the shipped file (real deployments replace them). */
const REPLICA_PASSWORD = 'kv-replica-CHANGE-ME'
const CLIENT_PASSWORD = 'kv-client-CHANGE-ME'
const IDS = ['n1', 'n2', 'n3']

/** Runs `kv ARGS --json` as kv-client against cluster prod and returns the parsed document. */
type Kv = (args: string[]) => Promise<{run: CliResult; json: Record<string, unknown>}>

describe('a broker with least-privilege ACL users (deploy/redis-acl)', function () {
  this.timeout(60_000)
  const dir = mkdtempSync(join(tmpdir(), 'kv-acl-'))
  const admin = {username: 'kv-test-admin', password: randomBytes(12).toString('hex')}
  let redis: TestRedis | undefined
  let cluster: TestCluster | undefined
  const opened: Redis[] = []

  const broker = (): TestRedis => {
    if (!redis) throw new Error('the broker did not start')
    return redis
  }
  const urlAs = (user: string, password: string): string => `redis://${user}:${password}@127.0.0.1:${broker().port}`
  const replicaUrl = (): string => urlAs('kv-replica', REPLICA_PASSWORD)
  const clientUrl = (): string => urlAs('kv-client', CLIENT_PASSWORD)
  const kv: Kv = async (args) => {
    const run = await runCli([...args, '--redis', clientUrl(), '--cluster', 'prod', '--json'])
    return {run, json: parseJson(run)}
  }

  /** A connection as `user`, closed in `after`. */
  async function connectAs(user: string, password: string): Promise<Redis> {
    const conn = new Redis(urlAs(user, password), {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    })
    conn.on('error', () => {})
    opened.push(conn)
    await conn.connect()
    return conn
  }

  /** Every ACL LOG entry so far, as `user: reason object` lines. */
  async function aclDenials(): Promise<string[]> {
    const conn = await connectAs(admin.username, admin.password)
    const log = (await conn.call('ACL', 'LOG', '100')) as unknown[]
    return log.map((entry) => {
      const fields = toRecord(entry)
      return `${String(fields.username)}: ${String(fields.reason)} ${String(fields.object)}`
    })
  }

  before(async function () {
    this.timeout(30_000)
    // The file as shipped, plus an admin that only this test uses (to read ACL LOG).
    const copy = join(dir, 'kv-users.acl')
    const adminLine = `user ${admin.username} on >${admin.password} ~* &* +@all`
    writeFileSync(copy, `${readFileSync(ACL_FILE, 'utf8').trimEnd()}\n${adminLine}\n`)
    // DEBUG is switched on so that refusing it is the ACL's doing, not the server default's.
    redis = await TestRedis.start({args: ['--aclfile', copy, '--enable-debug-command', 'yes'], login: admin})
  })

  afterEach(async function () {
    this.timeout(30_000)
    if (this.currentTest?.state === 'failed') printLogTails([cluster], 30)
    await cluster?.close()
    cluster = undefined
  })

  after(async () => {
    for (const conn of opened) conn.disconnect()
    await redis?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  async function startProd(mode: 'eventual' | 'quorum'): Promise<TestCluster> {
    cluster = new TestCluster(replicaUrl(), 'prod', IDS, mode, {clientRedisUrl: clientUrl()})
    cluster.startAll() // with --allow-faults
    await cluster.waitAlive()
    return cluster
  }

  /** Polls `kv read KEY --node NODE --r 1` until its values are `values`. */
  async function waitRead(key: string, node: string, values: string[], timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `${node} to read ${key} as ${JSON.stringify(values)}`,
      async () => {
        const {json} = await kv(['read', key, '--node', node, '--r', '1'])
        const got = ((json.values ?? []) as {value: string}[]).map((v) => v.value)
        expect(got, JSON.stringify(json)).to.deep.equal(values)
        return true
      },
      {timeoutMs, intervalMs: 200},
    )
  }

  it('runs an eventual cluster: put, read, delete, status, partition and heal (hints through BullMQ)', async () => {
    await startProd('eventual')
    const put = await kv(['put', 'colour', 'blue', '--w', 'all'])
    expect(put.run.code, put.run.stdout).to.equal(0)
    for (const id of IDS) await waitRead('colour', id, ['blue'])

    const status = await kv(['status'])
    expect(status.json.cluster).to.equal('prod')
    expect((status.json.nodes as {alive: boolean}[]).filter((n) => n.alive)).to.have.length(3)

    const cut = await kv(['fault', 'partition', 'n1', 'n2,n3'])
    expect(cut.run.code, cut.run.stdout).to.equal(0)
    // n1 stores the write and keeps a hint for each peer it cannot reach (a BullMQ job under kv-prod).
    const lonely = await kv(['put', 'shape', 'square', '--node', 'n1'])
    expect(lonely.run.code, lonely.run.stdout).to.equal(0)
    const unseen = await kv(['read', 'shape', '--node', 'n2', '--r', '1'])
    expect(unseen.json.found, 'n2 is cut off from n1').to.equal(false)
    const heal = await kv(['fault', 'heal'])
    expect(heal.run.code, heal.run.stdout).to.equal(0)
    for (const id of ['n2', 'n3']) await waitRead('shape', id, ['square'])

    const del = await kv(['delete', 'colour'])
    expect(del.run.code, del.run.stdout).to.equal(0)
    for (const id of IDS) await waitRead('colour', id, [])
    expect(await aclDenials(), 'ACL LOG').to.deep.equal([])
  })

  it('runs a quorum cluster: put, read, delete, status, partition and heal', async () => {
    await broker().restart() // empty again: the eventual run's registry and queues are gone
    await startProd('quorum')
    const leader = await waitFor(
      'a leader',
      async () => {
        const {json} = await kv(['status'])
        return typeof json.leader === 'string' ? json.leader : null
      },
      {timeoutMs: 20_000, intervalMs: 200},
    )
    const put = await kv(['put', 'colour', 'green'])
    expect(put.run.code, put.run.stdout).to.equal(0)
    for (const id of IDS) await waitRead('colour', id, ['green'])

    // Cut the leader off: the other two elect a leader and commit without it.
    const others = IDS.filter((id) => id !== leader)
    const cut = await kv(['fault', 'partition', leader, others.join(',')])
    expect(cut.run.code, cut.run.stdout).to.equal(0)
    await waitFor(
      'a write committed by the majority side',
      async () => (await kv(['put', 'shape', 'circle', '--node', others[0] as string])).run.code === 0,
      {timeoutMs: 20_000, intervalMs: 200},
    )
    const heal = await kv(['fault', 'heal'])
    expect(heal.run.code, heal.run.stdout).to.equal(0)
    for (const id of IDS) await waitRead('shape', id, ['circle'])

    const del = await kv(['delete', 'colour'])
    expect(del.run.code, del.run.stdout).to.equal(0)
    const read = await kv(['read', 'colour'])
    expect(read.json.found).to.equal(false)
    expect(await aclDenials(), 'ACL LOG').to.deep.equal([])
  })

  it('refuses both users everything outside cluster prod (NOPERM)', async () => {
    const client = await connectAs('kv-client', CLIENT_PASSWORD)
    const replica = await connectAs('kv-replica', REPLICA_PASSWORD)
    const denied = async (what: string, command: Promise<unknown>): Promise<void> => {
      const outcome = await command.then(
        (value) => `answered ${JSON.stringify(value)}`,
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      )
      expect(outcome, what).to.match(/^NOPERM/)
    }
    for (const [user, conn] of [
      ['kv-client', client],
      ['kv-replica', replica],
    ] as const) {
      await denied(`${user} PUBLISH kv:other:control`, conn.publish('kv:other:control', 'x'))
      await denied(`${user} GET kv:other:fault`, conn.get('kv:other:fault'))
      await denied(`${user} HGETALL kv:other:registry`, conn.hgetall('kv:other:registry'))
      await denied(`${user} SET kv-other:x`, conn.set('kv-other:x', '1'))
      await denied(`${user} FLUSHALL`, conn.flushall())
      await denied(`${user} FLUSHDB`, conn.flushdb())
      await denied(`${user} CONFIG GET`, conn.config('GET', 'dir'))
      await denied(`${user} KEYS`, conn.keys('kv:*'))
      await denied(`${user} DEBUG`, conn.call('DEBUG', 'SLEEP', '0'))
    }
    // The client reads the cluster's keys and writes only the fault key; it cannot forge a replica's
    // presence or registration, nor publish on the replicas' own topics.
    await denied('kv-client SET kv:prod:alive:n1', client.set('kv:prod:alive:n1', '{}'))
    await denied('kv-client HSET kv:prod:registry', client.hset('kv:prod:registry', 'n9', '{}'))
    await denied('kv-client PUBLISH kv:prod:replication', client.publish('kv:prod:replication', 'x'))
    await denied('kv-client SET kv-prod:x', client.set('kv-prod:x', '1'))
    // SUBSCRIBE last: a subscribed connection takes no other commands.
    await denied('kv-client SUBSCRIBE kv:other:reply:x', client.subscribe('kv:other:reply:x'))
    await denied('kv-replica SUBSCRIBE kv:other:inbox:n1', replica.subscribe('kv:other:inbox:n1'))
  })

  it('says that the broker refused the login, naming the user and never the password', async () => {
    const password = 'not-the-password-4711'
    const json = await runCli(['status', '--redis', urlAs('kv-client', password), '--cluster', 'prod', '--json'])
    expect(json.code, json.stdout).to.equal(1)
    const error = (parseJson(json).error ?? {}) as {code?: string; message?: string}
    expect(error.code).to.equal('REDIS_UNAVAILABLE')
    expect(error.message).to.match(/refused the login of user "kv-client"/)
    expect(error.message).to.include(`127.0.0.1:${broker().port}`)
    expect(json.stdout + json.stderr).not.to.include(password)

    const human = await runCli(['put', 'k', 'v', '--redis', urlAs('kv-client', password), '--cluster', 'prod'])
    expect(human.code).to.equal(1)
    expect(human.stderr).to.match(/^error: the broker at \S+ refused the login of user "kv-client" [^\n]*\n$/)
    expect(human.stderr).not.to.include(password)
  })

  it('stops `kv node start` within seconds when the broker refuses its login', async () => {
    const password = 'not-the-password-4712'
    const started = Date.now()
    const child = spawn(
      process.execPath,
      [
        RUN_JS,
        'node',
        'start',
        '--id',
        'n1',
        '--peers',
        'n1',
        '--cluster',
        'prod',
        '--data-dir',
        join(dir, 'refused'),
      ].concat(['--redis', urlAs('kv-replica', password)]),
      {stdio: ['ignore', 'pipe', 'pipe']},
    )
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      child.on('exit', (exitCode) => {
        clearTimeout(timer)
        done(exitCode)
      })
    })
    const ms = Date.now() - started
    expect(code, stderr).to.be.a('number').and.not.equal(0)
    expect(ms, 'exits within seconds').to.be.below(10_000)
    const errors = stderr.split('\n').filter((line) => line.startsWith('error: '))
    expect(errors, stderr).to.have.length(1)
    expect(errors[0]).to.match(/refused the login of user "kv-replica"/)
    expect(stderr).not.to.include(password)
  })
})

/** ACL LOG entries are flat [name, value, …] lists (RESP2) or maps (RESP3). */
function toRecord(entry: unknown): Record<string, unknown> {
  if (Array.isArray(entry)) {
    const out: Record<string, unknown> = {}
    for (let i = 0; i + 1 < entry.length; i += 2) out[String(entry[i])] = entry[i + 1]
    return out
  }
  if (entry instanceof Map) return Object.fromEntries(entry) as Record<string, unknown>
  return (entry ?? {}) as Record<string, unknown>
}
