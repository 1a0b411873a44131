/**
 * Contract "SIGKILL or a crash: the next start recovers what the replica had acknowledged, then
 * catches up": clients write a stream of sequential keys to n1 with --w 1 (acknowledged = n1 alone
 * has it durably) and record which writes were acknowledged; n1 is killed with SIGKILL mid-stream.
 * Before n1 restarts, the others are partitioned away from it: they drop everything n1 sends and
 * send nothing to its inbox (no anti-entropy answers, no hints, no repair), so once n1 serves again,
 * every acknowledged write it returns to an r:1 read can only come from its own data dir. Then the
 * partition heals and every acknowledged write reaches every other replica with the acknowledged
 * clock (n1 pushes what only it had).
 */
import {expect} from 'chai'
import type {KvClient, PutResultEventual} from '../../src/client/index.js'
import {waitFor} from '../support/wait.js'
import {FIVE, expectValues, readLocal, useScenario, waitConverged} from './scenario-support.js'

interface Ack {
  key: string
  value: string
  clock: PutResultEventual['clock']
}

/**
 * `writers` concurrent loops put k0, k1, … to n1 until `stop()` is called; each acknowledged put is
 * recorded. Failures after the kill are expected (the outcome of those writes is unknown).
 */
function writeStream(client: KvClient, writers: number) {
  const acked: Ack[] = []
  const failed: string[] = []
  let next = 0
  let stopped = false
  const loop = async () => {
    while (!stopped) {
      const key = `k${next++}`
      const value = `value-of-${key}`
      try {
        const put = (await client.put(key, value, {node: 'n1', w: 1, timeoutMs: 2000})) as PutResultEventual
        acked.push({key, value, clock: put.clock})
      } catch {
        failed.push(key)
        await new Promise((r) => setTimeout(r, 20)) // n1 is gone: do not spin
      }
    }
  }
  const loops = Array.from({length: writers}, loop)
  return {
    acked,
    failed,
    async stop() {
      stopped = true
      await Promise.all(loops)
    },
  }
}

describe('eventual mode: a replica killed mid-stream keeps every acknowledged write', function () {
  const scenario = useScenario()

  it('after kill -9 and restart, n1 serves every write it acknowledged from its own log, and the others converge', async function () {
    this.timeout(120_000)
    const cluster = await scenario.startCluster('crash-stream')
    const client = await cluster.client()

    const stream = writeStream(client, 8)
    await waitFor('300 acknowledged writes', () => stream.acked.length >= 300, {timeoutMs: 30_000, intervalMs: 10})
    await cluster.kill('n1')
    const ackedAtKill = stream.acked.length
    await waitFor('a write to fail after the kill', () => stream.failed.length > 0, {timeoutMs: 10_000, intervalMs: 20})
    await stream.stop()
    // Nothing can be acknowledged by a dead replica (at most the replies already on their way).
    expect(stream.acked.length - ackedAtKill, 'acks after the kill').to.be.at.most(8)
    const acked = stream.acked
    expect(acked.length).to.be.at.least(300)
    for (const a of acked) expect(a.clock, a.key).to.deep.equal({n1: 1})

    // Cut n1 off before it comes back (the others apply it at once), so what n1 serves is its own.
    await client.partition([['n1'], ['n2', 'n3', 'n4', 'n5']])
    cluster.start('n1')
    await waitFor('n1 to serve again', () => client.nodeStatus('n1', {timeoutMs: 1000}), {timeoutMs: 20_000})
    const missing: string[] = []
    for (let i = 0; i < acked.length; i += 50) {
      await Promise.all(
        acked.slice(i, i + 50).map(async (a) => {
          const r = await readLocal(client, 'n1', a.key)
          if (!r.found || r.values.length !== 1 || r.values[0]?.value !== a.value) missing.push(a.key)
          else expectValues(r, [{value: a.value, clock: a.clock}], `n1 ${a.key}`)
        }),
      )
    }
    expect(missing, `acknowledged writes n1 lost (of ${acked.length})`).to.deep.equal([])

    // Heal: n1 and the others exchange what they miss; every acknowledged write is everywhere.
    await client.heal()
    await cluster.waitAlive()
    await waitFor(
      'every acknowledged write on every replica',
      async () => {
        for (const id of FIVE.slice(1)) {
          const status = await client.nodeStatus(id, {timeoutMs: 1000})
          expect(status.keys, `${id} key count`).to.be.at.least(acked.length)
        }
        return true
      },
      {timeoutMs: 30_000},
    )
    for (let i = 0; i < acked.length; i += 50) {
      await Promise.all(
        acked
          .slice(i, i + 50)
          .map((a) => waitConverged(client, FIVE, a.key, [{value: a.value, clock: a.clock}], 10_000)),
      )
    }
  })
})
