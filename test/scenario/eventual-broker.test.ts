/**
 * The broker goes away and comes back empty: this file's private redis-server is killed (SIGKILL,
 * nothing persisted) while 5 replicas run, then started again on the same port. Replicas keep their
 * data in memory and on disk and reconnect by themselves: every replica serves again, the writes
 * made before the outage are still on every replica (r:1 reads: each replica's own state), a new
 * write on one replica reaches every replica, `kv status` lists every replica alive again, and a
 * client that names no replica finds a live one.
 */
import {createConnection} from 'node:net'
import {expect} from 'chai'
import type {KvClient, PutResultEventual} from '../../src/client/index.js'
import type {TestCluster} from '../support/cluster.js'
import type {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'
import {FIVE, useScenario, waitConverged, type ValueAndClock} from './scenario-support.js'

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({host: '127.0.0.1', port})
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** Writes `count` keys held by all 5 replicas; returns what each must hold. */
async function writeBefore(client: KvClient, count: number): Promise<Map<string, ValueAndClock>> {
  const written = new Map<string, ValueAndClock>()
  for (let i = 0; i < count; i++) {
    const put = (await client.put(`before:${i}`, `v${i}`, {node: FIVE[i % 5], w: 'all'})) as PutResultEventual
    expect(put.replicas).to.equal(5)
    written.set(`before:${i}`, {value: `v${i}`, clock: put.clock})
  }
  return written
}

/** Kills the broker, checks it is really gone, and starts an empty one on the same port. */
async function bounceBroker(redis: TestRedis): Promise<void> {
  await redis.stopProcess()
  expect(await portOpen(redis.port), 'the broker port is closed').to.equal(false)
  await redis.startProcess()
}

/**
 * Waits until every replica serves requests addressed to it (`--node ID`) again, through a fresh
 * client (the old ones lost their connections with the broker).
 */
async function waitServing(cluster: TestCluster): Promise<KvClient> {
  const client = await cluster.client()
  await waitFor(
    'every replica to serve again',
    async () => {
      for (const id of FIVE) await client.read('probe', {node: id, r: 1, timeoutMs: 1000})
      return true
    },
    {timeoutMs: 30_000},
  )
  return client
}

describe('eventual mode: the broker restarts empty', function () {
  const scenario = useScenario()

  it('replicas reconnect, keep the data written before, and replicate new writes to every replica', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('broker-data')
    const before = await writeBefore(await cluster.client(), 10)

    await bounceBroker(scenario.redis())
    const client = await waitServing(cluster)

    // They see each other again (heartbeats flow): --w all is met.
    const all = await waitFor(
      'a --w all write to succeed after the outage',
      async () => {
        try {
          return (await client.put('after:all', 'x', {node: 'n3', w: 'all', timeoutMs: 3000})) as PutResultEventual
        } catch {
          return undefined
        }
      },
      {timeoutMs: 30_000},
    )
    expect(all.replicas).to.equal(5)

    const fresh = (await client.put('after:1', 'new', {node: 'n2'})) as PutResultEventual
    await waitConverged(client, FIVE, 'after:1', [{value: 'new', clock: fresh.clock}])
    for (const [key, want] of before) await waitConverged(client, FIVE, key, [want], 5_000)
  })

  it('kv status lists every replica alive again, and a client without --node finds a live replica', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('broker-status')
    await writeBefore(await cluster.client(), 3)

    await bounceBroker(scenario.redis())
    const client = await waitServing(cluster)

    await waitFor(
      'status to list all 5 replicas alive',
      async () => {
        const st = await client.status()
        expect(st.nodes.map((n) => `${n.id}:${n.alive}`)).to.deep.equal(FIVE.map((id) => `${id}:true`))
        expect(st.nodes.map((n) => n.keys)).to.deep.equal([3, 3, 3, 3, 3])
        return true
      },
      {timeoutMs: 10_000},
    )

    const put = (await client.put('anywhere', 'v')) as PutResultEventual
    expect(FIVE).to.include(put.node)
    const read = await client.read('anywhere')
    expect(read.values.map((v) => v.value)).to.deep.equal(['v'])
  })
})
