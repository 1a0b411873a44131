/**
 * Proves the hinted hand-off cap (src/redis/hint-queues.ts) counts what is really pending, per peer:
 * - one peer at its cap does not stop hints to another peer;
 * - delivered hints bring the count back down, so a peer can receive many times the cap over its
 *   life (the cap is not a lifetime limit);
 * - hints left in Redis by an earlier run of the replica count against the cap;
 * - drops are reported by a rate-limited warning carrying the number dropped since the last one.
 * How: a private redis-server and real BullMQ queues and workers; peers are "down" until the test
 * marks them alive, and delivery is a stub that records what arrives. The drop warnings run on a
 * fake clock. Every wait polls with a deadline.
 */
import {Queue} from 'bullmq'
import {expect} from 'chai'
import {HintQueues} from '../../src/redis/hint-queues.js'
import {clusterNames} from '../../src/redis/channel-names.js'
import {uniqueCluster} from '../support/cluster.js'
import {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'

const CAP = 5

describe('hint queues: a per-peer cap on what is really pending', function () {
  this.timeout(30_000)
  let redis: TestRedis | undefined
  const redisUrl = (): string => {
    if (!redis) throw new Error('the broker did not start')
    return redis.url
  }
  const open: HintQueues[] = []

  before(async () => {
    redis = await TestRedis.start()
  })
  after(async () => {
    await Promise.allSettled(open.map((h) => h.close()))
    await redis?.stop()
  })

  /** A HintQueues for replica `self` whose deliveries land in `delivered` and log lines in `logs`. */
  function hintQueues(cluster: string, self: string, clock: {ms: number}) {
    const delivered = new Map<string, object[]>()
    const logs: string[] = []
    const hints = new HintQueues(
      redisUrl(),
      clusterNames(cluster),
      self,
      (peer, msg) => {
        delivered.set(peer, [...(delivered.get(peer) ?? []), msg])
        return Promise.resolve()
      },
      (level, text) => logs.push(`${level} ${text}`),
      {pendingMax: CAP, now: () => clock.ms},
    )
    open.push(hints)
    const count = (peer: string): number => delivered.get(peer)?.length ?? 0
    return {hints, count, logs}
  }

  it('applies per peer, goes back down on delivery, and warns at most once per 10 s with a count', async () => {
    const clock = {ms: 0}
    const {hints, count, logs} = hintQueues(uniqueCluster('hints-cap'), 'me', clock)
    const add = (peer: string, n: number): void => {
      for (let i = 0; i < n; i++) hints.add(peer, {type: 'hint', peer, i})
    }

    add('pa', CAP + 3)
    expect(hints.pendingFor('pa')).to.equal(CAP)
    expect(hints.droppedFor('pa')).to.equal(3)
    add('pb', CAP)
    expect(hints.pendingFor('pb'), 'pa at its cap does not stop hints to pb').to.equal(CAP)
    expect(hints.droppedFor('pb')).to.equal(0)

    // pb comes back: its hints are delivered, and pb keeps taking hints while pa is still full.
    hints.peerAlive('pb', true)
    await waitFor('pb receives its hints', () => count('pb') === CAP && hints.pendingFor('pb') === 0)
    add('pb', CAP)
    expect(hints.droppedFor('pb')).to.equal(0)
    await waitFor('pb receives its next hints', () => count('pb') === 2 * CAP && hints.pendingFor('pb') === 0)
    expect(hints.pendingFor('pa')).to.equal(CAP)

    // pa comes back: its count drains, and it takes a full cap again (over its life: 2 caps + 3 drops).
    hints.peerAlive('pa', true)
    await waitFor('pa receives its hints', () => count('pa') === CAP && hints.pendingFor('pa') === 0)
    clock.ms += 10_000
    add('pa', CAP)
    expect(hints.droppedFor('pa'), 'no drop once pa drained').to.equal(3)
    await waitFor('pa receives its next hints', () => count('pa') === 2 * CAP && hints.pendingFor('pa') === 0)

    const warnings = logs.filter((l) => l.startsWith('warn') && l.includes(' for pa'))
    expect(warnings, logs.join('\n')).to.have.length(2)
    expect(warnings[0]).to.contain('dropped 1 hint(s) for pa').and.contain(`the cap is ${CAP}`)
    expect(warnings[1], 'the drops inside the 10 s window are counted in the next line')
      .to.contain('dropped 2 hint(s) for pa')
      .and.contain('storing hints again')
    expect(logs.filter((l) => l.includes(' for pb'))).to.deep.equal([])
  })

  it('counts hints left in Redis by an earlier run against the cap', async () => {
    const cluster = uniqueCluster('hints-resume')
    const first = hintQueues(cluster, 'me', {ms: 0})
    first.hints.add('pc', {i: 1})
    first.hints.add('pc', {i: 2})
    first.hints.add('pc', {i: 3})
    first.hints.add('pc', {i: 4})
    // Wait until BullMQ holds all four, then "restart" the replica (pc never came back).
    const names = clusterNames(cluster)
    const probe = new Queue(`${names.hintQueue('pc')}-from-me`, {
      connection: {url: redisUrl()},
      prefix: names.queuePrefix,
    })
    try {
      await waitFor(
        'four hints stored',
        async () => (await probe.getJobCountByTypes('waiting', 'active', 'delayed')) === 4,
      )
    } finally {
      await probe.close()
    }
    await first.hints.close()

    const second = hintQueues(cluster, 'me', {ms: 0})
    second.hints.resumeFor(['pc'])
    await waitFor('the restarted replica counts the 4 hints left for pc', () => second.hints.pendingFor('pc') === 4)
    for (let i = 0; i < 3; i++) second.hints.add('pc', {i: 5 + i})
    expect(second.hints.pendingFor('pc')).to.equal(CAP)
    expect(second.hints.droppedFor('pc')).to.equal(2)
  })
})
