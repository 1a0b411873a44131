/**
 * Seed 004 / contract "a node whose id is not in --peers may join a running cluster": a replica n6,
 * started with --peers n1..n5 against a running 5-replica cluster that already holds keys, receives
 * all the data by itself (checked with r:1 reads of n6, which never ask a peer), is listed alive by
 * `kv status`, is learnt by the others (their failure detectors list it, and --w all now means 6),
 * and its own writes grow an n6 entry in the vector clock and reach every other replica.
 */
import {expect} from 'chai'
import type {PutResultEventual} from '../../src/client/index.js'
import {KvError} from '../../src/client/index.js'
import {compareClocks} from '../../src/eventual/vector-clock.js'
import {waitFor} from '../support/wait.js'
import {FIVE, useScenario, waitConverged, type ValueAndClock} from './scenario-support.js'

const SIX = [...FIVE, 'n6']

describe('eventual mode: a new replica joins a running cluster', function () {
  const scenario = useScenario()

  it('n6 started with --peers n1..n5 gets the data, is listed alive, and its writes carry an n6 clock entry everywhere', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('membership-join')
    const client = await cluster.client()

    const existing = new Map<string, ValueAndClock>()
    for (let i = 0; i < 20; i++) {
      const key = `user:${i}`
      const put = (await client.put(key, `value-${i}`, {node: FIVE[i % 5], w: 'all'})) as PutResultEventual
      existing.set(key, {value: `value-${i}`, clock: put.clock})
    }
    await client.delete('user:0', {node: 'n1', w: 'all'})
    existing.delete('user:0')

    // TestCluster.start gives a non-member id the peers we pass: n6 is not in its own --peers.
    cluster.start('n6', {peers: FIVE})
    await cluster.waitAlive(SIX, 30_000) // every replica's failure detector lists all six

    // n6 catches up on its own: r:1 reads of n6 answer from n6's state only.
    for (const [key, want] of existing) await waitConverged(client, ['n6'], key, [want], 20_000)
    await waitConverged(client, ['n6'], 'user:0', []) // the delete too (a tombstone, not a gap)

    const status = await client.status()
    const n6 = status.nodes.find((n) => n.id === 'n6')
    expect(n6, 'status lists n6').to.not.equal(undefined)
    expect(n6!.alive).to.equal(true)
    expect(n6!.keys).to.equal(19)
    expect(status.nodes.filter((n) => n.alive).map((n) => n.id)).to.deep.equal(SIX)

    // A write on n6 (it may ask us to retry while it is still catching up; that refusal writes nothing).
    const fresh = await waitFor(
      'n6 to accept a write',
      async () => {
        try {
          return (await client.put('user:1', 'from-n6', {node: 'n6'})) as PutResultEventual
        } catch (error) {
          if (error instanceof KvError && error.code === 'UNAVAILABLE') return undefined
          throw error
        }
      },
      {timeoutMs: 20_000},
    )
    expect(fresh.clock.n6, 'the clock has an n6 entry').to.equal(1)
    expect(compareClocks(fresh.clock, existing.get('user:1')!.clock), 'it supersedes the old version').to.equal('after')
    await waitConverged(client, SIX, 'user:1', [{value: 'from-n6', clock: fresh.clock}])

    const created = (await client.put('made-on-n6', 'hello', {node: 'n6'})) as PutResultEventual
    expect(created.clock).to.deep.equal({n6: 1})
    await waitConverged(client, SIX, 'made-on-n6', [{value: 'hello', clock: created.clock}])

    // The others count n6 as a member: --w all on n1 now needs (and gets) six replicas.
    const all = (await client.put('everyone', 'x', {node: 'n1', w: 'all'})) as PutResultEventual
    expect(all.replicas).to.equal(6)
  })
})
