/**
 * Quorum mode with five real replica processes over a real redis-server (seed 002's driver): a write
 * commits on a majority and every replica reads it back; with three of five replicas down a write is
 * refused with NO_QUORUM and the value never appears after they return; killing the leader (kill -9)
 * yields a new serving leader (the measured failover time is printed), and the old leader rejoins as
 * a follower so there is one leader; a partition that leaves the leader in a minority stops the
 * minority from committing while the majority elects and commits, and after healing the minority's
 * uncommitted write is gone; kill -9 of every replica loses no committed write.
 */
import {expect} from 'chai'
import {KvError} from '../../src/core/errors.js'
import type {PutResultQuorum} from '../../src/core/client-messages.js'
import {TestCluster, uniqueCluster} from '../support/cluster.js'
import {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5']

describe('quorum mode (real processes)', function () {
  this.timeout(90_000)
  let redis: TestRedis
  let cluster: TestCluster | undefined

  before(async () => {
    redis = await TestRedis.start()
  })
  after(async () => redis.stop())
  afterEach(async () => {
    await cluster?.close()
    cluster = undefined
  })

  async function leaderOf(c: Awaited<ReturnType<TestCluster['client']>>, alive: string[]): Promise<string> {
    return waitFor(
      'one leader all live replicas agree on',
      async () => {
        const st = await c.status({timeoutMs: 1000})
        const live = st.nodes.filter((n) => alive.includes(n.id) && n.alive)
        if (live.length !== alive.length || !st.leader) return null
        const leaders = live.filter((n) => n.role === 'leader')
        return leaders.length === 1 && live.every((n) => n.leader === st.leader) ? st.leader : null
      },
      {timeoutMs: 20_000},
    )
  }

  it('commits with a majority, reads it everywhere, and refuses with NO_QUORUM when 3 of 5 are down', async () => {
    cluster = new TestCluster(redis.url, uniqueCluster('q-seed002'), IDS, 'quorum')
    cluster.startAll()
    const c = await cluster.client()
    await leaderOf(c, IDS)
    const put = (await c.put('greeting', 'hello', {node: 'n2'})) as PutResultQuorum
    expect(put.version.index).to.be.greaterThan(0)
    for (const id of IDS) {
      const r = await c.read('greeting', {node: id})
      expect(
        r.values.map((v) => v.value),
        id,
      ).to.deep.equal(['hello'])
      expect(
        r.values.map((v) => v.version),
        id,
      ).to.deep.equal([put.version])
    }
    // Without --node, once a reply named the leader, the client goes to it directly (no follower hop).
    const leader = put.leader
    for (let i = 0; i < 5; i++) {
      const p = (await c.put(`direct-${i}`, 'x')) as PutResultQuorum
      expect(p.leader).to.equal(leader)
      expect(p.node, 'asked the leader it learnt').to.equal(leader)
    }
    for (const id of ['n3', 'n4', 'n5']) await cluster.kill(id)
    // n1/n2 must notice the majority is gone before they can promise NO_QUORUM.
    // A TIMEOUT means n1 has not noticed yet: try again. Anything else ends the wait and is judged below
    // (a success here would be a write committed without a majority).
    const outcome = await waitFor(
      'NO_QUORUM from n1',
      () =>
        c.put('greeting', 'lost', {node: 'n1', timeoutMs: 3000}).then(
          () => 'committed without a majority',
          (error: unknown) =>
            error instanceof KvError && error.code === 'TIMEOUT'
              ? null
              : error instanceof KvError
                ? error.code
                : String(error),
        ),
      {timeoutMs: 20_000},
    )
    expect(outcome).to.equal('NO_QUORUM')
    for (const id of ['n3', 'n4', 'n5']) cluster.start(id)
    await leaderOf(c, IDS)
    for (const id of IDS) {
      const r = await c.read('greeting', {node: id})
      expect(
        r.values.map((v) => v.value),
        `${id} after the minority write`,
      ).to.deep.equal(['hello'])
    }
  })

  it('a killed leader is replaced within seconds, writes continue, and the old leader rejoins as follower', async () => {
    cluster = new TestCluster(redis.url, uniqueCluster('q-failover'), IDS, 'quorum')
    cluster.startAll()
    const c = await cluster.client()
    const old = await leaderOf(c, IDS)
    await c.put('k', 'before', {node: old})
    const killedAt = Date.now()
    await cluster.kill(old)
    const rest = IDS.filter((id) => id !== old)
    const writer = rest[0]
    await waitFor(
      'a write through a new leader',
      async () => {
        try {
          return await c.put('k', 'after', {node: writer, timeoutMs: 2000})
        } catch {
          return null
        }
      },
      {timeoutMs: 20_000, intervalMs: 50},
    )
    const failoverMs = Date.now() - killedAt
    console.log(`      failover: leader ${old} killed → write committed through a new leader in ${failoverMs} ms`)
    const fresh = await leaderOf(c, rest)
    expect(fresh).to.not.equal(old)
    cluster.start(old)
    const final = await leaderOf(c, IDS)
    const r = await c.read('k', {node: old})
    expect(r.values.map((v) => v.value)).to.deep.equal(['after'])
    expect(IDS).to.include(final)
  })

  it('a leader partitioned into a minority cannot commit; the majority elects and commits; the minority write is gone after heal', async () => {
    cluster = new TestCluster(redis.url, uniqueCluster('q-partition'), IDS, 'quorum')
    cluster.startAll()
    const c = await cluster.client()
    const old = await leaderOf(c, IDS)
    const buddy = IDS.find((id) => id !== old)!
    const minority = [old, buddy]
    const majority = IDS.filter((id) => !minority.includes(id))
    await c.put('k', 'before', {node: old})
    await c.partition([minority, majority])
    // The old leader cannot commit: the write is refused or its outcome stays unknown.
    let minorityCode: string | undefined
    try {
      await c.put('k', 'minority', {node: old, timeoutMs: 3000})
    } catch (error) {
      minorityCode = (error as KvError).code
    }
    expect(minorityCode, 'a minority write must not commit').to.be.oneOf(['TIMEOUT', 'NO_QUORUM'])
    const committed = await waitFor(
      'the majority side commits',
      async () => {
        try {
          return (await c.put('k', 'majority', {node: majority[0], timeoutMs: 2000})) as PutResultQuorum
        } catch {
          return null
        }
      },
      {timeoutMs: 20_000},
    )
    expect(committed.leader).to.be.oneOf(majority)
    await c.heal()
    await leaderOf(c, IDS)
    for (const id of IDS) {
      const r = await waitFor(
        `${id} reads the majority write`,
        async () => {
          const x = await c.read('k', {node: id})
          return x.values[0]?.value === 'majority' ? x : null
        },
        {timeoutMs: 20_000},
      )
      expect(
        r.values.map((v) => v.value),
        id,
      ).to.deep.equal(['majority'])
    }
  })

  it('kill -9 of every replica loses no committed write', async () => {
    cluster = new TestCluster(redis.url, uniqueCluster('q-killall'), IDS, 'quorum')
    cluster.startAll()
    const c = await cluster.client()
    await leaderOf(c, IDS)
    const acked: string[] = []
    for (let i = 0; i < 20; i++) {
      await c.put(`key${i}`, `value${i}`, {node: IDS[i % IDS.length]})
      acked.push(`key${i}`)
    }
    for (const id of IDS) await cluster.kill(id)
    cluster.startAll()
    await leaderOf(c, IDS)
    for (const id of IDS) {
      for (const [i, key] of acked.entries()) {
        const r = await c.read(key, {node: id})
        expect(
          r.values.map((v) => v.value),
          `${key} on ${id}`,
        ).to.deep.equal([`value${i}`])
      }
    }
  })
})
