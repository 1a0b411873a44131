/**
 * Seed 000 (a), no conflict: a replica goes offline, keys it already holds are updated on the other
 * replicas (some twice, through different coordinators), and when it comes back it ends up with
 * the newest values and exactly the clocks the others hold — without any client traffic to it.
 * The only requests the returning replica gets are r:1 reads, which answer from its own state
 * (no peers asked, no read repair), so the catch-up is the replicas' own doing (hints and
 * anti-entropy). Then the update is sent once more, through the returning replica, and supersedes
 * the newest version everywhere (its clock merged the others'). Two variants: a clean SIGTERM
 * (which must exit 0) and a kill -9.
 */
import {expect} from 'chai'
import type {KvClient, PutResultEventual} from '../../src/client/index.js'
import {compareClocks} from '../../src/eventual/vector-clock.js'
import type {TestCluster} from '../support/cluster.js'
import {FIVE, expectValues, readLocal, useScenario, waitConverged, type ValueAndClock} from './scenario-support.js'

/**
 * Writes while `victim` is down, through the other replicas. Each first update of a key uses a --w
 * of every live replica so that the second update's coordinator has surely seen it (no siblings).
 */
async function updateWhileDown(
  client: KvClient,
  live: readonly [string, string, string, string],
): Promise<Map<string, ValueAndClock>> {
  const w = live.length
  const put = async (key: string, value: string, node: string) =>
    (await client.put(key, value, {node, w})) as PutResultEventual
  const expected = new Map<string, ValueAndClock>()
  // updated twice, through two different coordinators
  await put('k1', 'k1-v2', live[0])
  const k1 = await put('k1', 'k1-v3', live[1])
  expected.set('k1', {value: 'k1-v3', clock: k1.clock})
  await put('k2', 'k2-v2', live[2])
  const k2 = await put('k2', 'k2-v3', live[0])
  expected.set('k2', {value: 'k2-v3', clock: k2.clock})
  // updated once
  const k3 = await put('k3', 'k3-v2', live[3])
  expected.set('k3', {value: 'k3-v2', clock: k3.clock})
  // created while it was down
  const k4 = await put('k4', 'k4-v1', live[1])
  expected.set('k4', {value: 'k4-v1', clock: k4.clock})
  return expected
}

/** Keys every replica (the victim included) holds before the outage. */
async function writeInitial(client: KvClient): Promise<Map<string, ValueAndClock>> {
  const initial = new Map<string, ValueAndClock>()
  for (const [i, key] of ['k1', 'k2', 'k3', 'k5'].entries()) {
    const put = (await client.put(key, `${key}-v1`, {node: FIVE[i], w: 'all'})) as PutResultEventual
    expect(put.replicas).to.equal(5)
    initial.set(key, {value: `${key}-v1`, clock: put.clock})
  }
  return initial
}

async function expectCaughtUp(
  cluster: TestCluster,
  client: KvClient,
  victim: string,
  initial: Map<string, ValueAndClock>,
  updated: Map<string, ValueAndClock>,
) {
  // The clocks really moved on: each updated version descends from the one the victim holds.
  for (const [key, want] of updated) {
    const old = initial.get(key)
    if (old) expect(compareClocks(want.clock, old.clock), key).to.equal('after')
  }
  // Poll the returning replica only with r:1 reads until it holds the newest versions...
  for (const [key, want] of updated) await waitConverged(client, [victim], key, [want], 20_000)
  // ...and the key nobody touched is still the old version.
  expectValues(await readLocal(client, victim, 'k5'), [initial.get('k5')!])
  // Every other replica holds exactly the same versions.
  for (const [key, want] of updated)
    for (const id of cluster.ids) expectValues(await readLocal(client, id, key), [want], `${id} ${key}`)
  // The update sent again, now through the returning replica: its merged clock is the base, so the
  // new version supersedes the newest one (no sibling), everywhere.
  const k1 = updated.get('k1')!
  const again = (await client.put('k1', 'k1-v4', {node: victim, w: 'all'})) as PutResultEventual
  expect(again.replicas).to.equal(5)
  expect(again.clock).to.deep.equal({...k1.clock, [victim]: 1})
  for (const id of cluster.ids)
    expectValues(await readLocal(client, id, 'k1'), [{value: 'k1-v4', clock: again.clock}], `${id} k1`)
}

describe('eventual mode: a replica that was offline catches up (seed 000 a)', function () {
  const scenario = useScenario()

  it('after SIGTERM (exit 0) and restart, n5 returns the newest values with the same clocks as the others', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('offline-term')
    const client = await cluster.client()
    const initial = await writeInitial(client)

    expect(await cluster.stop('n5'), 'n5 exit code after SIGTERM').to.equal(0)
    const updated = await updateWhileDown(client, ['n1', 'n2', 'n3', 'n4'])

    cluster.start('n5')
    await cluster.waitAlive()
    await expectCaughtUp(cluster, client, 'n5', initial, updated)
  })

  it('after kill -9 and restart, n4 returns the newest values with the same clocks as the others', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('offline-kill')
    const client = await cluster.client()
    const initial = await writeInitial(client)

    await cluster.kill('n4')
    const updated = await updateWhileDown(client, ['n2', 'n3', 'n5', 'n1'])

    cluster.start('n4')
    await cluster.waitAlive()
    await expectCaughtUp(cluster, client, 'n4', initial, updated)
  })
})
