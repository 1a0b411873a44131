/**
 * Replicas must survive whatever is published on their channels: anyone who can reach the broker
 * can publish. A raw ioredis publisher sends garbage to every channel the cluster listens on (each
 * replica's inbox, the members, replication and control topics): bytes that are not JSON, JSON that
 * is not an object, objects without a type, unknown types, `repl` messages whose sibling sets are
 * malformed (negative counters, a context covering its own dot, duplicate dots, too many siblings or
 * entries, numbers for values, 2000-byte keys, a version superseding its sibling), a 9 MiB message
 * whose content would otherwise be valid, and client requests with missing fields.
 * Every forged state is aimed at keys the cluster holds and would visibly change them if accepted.
 * Afterwards every replica is still alive, holds exactly the versions it held before (r:1 reads of
 * every key, `status` key counts), a normal put and read still work, and the replicas' logs report
 * the dropped messages.
 */
import {expect} from 'chai'
import {Redis} from 'ioredis'
import type {PutResultEventual, ReadResult} from '../../src/client/index.js'
import {clusterNames} from '../../src/redis/channel-names.js'
import {waitFor} from '../support/wait.js'
import {FIVE, canonicalValues, keysByNode, readLocal, useScenario, waitConverged} from './scenario-support.js'

const MiB = 1024 * 1024
const KEYS = ['alpha', 'beta', 'gamma']

type Version = {dot: {node: string; counter: number}; ctx: Record<string, unknown>; value: unknown}

/** A version that, if accepted, would supersede the real n1/n2/n3 writes (its ctx covers them). */
function forged(
  node: string,
  counter: number,
  value: unknown,
  ctx: Record<string, unknown> = {n1: 99, n2: 99, n3: 99},
): Version {
  return {dot: {node, counter}, ctx, value}
}

function repl(entries: unknown, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({type: 'repl', from: 'n2', batch: 'evil-batch', entries, ...extra})
}

/** Every malformed `repl` payload; each one targets a key the cluster holds. */
function malformedReplications(): string[] {
  const many = Array.from({length: 65}, (_, i) => forged(`z${i}`, 1, `sibling-${i}`)) // > 64 siblings
  return [
    repl([{key: 'alpha', siblings: [forged('n9', -1, 'negative counter')]}]),
    repl([{key: 'alpha', siblings: [forged('n9', 1, 'negative ctx', {n1: -5})]}]),
    repl([{key: 'alpha', siblings: [forged('n9', 0, 'zero counter')]}]),
    repl([{key: 'alpha', siblings: [forged('n9', 1.5, 'fractional counter')]}]),
    repl([{key: 'alpha', siblings: [forged('n9', 2 ** 60, 'unsafe counter')]}]),
    repl([{key: 'alpha', siblings: [forged('n9', 3, 'ctx covers its own dot', {n1: 99, n2: 99, n3: 99, n9: 3})]}]),
    repl([{key: 'beta', siblings: [forged('n9', 1, 'dup-a'), forged('n9', 1, 'dup-b')]}]),
    repl([
      {key: 'beta', siblings: [forged('n9', 1, 'newer', {n1: 99, n2: 99, n3: 99, n8: 1}), forged('n8', 1, 'older')]},
    ]),
    repl([{key: 'beta', siblings: many}]),
    repl([{key: 'gamma', siblings: [forged('n9', 1, 42)]}]),
    repl([{key: 'gamma', siblings: [forged('n9', 1, {nested: true})]}]),
    repl([{key: 'gamma', siblings: [forged('bad:id', 1, 'bad node id')]}]),
    repl([{key: 'gamma', siblings: [forged('n9', 1, 'bad ctx id', {'n1:x': 99})]}]),
    repl([{key: 'gamma', siblings: [{...forged('n9', 1, 'extra field'), extra: 1}]}]),
    repl([{key: 'gamma', siblings: [{dot: {node: 'n9', counter: 1}, value: 'no ctx'}]}]),
    repl([{key: 'gamma', siblings: 'not an array'}]),
    repl([{key: 'x'.repeat(2000), siblings: [forged('n9', 1, 'long key')]}]),
    repl([{key: '', siblings: [forged('n9', 1, 'empty key')]}]),
    repl([{key: 'alpha', siblings: [forged('n9', 1, 'v'.repeat(MiB + 1))]}]),
    repl(Array.from({length: 1100}, (_, i) => ({key: `flood-${i}`, siblings: [forged('n9', 1, 'x', {})]}))),
    repl({key: 'alpha'}),
    repl([{key: 'alpha', siblings: [forged('n9', 1, 'bad batch')]}], {batch: 7}),
    repl([{key: 'alpha', siblings: [forged('n9', 1, 'bad from')]}], {from: 'not a valid id!'}),
    JSON.stringify({type: 'read.resp', from: 'n2', id: 'x', key: 'alpha', siblings: [forged('n9', -1, 'bad')]}),
    JSON.stringify({type: 'hb', from: 'n2', mode: 'eventual', members: 'everyone'}),
    JSON.stringify({type: 'ae.digest', from: 'n2', id: 'x', buckets: ['zz']}),
    JSON.stringify({type: 'ae.digest', from: 'n2', id: 'x', buckets: ['0000000000000000']}), // valid shape, wrong bucket count
    JSON.stringify({type: 'ae.keys', from: 'n2', id: 'x', buckets: [-1], keys: []}),
    JSON.stringify({type: 'ae.pull', from: 'n2', id: 'x', keys: [42]}),
  ]
}

/** A 9 MiB `repl` message whose content is otherwise valid: 9 new keys of just under 1 MiB each. */
function oversizedReplication(): string {
  const entries = Array.from({length: 9}, (_, i) => ({
    key: `huge-${i}`,
    siblings: [forged(`h${i}`, 1, 'h'.repeat(MiB - 200), {})],
  }))
  const msg = repl(entries)
  expect(Buffer.byteLength(msg)).to.be.greaterThan(8 * MiB + MiB / 2)
  return msg
}

function garbage(replyTo: string): (string | Buffer)[] {
  return [
    Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x81]),
    'not json at all {',
    '',
    '[]',
    '[1,2,3]',
    '[{"type":"repl"}]',
    'null',
    '42',
    '"a string"',
    '{}',
    '{"from":"n2"}',
    '{"type":5}',
    JSON.stringify({type: 'x'.repeat(100)}),
    '{"type":"bogus","from":"n2"}',
    '{"type":"__proto__","from":"n2"}',
    '{"type":"repl","__proto__":{"polluted":true},"from":"n2","entries":[]}',
    JSON.stringify({type: 'client.put', id: 'g1', replyTo}), // no key, value, timeout
    JSON.stringify({type: 'client.put', id: 'g2', replyTo, key: 'alpha', timeoutMs: 1000}), // no value
    JSON.stringify({type: 'client.put', id: 'g3', replyTo, key: 'alpha', value: 5, timeoutMs: 1000}),
    JSON.stringify({type: 'client.put', id: 'g4', replyTo, key: 'alpha', value: 'v', timeoutMs: -1}),
    JSON.stringify({type: 'client.put', id: 'g5', key: 'alpha', value: 'v', timeoutMs: 1000}), // no replyTo
    JSON.stringify({type: 'client.put', id: 'g6', replyTo, key: 'alpha', value: 'v', w: 'most', timeoutMs: 1000}),
    JSON.stringify({type: 'client.read', id: 'g7', replyTo}),
    JSON.stringify({type: 'client.status'}),
    JSON.stringify({type: 'fault', id: 'g8', replyTo, partition: 'everything'}),
    JSON.stringify({type: 'fault', id: 'g9', replyTo, partition: [['n1'], 'n2']}),
    ...malformedReplications(),
  ]
}

describe('eventual mode: garbage on the broker', function () {
  const scenario = useScenario()

  it('replicas stay up and unchanged when every channel gets malformed, forged and oversized messages', async function () {
    this.timeout(90_000)
    const cluster = await scenario.startCluster('garbage')
    const client = await cluster.client()

    const written = new Map<string, PutResultEventual>()
    for (const [i, key] of KEYS.entries())
      written.set(key, (await client.put(key, `${key}-value`, {node: FIVE[i], w: 'all'})) as PutResultEventual)
    const before = new Map<string, ReadResult>()
    for (const id of FIVE) for (const key of KEYS) before.set(`${id}/${key}`, await readLocal(client, id, key))
    const keysBefore = await keysByNode(client)
    expect(keysBefore).to.deep.equal({n1: 3, n2: 3, n3: 3, n4: 3, n5: 3})

    const names = clusterNames(cluster.name)
    const replyTo = names.replyChannel('garbage-listener')
    const channels = [
      ...FIVE.map((id) => names.inbox(id)),
      names.membersTopic,
      names.replicationTopic,
      names.controlTopic,
    ]
    const pub = new Redis(cluster.redisUrl)
    const sub = new Redis(cluster.redisUrl)
    const replies: string[] = []
    try {
      sub.on('message', (_channel: string, message: string) => replies.push(message))
      await sub.subscribe(replyTo)
      let delivered = 0
      for (const channel of channels) {
        for (const payload of garbage(replyTo)) delivered += await pub.publish(channel, payload)
      }
      const huge = oversizedReplication()
      delivered += await pub.publish(names.replicationTopic, huge)
      delivered += await pub.publish(names.inbox('n3'), huge)
      // Every replica subscribes to its inbox and to the three topics: the garbage really arrived.
      expect(delivered).to.be.greaterThan(0)

      // A ping after the garbage: once every replica answers it, it has read everything before it.
      await waitFor(
        'every replica to answer after the garbage',
        async () => {
          for (const id of FIVE) await client.nodeStatus(id, {timeoutMs: 2000})
          return true
        },
        {timeoutMs: 30_000},
      )
    } finally {
      sub.disconnect()
      pub.disconnect()
    }
    // Malformed client requests get no reply and, above all, no successful one.
    expect(
      replies.filter((r) => r.includes('"ok":true')),
      'successful replies to malformed requests',
    ).to.deep.equal([])

    const st = await client.status()
    expect(st.nodes.map((n) => `${n.id}:${n.alive}`)).to.deep.equal(FIVE.map((id) => `${id}:true`))
    expect(await keysByNode(client)).to.deep.equal(keysBefore)
    for (const id of FIVE) {
      for (const key of KEYS) {
        const now = await readLocal(client, id, key)
        const then = before.get(`${id}/${key}`)!
        expect(canonicalValues(now.values), `${id} ${key}`).to.deep.equal(canonicalValues(then.values))
        expect(now.context, `${id} ${key} context`).to.equal(then.context)
      }
      for (const key of ['huge-0', 'flood-0'])
        expect((await readLocal(client, id, key)).found, `${id} ${key}`).to.equal(false)
    }
    expect(
      st.nodes.every((n) => n.peersAlive?.length === 5),
      'no member was added or lost',
    ).to.equal(true)

    // Normal service goes on.
    const put = (await client.put('alpha', 'alpha-2', {node: 'n4'})) as PutResultEventual
    expect(put.clock).to.deep.equal({...written.get('alpha')!.clock, n4: 1})
    await waitConverged(client, FIVE, 'alpha', [{value: 'alpha-2', clock: put.clock}])
    const read = await client.read('beta')
    expect(read.values.map((v) => v.value)).to.deep.equal(['beta-value'])

    // The drivers report what they dropped (a summary every 10 s).
    await waitFor(
      'every replica to log the dropped messages',
      () => FIVE.every((id) => /dropped \d+ invalid message/.test(cluster.logOf(id))),
      {
        timeoutMs: 15_000,
        intervalMs: 250,
      },
    )
  })
})
