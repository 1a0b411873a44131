/**
 * Eventual mode, the basics a user meets first, on 5 real replica processes over a private
 * redis-server: a put on one replica reaches every replica with the same clock (checked with r:1
 * reads, which answer from a replica's own state, so no read repair is involved); the CLI's --json
 * documents have the contract's shapes; delete and missing keys read as found:false; bad input
 * (empty key, 1025-byte key, 1 MiB + 1 byte value, through the client, the CLI and even straight
 * into a replica's inbox) is refused with BAD_REQUEST / exit 2 and stores nothing; a value of
 * exactly 1 MiB round-trips byte for byte; --w all waits for all 5 replicas, and a --w the live
 * replicas cannot meet is refused with UNAVAILABLE without writing anything.
 */
import {expect} from 'chai'
import {Redis} from 'ioredis'
import {clusterNames} from '../../src/redis/channel-names.js'
import type {PutResultEventual} from '../../src/client/index.js'
import {waitFor} from '../support/wait.js'
import {
  FIVE,
  cliTarget,
  expectKvError,
  expectValues,
  keysByNode,
  parseJson,
  readLocal,
  runCli,
  useScenario,
  waitConverged,
  waitPeerDown,
} from './scenario-support.js'

const MiB = 1024 * 1024

describe('eventual mode: basics', function () {
  const scenario = useScenario()

  it('a put on one replica reaches every replica with the same clock, and --w all waits for all 5', async function () {
    this.timeout(60_000)
    const cluster = await scenario.startCluster('basics-put')
    const client = await cluster.client()

    const put = (await client.put('greeting', 'hello', {node: 'n2'})) as PutResultEventual
    expect(put.key).to.equal('greeting')
    expect(put.node).to.equal('n2')
    expect(put.clock).to.deep.equal({n2: 1})
    expect(put.context).to.be.a('string').and.not.equal('')
    await waitConverged(client, FIVE, 'greeting', [{value: 'hello', clock: put.clock}])

    // A second put on another replica supersedes the first (its coordinator has seen it).
    const second = (await client.put('greeting', 'hi', {node: 'n4', w: 'all'})) as PutResultEventual
    expect(second.replicas).to.equal(5)
    expect(second.clock).to.deep.equal({n2: 1, n4: 1})
    // w:all means every replica holds it when the reply comes: no polling needed.
    for (const id of FIVE) expectValues(await readLocal(client, id, 'greeting'), [{value: 'hi', clock: second.clock}])

    // A default (majority) read sees the same.
    const read = await client.read('greeting')
    expectValues(read, [{value: 'hi', clock: second.clock}])
    expect(read.replicas?.wanted).to.equal(3)
  })

  it('the CLI prints the contract JSON for put, read, a missing key and errors', async function () {
    this.timeout(60_000)
    const cluster = await scenario.startCluster('basics-cli')
    const target = cliTarget(cluster)

    const put = await runCli(['put', 'colour', 'blue', '--node', 'n1', '--w', 'all', '--json', ...target])
    expect(put.code, put.stderr).to.equal(0)
    const putJson = parseJson(put)
    expect(putJson).to.include.all.keys('key', 'node', 'clock', 'context')
    expect(putJson.key).to.equal('colour')
    expect(putJson.node).to.equal('n1')
    expect(putJson.clock).to.deep.equal({n1: 1})
    expect(putJson.context).to.be.a('string').and.not.equal('')

    const read = await runCli(['read', 'colour', '--node', 'n3', '--r', '1', '--json', ...target])
    expect(read.code, read.stderr).to.equal(0)
    const readJson = parseJson(read)
    expect(readJson).to.include.all.keys('key', 'node', 'found', 'conflict', 'values', 'context')
    expect(readJson).to.deep.include({
      key: 'colour',
      node: 'n3',
      found: true,
      conflict: false,
      values: [{value: 'blue', clock: {n1: 1}}],
    })
    expect(readJson.context).to.be.a('string').and.not.equal('')

    const missing = await runCli(['read', 'no-such-key', '--json', ...target])
    expect(missing.code, missing.stderr).to.equal(0)
    expect(parseJson(missing)).to.deep.include({key: 'no-such-key', found: false, values: []})

    const badW = await runCli(['put', 'colour', 'red', '--w', 'zero', '--json', ...target])
    expect(badW.code).to.equal(2)
    const badWJson = parseJson(badW)
    expect(badWJson).to.have.all.keys('error')
    expect((badWJson.error as Record<string, unknown>).code).to.equal('BAD_REQUEST')
    expect((badWJson.error as Record<string, unknown>).message)
      .to.be.a('string')
      .and.not.equal('')

    const ghost = await runCli(['read', 'colour', '--node', 'n9', '--json', ...target])
    expect(ghost.code).to.equal(1)
    expect((parseJson(ghost).error as Record<string, unknown>).code).to.equal('UNAVAILABLE')

    // The refused put changed nothing.
    const client = await cluster.client()
    for (const id of FIVE) expectValues(await readLocal(client, id, 'colour'), [{value: 'blue', clock: {n1: 1}}])
  })

  it('delete makes a key found:false on every replica; a missing key is found:false', async function () {
    this.timeout(60_000)
    const cluster = await scenario.startCluster('basics-delete')
    const client = await cluster.client()

    const put = (await client.put('doomed', 'x', {node: 'n1', w: 'all'})) as PutResultEventual
    for (const id of FIVE) expectValues(await readLocal(client, id, 'doomed'), [{value: 'x', clock: put.clock}])
    const del = (await client.delete('doomed', {node: 'n3'})) as PutResultEventual
    expect(del.clock).to.deep.equal({n1: 1, n3: 1})

    await waitConverged(client, FIVE, 'doomed', [])
    for (const id of FIVE) {
      const r = await readLocal(client, id, 'doomed')
      expect(r.values).to.deep.equal([])
      expect(r.found).to.equal(false)
    }
    const majority = await client.read('doomed', {node: 'n5'})
    expect(majority).to.deep.include({found: false, conflict: false, values: []})

    for (const id of FIVE) {
      const r = await readLocal(client, id, 'never-written')
      expect(r).to.deep.include({key: 'never-written', node: id, found: false, conflict: false, values: []})
    }
    expect(await client.read('never-written', {r: 'all'})).to.deep.include({found: false, values: []})
    // A deleted key is not counted as a key.
    expect(Object.values(await keysByNode(client))).to.deep.equal([0, 0, 0, 0, 0])
  })

  it('bad input is refused with BAD_REQUEST (client, CLI, and by the replica itself) and nothing is stored', async function () {
    this.timeout(60_000)
    const cluster = await scenario.startCluster('basics-bad')
    const client = await cluster.client()
    const target = cliTarget(cluster)

    await client.put('existing', 'v', {node: 'n1', w: 'all'})
    const keysBefore = await keysByNode(client)
    expect(keysBefore).to.deep.equal({n1: 1, n2: 1, n3: 1, n4: 1, n5: 1})

    const longKey = 'k'.repeat(1025)
    const longMultibyteKey = 'é'.repeat(512) + 'a' // 513 characters, 1025 UTF-8 bytes
    const bigValue = 'v'.repeat(MiB + 1)
    const bigMultibyteValue = 'é'.repeat(MiB / 2) + 'a' // 1 MiB + 1 byte of UTF-8

    await expectKvError(client.put('', 'v'), 'BAD_REQUEST', 'put with an empty key')
    await expectKvError(client.read(''), 'BAD_REQUEST', 'read with an empty key')
    await expectKvError(client.delete(''), 'BAD_REQUEST', 'delete with an empty key')
    await expectKvError(client.put(longKey, 'v'), 'BAD_REQUEST', 'put with a 1025-byte key')
    await expectKvError(client.put(longMultibyteKey, 'v'), 'BAD_REQUEST', 'put with a 1025-byte multibyte key')
    await expectKvError(client.put('big', bigValue, {node: 'n2'}), 'BAD_REQUEST', 'put of 1 MiB + 1 byte')
    await expectKvError(
      client.put('big', bigMultibyteValue, {node: 'n2'}),
      'BAD_REQUEST',
      'put of 1 MiB + 1 byte of multibyte text',
    )
    // 1024 bytes is still a valid key (read of it: found:false, not an error).
    expect((await client.read('k'.repeat(1024), {node: 'n1', r: 1})).found).to.equal(false)

    // CLI: the oversized value through stdin (`-`), and the oversized key.
    const viaStdin = await runCli(['put', 'big-stdin', '-', '--node', 'n1', '--json', ...target], {stdin: bigValue})
    expect(viaStdin.code, viaStdin.stderr).to.equal(2)
    expect((parseJson(viaStdin).error as Record<string, unknown>).code).to.equal('BAD_REQUEST')
    const longKeyCli = await runCli(['put', longKey, 'v', '--json', ...target])
    expect(longKeyCli.code, longKeyCli.stderr).to.equal(2)
    expect((parseJson(longKeyCli).error as Record<string, unknown>).code).to.equal('BAD_REQUEST')
    const humanErr = await runCli(['put', 'big-stdin', '-', ...target], {stdin: bigValue})
    expect(humanErr.code).to.equal(2)
    expect(humanErr.stdout).to.equal('')
    expect(humanErr.stderr.trim().split('\n')).to.have.length(1)

    // Straight into a replica's inbox, bypassing the client's checks: the replica refuses by itself.
    const names = clusterNames(cluster.name)
    const sub = new Redis(cluster.redisUrl)
    const pub = new Redis(cluster.redisUrl)
    try {
      const replyTo = names.replyChannel('raw-basics')
      const replies = new Map<string, {ok: boolean; error?: {code: string}}>()
      sub.on('message', (_channel: string, message: string) => {
        const m = JSON.parse(message) as {id: string; ok: boolean; error?: {code: string}}
        replies.set(m.id, m)
      })
      await sub.subscribe(replyTo)
      const raw = [
        {id: 'raw-empty-key', key: '', value: 'v'},
        {id: 'raw-long-key', key: 'x'.repeat(2000), value: 'v'},
        {id: 'raw-big-value', key: 'raw-big', value: bigValue},
      ]
      for (const r of raw) {
        await pub.publish(
          names.inbox('n3'),
          JSON.stringify({type: 'client.put', id: r.id, replyTo, key: r.key, value: r.value, timeoutMs: 5000}),
        )
      }
      await waitFor('the replica to answer every raw put', () => replies.size === raw.length)
      for (const r of raw) {
        const reply = replies.get(r.id)
        expect(reply?.ok, r.id).to.equal(false)
        expect(reply?.error?.code, r.id).to.equal('BAD_REQUEST')
      }
    } finally {
      sub.disconnect()
      pub.disconnect()
    }

    for (const key of ['big', 'big-stdin', 'raw-big']) {
      for (const id of FIVE) expect((await readLocal(client, id, key)).found, `${key} on ${id}`).to.equal(false)
    }
    expect(await keysByNode(client)).to.deep.equal(keysBefore)
  })

  it('a value of exactly 1 MiB round-trips byte for byte (CLI stdin in, every replica out)', async function () {
    this.timeout(60_000)
    const cluster = await scenario.startCluster('basics-1mib')
    const client = await cluster.client()
    const target = cliTarget(cluster)

    // Multibyte text, spaces and a trailing newline: exactly 1 MiB of UTF-8, nothing stripped.
    const head = 'ünïcødé and spaces  '
    const tail = 'end\n'
    const filler = 'x'.repeat(MiB - Buffer.byteLength(head) - Buffer.byteLength(tail))
    const value = head + filler + tail
    expect(Buffer.byteLength(value)).to.equal(MiB)

    const put = await runCli(['put', 'one-mib', '-', '--node', 'n2', '--json', ...target], {stdin: value})
    expect(put.code, put.stderr).to.equal(0)
    const clock = parseJson(put).clock as Record<string, number>
    expect(clock).to.deep.equal({n2: 1})

    await waitFor(
      'every replica to hold the 1 MiB value',
      async () => {
        for (const id of FIVE) {
          const r = await readLocal(client, id, 'one-mib')
          expect(r.found, id).to.equal(true)
          expect(r.values).to.have.length(1)
          expect(
            r.values.map((v) => v.value === value),
            `${id} holds the exact value`,
          ).to.deep.equal([true])
          expect(r.values.map((v) => v.clock)).to.deep.equal([clock])
        }
        return true
      },
      {timeoutMs: 20_000},
    )

    const viaCli = await runCli(['read', 'one-mib', '--node', 'n5', '--json', ...target])
    expect(viaCli.code, viaCli.stderr).to.equal(0)
    const read = parseJson(viaCli) as {values: {value: string}[]}
    expect(read.values).to.have.length(1)
    expect(
      read.values.map((v) => v.value === value),
      'the CLI prints the exact value',
    ).to.deep.equal([true])

    // And through the client with --w all.
    const viaClient = (await client.put('one-mib-client', value, {node: 'n4', w: 'all'})) as PutResultEventual
    expect(viaClient.replicas).to.equal(5)
    expect((await readLocal(client, 'n1', 'one-mib-client')).values.map((v) => v.value === value)).to.deep.equal([true])
  })

  it('a --w the live replicas cannot meet is refused with UNAVAILABLE and nothing is written', async function () {
    this.timeout(60_000)
    const cluster = await scenario.startCluster('basics-w')
    const client = await cluster.client()

    const all = (await client.put('before', 'b', {node: 'n1', w: 'all'})) as PutResultEventual
    expect(all.replicas).to.equal(5)

    expect(await cluster.stop('n5')).to.equal(0)
    await waitPeerDown(client, 'n1', 'n5')
    const keysBefore = await keysByNode(client)

    await expectKvError(client.put('refused', 'x', {node: 'n1', w: 'all'}), 'UNAVAILABLE', 'put --w all with n5 down')
    await expectKvError(client.put('refused', 'x', {node: 'n1', w: 5}), 'UNAVAILABLE', 'put --w 5 with n5 down')
    await expectKvError(
      client.put('before', 'changed', {node: 'n1', w: 'all'}),
      'UNAVAILABLE',
      'overwrite --w all with n5 down',
    )

    for (const id of FIVE.slice(0, 4)) {
      expect((await readLocal(client, id, 'refused')).found, `refused on ${id}`).to.equal(false)
      expectValues(await readLocal(client, id, 'before'), [{value: 'b', clock: all.clock}])
    }
    expect(await keysByNode(client)).to.deep.equal(keysBefore)

    // What the live replicas can meet still works.
    const four = (await client.put('accepted', 'y', {node: 'n1', w: 4})) as PutResultEventual
    expect(four.replicas).to.be.at.least(4)
    for (const id of FIVE.slice(0, 4))
      expectValues(await readLocal(client, id, 'accepted'), [{value: 'y', clock: four.clock}])
  })
})
