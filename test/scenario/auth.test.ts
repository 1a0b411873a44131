/**
 * An authenticated cluster with real processes: replicas started with --secret-file, the real CLI,
 * and an attacker that can do everything a broker user without the secret can (subscribe to every
 * channel of the cluster, publish anything). It records real messages and publishes them replayed,
 * moved to another inbox, tampered with, stripped of their MAC, or re-made with the wrong key; none
 * may change anything, and every one is counted in the replicas' `rejected` status.
 */
import {chmodSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect} from 'chai'
import {Redis} from 'ioredis'
import {ClientAuth} from '../../src/auth/client-auth.js'
import {parseEnvelope} from '../../src/auth/envelope.js'
import {KeyRing} from '../../src/auth/keys.js'
import {KvClient, type KvClient as Client} from '../../src/client/index.js'
import type {NodeStatus} from '../../src/core/client-messages.js'
import {clusterNames} from '../../src/redis/channel-names.js'
import {TestCluster, uniqueCluster} from '../support/cluster.js'
import {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'
import {printLogTails, readLocal, runCli} from './scenario-support.js'

const THREE = ['n1', 'n2', 'n3']

interface Seen {
  readonly channel: string
  readonly raw: Buffer
}

/** A broker user without the secret: sees every message of the cluster, publishes whatever it likes. */
class Attacker {
  readonly seen: Seen[] = []
  private constructor(
    private readonly sub: Redis,
    readonly pub: Redis,
  ) {}

  static async listen(url: string, cluster: string): Promise<Attacker> {
    const sub = new Redis(url)
    const pub = new Redis(url)
    const a = new Attacker(sub, pub)
    sub.on('pmessageBuffer', (_p: Buffer, channel: Buffer, raw: Buffer) =>
      a.seen.push({channel: channel.toString(), raw}),
    )
    await sub.psubscribe(`kv:${cluster}:*`)
    return a
  }

  find(channel: string, contains: string): Seen {
    const hit = this.seen.find((s) => s.channel === channel && s.raw.includes(contains))
    if (!hit) throw new Error(`the attacker saw no message on ${channel} containing ${contains}`)
    return hit
  }

  /** Publishes and returns how many replicas received it (it must reach someone to prove anything). */
  async send(channel: string, raw: Buffer | string): Promise<number> {
    return this.pub.publish(channel, raw)
  }

  close(): void {
    this.sub.disconnect()
    this.pub.disconnect()
  }
}

type Rejected = Record<'no-mac' | 'bad-mac' | 'stale' | 'replayed', number>

function rejectedOf(n: NodeStatus | undefined): Rejected {
  const r = (n as unknown as {rejected?: Rejected} | undefined)?.rejected
  if (!r) throw new Error(`replica ${n?.id} reports no rejected counts: was it started with --secret-file?`)
  return r
}

/** Every replica's refusal counts, polled until `check` accepts them. */
async function waitRejected(
  client: Client,
  what: string,
  check: (byNode: Map<string, Rejected>) => boolean,
): Promise<Map<string, Rejected>> {
  return waitFor(what, async () => {
    const st = await client.status({timeoutMs: 1000})
    const byNode = new Map(st.nodes.filter((n) => n.alive).map((n) => [n.id, rejectedOf(n)]))
    return check(byNode) ? byNode : undefined
  })
}

/** The body of an envelope, edited, sealed again with `auth` for `label` naming the epochs the original named. */
function reforge(auth: ClientAuth, label: string, raw: Buffer, edit: (body: string) => string): string {
  const env = parseEnvelope(raw)
  if (!env) throw new Error('not an envelope')
  const stamps = env.to === '-' ? [] : env.to.split(',').map((s) => s.split('=') as [string, string])
  return auth.seal(label, stamps, edit(env.body.toString('utf8')))
}

function errorCode(stdout: string): string | undefined {
  return (JSON.parse(stdout) as {error?: {code?: string}}).error?.code
}

function bodyOf(raw: Buffer): string {
  const env = parseEnvelope(raw)
  if (!env) throw new Error('not an envelope')
  return env.body.toString('utf8')
}

describe('authenticated cluster: signed messages over a real broker', function () {
  this.timeout(120_000)
  let redis: TestRedis
  let dir: string
  let secretA: string
  let secretB: string
  let both: string
  let bothNewFirst: string
  let otherSecret: string
  const clusters: TestCluster[] = []
  const attackers: Attacker[] = []
  const wrong = (cluster: string) =>
    new ClientAuth(
      new KeyRing([Buffer.from('a wrong secret that is long enough to be one', 'utf8')], cluster),
      'n1',
      'x',
    )

  before(async function () {
    this.timeout(30_000)
    redis = await TestRedis.start()
    dir = mkdtempSync(join(tmpdir(), 'kv-auth-'))
    const write = (name: string, lines: string[]): string => {
      const p = join(dir, name)
      writeFileSync(p, `${lines.join('\n')}\n`)
      chmodSync(p, 0o600)
      return p
    }
    const a = 'alpha-secret-0123456789-abcdefghijklmnopqrstuvwxyz'
    const b = 'bravo-secret-9876543210-zyxwvutsrqponmlkjihgfedcba'
    secretA = write('a', [a])
    secretB = write('b', [b])
    both = write('a+b', [a, b])
    bothNewFirst = write('b+a', [b, a])
    otherSecret = write('other', ['some-other-cluster-secret-that-is-long-enough'])
  })

  afterEach(async function () {
    this.timeout(30_000)
    if (this.currentTest?.state === 'failed') printLogTails(clusters, 30)
    for (const a of attackers.splice(0)) a.close()
    await Promise.all(clusters.splice(0).map((c) => c.close()))
  })

  after(async () => {
    await redis.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  async function startCluster(prefix: string, mode: 'eventual' | 'quorum', secretFile = secretA): Promise<TestCluster> {
    const c = new TestCluster(redis.url, uniqueCluster(prefix), THREE, mode, {secretFile})
    clusters.push(c)
    c.startAll()
    await c.waitAlive()
    return c
  }

  it('eventual: replayed, moved, tampered, unsigned and wrong-key messages change nothing and are counted', async () => {
    const cluster = await startCluster('auth-ev', 'eventual')
    const names = clusterNames(cluster.name)
    const attacker = await Attacker.listen(redis.url, cluster.name)
    attackers.push(attacker)
    const client = await cluster.client()
    await client.put('b', 'first', {node: 'n1', w: 'all'})
    await client.put('b', 'second', {node: 'n1', w: 'all'})
    const before = await waitRejected(client, 'status', () => true)

    const put = attacker.find(names.inbox('n1'), '"first"')
    const repl = await waitFor('a replication message', () =>
      attacker.seen.find((s) => s.channel === names.replicationTopic && s.raw.includes('"second"')),
    )
    const sent = [
      // replayed as it was, within the freshness window: a second `first` would supersede `second`
      await attacker.send(names.inbox('n1'), put.raw),
      // moved to another replica's inbox
      await attacker.send(names.inbox('n2'), put.raw),
      // tampered: one byte of the value changed
      await attacker.send(names.inbox('n1'), Buffer.from(put.raw.toString('utf8').replace('"first"', '"firsT"'))),
      // stripped of its MAC
      await attacker.send(names.inbox('n1'), bodyOf(put.raw)),
      // well-formed replication of a new value, naming the real epochs, made with the wrong key
      await attacker.send(
        names.replicationTopic,
        reforge(wrong(cluster.name), 'topic:replication', repl.raw, (b) => b.replaceAll('"second"', '"forged"')),
      ),
      // the real replication message again, replayed
      await attacker.send(names.replicationTopic, repl.raw),
    ]
    expect(
      sent.every((n) => n > 0),
      `every attack reached a replica (${sent.join(',')})`,
    ).to.equal(true)

    const after = await waitRejected(client, 'every attack counted', (m) => {
      const d = (id: string, k: keyof Rejected) => (m.get(id)?.[k] ?? 0) - (before.get(id)?.[k] ?? 0)
      return (
        d('n1', 'replayed') >= 2 && // the put, and the replication message (n1 hears its own topic)
        d('n1', 'bad-mac') >= 2 && // tampered, wrong key
        d('n1', 'no-mac') >= 1 &&
        d('n2', 'bad-mac') >= 2 && // moved, wrong key
        d('n2', 'replayed') >= 1 &&
        d('n3', 'bad-mac') >= 1 &&
        d('n3', 'replayed') >= 1
      )
    })
    expect(after.size).to.equal(3)
    for (const id of THREE) {
      const r = await readLocal(client, id, 'b')
      expect(
        r.values.map((v) => v.value),
        `${id} holds only the real latest value`,
      ).to.deep.equal(['second'])
    }

    // After a restart the replica's epochs are new: the recorded put is refused as stale.
    expect(await cluster.stop('n1')).to.equal(0)
    cluster.start('n1')
    await cluster.waitAlive()
    expect(await attacker.send(names.inbox('n1'), put.raw)).to.be.greaterThan(0)
    await waitRejected(client, 'the old put refused after the restart', (m) => (m.get('n1')?.stale ?? 0) >= 1)
    const r = await readLocal(client, 'n1', 'b')
    expect(r.values.map((v) => v.value)).to.deep.equal(['second'])
  })

  it('quorum: forged APPENDs, COMMITs and COORDINATORs made with the wrong key move no term, leader or value', async () => {
    const cluster = await startCluster('auth-q', 'quorum')
    const names = clusterNames(cluster.name)
    const attacker = await Attacker.listen(redis.url, cluster.name)
    attackers.push(attacker)
    const client = await cluster.client()
    await client.put('x', 'one')
    const st0 = await client.status({timeoutMs: 1000})
    const leader = st0.leader as string
    expect(leader, 'a leader').to.be.a('string')
    const term = (st0.nodes.find((n) => n.id === leader) as unknown as {term: number}).term
    const follower = THREE.find((id) => id !== leader) as string

    const append = await waitFor('an APPEND with an entry', () =>
      attacker.seen.find(
        (s) => s.channel === names.inbox(follower) && s.raw.includes('"APPEND"') && s.raw.includes('"one"'),
      ),
    )
    const commit = await waitFor('a COMMIT', () =>
      attacker.seen.find((s) => s.channel === names.commitTopic && s.raw.includes('"COMMIT"')),
    )
    const bad = wrong(cluster.name)
    const later = (b: string) => b.replace(/"term":\d+/, `"term":${term + 50}`)
    const sent = [
      await attacker.send(
        names.inbox(follower),
        reforge(bad, `node:${follower}`, append.raw, (b) => later(b).replaceAll('"one"', '"forged"')),
      ),
      await attacker.send(names.commitTopic, reforge(bad, 'topic:commit', commit.raw, later)),
      await attacker.send(
        names.electionTopic,
        reforge(bad, 'topic:election', commit.raw, () =>
          JSON.stringify({type: 'COORDINATOR', from: follower, term: term + 50}),
        ),
      ),
      // unsigned, well-formed: a COORDINATOR for a much later term
      await attacker.send(names.electionTopic, JSON.stringify({type: 'COORDINATOR', from: follower, term: term + 60})),
      // the real APPEND, replayed
      await attacker.send(names.inbox(follower), append.raw),
    ]
    expect(
      sent.every((n) => n > 0),
      `every attack reached a replica (${sent.join(',')})`,
    ).to.equal(true)
    await waitRejected(client, 'every attack counted', (m) => {
      const f = m.get(follower)
      return (f?.['bad-mac'] ?? 0) >= 3 && (f?.['no-mac'] ?? 0) >= 1 && (f?.replayed ?? 0) >= 1
    })
    const st = await client.status({timeoutMs: 1000})
    expect(st.leader).to.equal(leader)
    for (const n of st.nodes) expect((n as unknown as {term: number}).term, `${n.id} term`).to.equal(term)
    const read = await client.read('x')
    expect(read.values.map((v) => v.value)).to.deep.equal(['one'])
  })

  it('a client without the secret, or with another, gets UNAUTHENTICATED at once and changes nothing', async () => {
    const cluster = await startCluster('auth-cli', 'eventual')
    const target = ['--redis', redis.url, '--cluster', cluster.name, '--json']
    for (const extra of [[], ['--secret-file', otherSecret]]) {
      for (const cmd of [['put', 'k', 'v'], ['read', 'k'], ['status'], ['fault', 'heal']]) {
        const started = Date.now()
        const res = await runCli([...cmd, ...target, ...extra], {env: {KV_SECRET_FILE: ''}})
        const took = Date.now() - started
        expect(res.code, `${cmd.join(' ')} ${extra.join(' ')}: ${res.stdout}${res.stderr}`).to.equal(1)
        expect(errorCode(res.stdout)).to.equal('UNAUTHENTICATED')
        expect(took, 'answered well before any timeout').to.be.lessThan(4000)
      }
    }
    // The secret from the environment works like the flag; nothing was written by the refused puts.
    const ok = await runCli(['read', 'k', ...target], {env: {KV_SECRET_FILE: secretA}})
    expect(ok.code, ok.stderr).to.equal(0)
    expect((JSON.parse(ok.stdout) as {found: boolean}).found).to.equal(false)
  })

  it('kv node start refuses a secret file that is missing, too short or readable by everyone', async () => {
    const short = join(dir, 'short')
    writeFileSync(short, 'too-short\n')
    chmodSync(short, 0o600)
    const open = join(dir, 'open')
    writeFileSync(open, 'a-secret-that-is-long-enough-but-everyone-can-read-it\n')
    chmodSync(open, 0o644)
    const cases: [string, RegExp][] = [
      [join(dir, 'missing'), /does not exist/],
      [short, /at least 32/],
      [open, /readable by every user.*chmod 600/],
    ]
    for (const [file, why] of cases) {
      const res = await runCli(
        ['node', 'start', '--id', 'n1', '--peers', 'n1', '--redis', redis.url, '--secret-file', file],
        {
          timeoutMs: 10_000,
        },
      )
      expect(res.code, `${file}: ${res.stderr}`).to.equal(2)
      expect(res.stderr).to.match(why)
      expect(res.stderr.trim().split('\n').length, 'one clear line').to.be.lessThan(3)
    }
  })

  it('rotates to a new secret by rolling restarts, without a failed request', async () => {
    const cluster = await startCluster('auth-rot', 'eventual', secretA)
    // A client of each generation: the old one holds only A, the new one only B.
    const connect = async (file: string): Promise<Client> =>
      KvClient.connect({
        redisUrl: redis.url,
        cluster: cluster.name,
        timeoutMs: 5000,
        secrets: (await import('../../src/auth/secret-file.js')).readSecretFile(file),
      })
    const oldClient = await connect(secretA)
    let newClient: Client | undefined
    let running = true
    const failures: string[] = []
    let ok = 0
    const load = async (c: () => Client | undefined, tag: string): Promise<void> => {
      for (let i = 0; running; i++) {
        const client = c()
        if (!client) {
          await new Promise((r) => setTimeout(r, 20))
          continue
        }
        try {
          await client.put(`${tag}-${i % 20}`, `v${i}`)
          ok++
        } catch (error) {
          failures.push(`${tag} #${i}: ${(error as Error).message}`)
        }
      }
    }
    const loops = [load(() => oldClient, 'old'), load(() => newClient, 'new')]
    const rollTo = async (file: string): Promise<void> => {
      cluster.useSecretFile(file)
      for (const id of THREE) {
        expect(await cluster.stop(id)).to.equal(0)
        cluster.start(id)
        await cluster.waitAlive()
      }
    }
    try {
      await rollTo(both) // 1: accept B, still sign with A
      await rollTo(bothNewFirst) // 2: sign with B, still accept A
      newClient = await connect(secretB)
      const okBefore = ok
      await waitFor('the new client writes', () => ok > okBefore + 20)
      running = false
      await Promise.all(loops)
      running = true
      await oldClient.close()
      const newOnly = [load(() => newClient, 'new2')]
      await rollTo(secretB) // 3: B only; clients with A are refused from now on
      running = false
      await Promise.all(newOnly)
    } finally {
      running = false
      await oldClient.close().catch(() => {})
      await newClient?.close()
    }
    expect(failures, failures.slice(0, 5).join('\n')).to.deep.equal([])
    expect(ok).to.be.greaterThan(50)
    const stale = await runCli([
      'read',
      'old-1',
      '--redis',
      redis.url,
      '--cluster',
      cluster.name,
      '--json',
      '--secret-file',
      secretA,
    ])
    expect(errorCode(stale.stdout)).to.equal('UNAUTHENTICATED')
  })
})
