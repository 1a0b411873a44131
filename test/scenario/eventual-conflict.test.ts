/**
 * Seed 000 (b), conflict: with the cluster partitioned [n1,n2] | [n3,n4,n5] (kv fault partition),
 * the same key is written on both sides. After healing, every replica — asked with r:1 reads only,
 * so each answers from its own state — holds the same two siblings, whose clocks are pairwise
 * concurrent. The siblings survive a restart of every replica (SIGTERM, exit 0, start again). A put
 * carrying the read's context then resolves the conflict: every replica ends with one value whose
 * clock dominates both old clocks. Also: a delete concurrent with a write (on opposite sides of a
 * partition) does not hide the write — after healing the key is found with the written value. And
 * a replica restarted while partitioned stays in its group until heal (the partition is stored in
 * Redis): it must not take a write from across the partition, witnessed by a later write from its
 * own side arriving while the earlier far write does not.
 */
import {assert, expect} from 'chai'
import type {PutResultEventual} from '../../src/client/index.js'
import {compareClocks} from '../../src/eventual/vector-clock.js'
import {waitFor} from '../support/wait.js'
import {FIVE, concurrent, expectValues, readLocal, useScenario, waitConverged} from './scenario-support.js'

const LEFT = ['n1', 'n2']
const RIGHT = ['n3', 'n4', 'n5']

describe('eventual mode: concurrent writes become siblings (seed 000 b)', function () {
  const scenario = useScenario()

  it('writes on both sides of a partition become 2 concurrent siblings everywhere, survive restarts, and a put with the context resolves them', async function () {
    this.timeout(120_000)
    const cluster = await scenario.startCluster('conflict-siblings')
    const client = await cluster.client()

    await client.partition([LEFT, RIGHT])
    const left = (await client.put('cart', 'apples', {node: 'n1'})) as PutResultEventual
    const right = (await client.put('cart', 'pears', {node: 'n3'})) as PutResultEventual
    expect(
      concurrent(left.clock, right.clock),
      `${JSON.stringify(left.clock)} vs ${JSON.stringify(right.clock)}`,
    ).to.equal(true)
    // While partitioned each side holds only its own write (with its side's w, no siblings yet).
    await waitConverged(client, LEFT, 'cart', [{value: 'apples', clock: left.clock}])
    await waitConverged(client, RIGHT, 'cart', [{value: 'pears', clock: right.clock}])

    await client.heal()
    const siblings = [
      {value: 'apples', clock: left.clock},
      {value: 'pears', clock: right.clock},
    ]
    const reads = await waitConverged(client, FIVE, 'cart', siblings, 30_000)
    for (const [id, r] of reads) {
      expect(r.values, id).to.have.length(2)
      const [a, b] = r.values.map((v) => v.clock)
      assert(a && b, `${id}: both siblings carry a clock`)
      expect(concurrent(a, b), `${id}: sibling clocks are concurrent`).to.equal(true)
    }

    // Every replica restarts cleanly and still holds both siblings (from its own disk).
    const codes = await Promise.all(FIVE.map((id) => cluster.stop(id)))
    expect(codes).to.deep.equal([0, 0, 0, 0, 0])
    cluster.startAll()
    await cluster.waitAlive()
    for (const id of FIVE) expectValues(await readLocal(client, id, 'cart'), siblings, `${id} after restart`)

    // A read with the default r gives the context that covers both; a put with it resolves them.
    const read = await client.read('cart', {node: 'n4'})
    expectValues(read, siblings)
    const resolved = (await client.put('cart', 'apples+pears', {
      node: 'n2',
      context: read.context,
    })) as PutResultEventual
    expect(compareClocks(resolved.clock, left.clock), 'resolved clock vs left').to.equal('after')
    expect(compareClocks(resolved.clock, right.clock), 'resolved clock vs right').to.equal('after')
    const after = await waitConverged(client, FIVE, 'cart', [{value: 'apples+pears', clock: resolved.clock}], 20_000)
    for (const [id, r] of after) {
      expect(r.conflict, id).to.equal(false)
      for (const old of [left.clock, right.clock])
        expect(
          r.values.map((v) => v.clock && compareClocks(v.clock, old)),
          id,
        ).to.deep.equal(['after'])
    }
  })

  it('a delete concurrent with a write leaves the written value found after healing', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('conflict-delete')
    const client = await cluster.client()

    const base = (await client.put('profile', 'v1', {node: 'n1', w: 'all'})) as PutResultEventual
    expect(base.replicas).to.equal(5)

    await client.partition([LEFT, RIGHT])
    const del = (await client.delete('profile', {node: 'n2'})) as PutResultEventual
    const write = (await client.put('profile', 'v2', {node: 'n4'})) as PutResultEventual
    expect(concurrent(del.clock, write.clock), 'the delete and the write are concurrent').to.equal(true)
    // On the deleting side the key is gone for now.
    await waitConverged(client, LEFT, 'profile', [])

    await client.heal()
    const reads = await waitConverged(client, FIVE, 'profile', [{value: 'v2', clock: write.clock}], 30_000)
    for (const [id, r] of reads) expect(r.found, id).to.equal(true)

    // The tombstone survives beside the value as a sibling: a put with the read's context covers both.
    const read = await client.read('profile', {node: 'n1'})
    const next = (await client.put('profile', 'v3', {node: 'n5', context: read.context})) as PutResultEventual
    expect(compareClocks(next.clock, del.clock), 'the new write has seen the delete').to.equal('after')
    await waitConverged(client, FIVE, 'profile', [{value: 'v3', clock: next.clock}])
  })

  it('a replica restarted during a partition stays partitioned until heal', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('conflict-restart-partitioned')
    const client = await cluster.client()

    await client.partition([LEFT, RIGHT])
    expect(await cluster.stop('n1')).to.equal(0)
    cluster.start('n1')
    await waitFor(
      'n1 to serve and hear n2 again',
      async () => (await client.nodeStatus('n1', {timeoutMs: 1000})).peersAlive?.includes('n2'),
      {timeoutMs: 20_000},
    )

    // First a write on the far side, held by all of that side before the reply (so its replication
    // broadcast was published before the reply)...
    const far = (await client.put('far', 'from-n3', {node: 'n3', w: 3})) as PutResultEventual
    expect(far.replicas).to.equal(3)
    // ...then a write on n1's side. Redis delivers n1 the far write's broadcast first, so once n1
    // holds the near write it would already hold the far one if it listened across the partition.
    const near = (await client.put('near', 'from-n2', {node: 'n2'})) as PutResultEventual
    await waitConverged(client, ['n1'], 'near', [{value: 'from-n2', clock: near.clock}])
    expect((await readLocal(client, 'n1', 'far')).found, 'n1 got a write from across the partition').to.equal(false)
    const view = await client.nodeStatus('n1')
    expect(view.peersAlive, 'n1 hears only its own side').to.deep.equal(['n1', 'n2'])

    await client.heal()
    await waitConverged(client, FIVE, 'far', [{value: 'from-n3', clock: far.clock}])
  })
})
