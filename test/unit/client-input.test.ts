/**
 * Proves the client's edges without Redis: input validation refuses bad keys, values, counts, ids,
 * contexts and partitions with BAD_REQUEST *before anything is published*; the KvClient correlates
 * replies by id over an in-memory broker (ignoring garbage and strangers), turns silence into
 * TIMEOUT, refusals into their KvError, an empty inbox into an immediate UNAVAILABLE, assembles
 * `kv status` in natural order with the leader of the highest term, and stores the partition before
 * announcing it. Also checks the CLI's human formatting and its error mapping (exit statuses).
 */
import {expect} from 'chai'
import {KvClient} from '../../src/client/kv-client.js'
import type {ClientBroker} from '../../src/client/client-broker.js'
import {compareNatural, sortNatural} from '../../src/core/natural-order.js'
import {parseReply} from '../../src/client/request-channel.js'
import {assembleClusterStatus, leaderOf} from '../../src/client/cluster-status.js'
import {
  CONTEXT_BYTES_MAX,
  parsePartitionGroups,
  parseReplicaCount,
  validateContext,
  validateKey,
  validateNodeId,
  validatePartition,
  validateTimeout,
  validateValue,
} from '../../src/client/validate-input.js'
import {errorJson, jsonRequested, oneLine, parseFailure, toCliFailure} from '../../src/cli/cli-failure.js'
import {
  formatClock,
  formatPut,
  formatRead,
  formatStatus,
  readShortfall,
  shellWord,
  table,
} from '../../src/cli/format.js'
import {nodeStartArgs} from '../../src/cluster/child-replica.js'
import {KvError} from '../../src/core/errors.js'
import {LIMITS, checkId, checkKey, checkValue} from '../../src/core/limits.js'
import {clusterNames} from '../../src/redis/channel-names.js'
import type {NodeStatus, ReadResult} from '../../src/core/client-messages.js'

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof KvError) return error.code
    throw error
  }
  return undefined
}

function messageOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof KvError) return error.message
    throw error
  }
  return undefined
}

async function rejection(promise: Promise<unknown>): Promise<KvError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof KvError) return error
    throw error
  }
  throw new Error('expected a KvError, but the call succeeded')
}

type Message = Record<string, unknown> & {id: string; replyTo: string; type: string}
type Replica = (message: Message, reply: (body: unknown) => void) => void

/** An in-memory broker: keys, hashes, and "replicas" as handlers subscribed to channels. */
class FakeBroker implements ClientBroker {
  readonly published: {channel: string; message: string}[] = []
  readonly keys = new Map<string, string>()
  readonly hashes = new Map<string, Record<string, string>>()
  readonly log: string[] = []
  private readonly subscribers = new Map<string, Replica[]>()
  private messageHandler: (channel: string, message: string) => void = () => {}
  private lostHandler: (error: KvError) => void = () => {}

  listen(channel: string, replica: Replica): void {
    this.subscribers.set(channel, [...(this.subscribers.get(channel) ?? []), replica])
  }

  /** Delivers raw text on a channel the client subscribed to (garbage, strangers, late replies). */
  deliver(channel: string, raw: string): void {
    this.messageHandler(channel, raw)
  }

  lose(): void {
    this.lostHandler(new KvError('REDIS_UNAVAILABLE', 'lost the broker at redis://fake'))
  }

  publish(channel: string, message: string): Promise<number> {
    this.published.push({channel, message})
    this.log.push(`publish ${channel}`)
    const replicas = this.subscribers.get(channel) ?? []
    const parsed = JSON.parse(message) as Message
    for (const replica of replicas) {
      setImmediate(() => replica(parsed, (body) => this.deliver(parsed.replyTo, JSON.stringify(body))))
    }
    return Promise.resolve(replicas.length)
  }

  async subscribe(): Promise<void> {}
  onMessage(handler: (channel: string, message: string) => void): void {
    this.messageHandler = handler
  }

  onLost(handler: (error: KvError) => void): void {
    this.lostHandler = handler
  }

  get(key: string): Promise<string | null> {
    return Promise.resolve(this.keys.get(key) ?? null)
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return Promise.resolve(this.hashes.get(key) ?? {})
  }

  set(key: string, value: string): Promise<void> {
    this.log.push(`set ${key}`)
    this.keys.set(key, value)
    return Promise.resolve()
  }

  del(key: string): Promise<void> {
    this.log.push(`del ${key}`)
    this.keys.delete(key)
    return Promise.resolve()
  }

  async close(): Promise<void> {}
}

const names = clusterNames('unit')

/** Registers `id` in the members hash; `alive` also sets its alive key. */
function register(broker: FakeBroker, id: string, mode: 'eventual' | 'quorum', alive = true): void {
  broker.hashes.set(names.membersKey, {
    ...broker.hashes.get(names.membersKey),
    [id]: JSON.stringify({id, mode, startedAt: 1}),
  })
  if (alive) broker.keys.set(names.aliveKey(id), JSON.stringify({id, mode}))
}

const ok = (m: Message, result: unknown) => ({type: 'client.reply', id: m.id, ok: true, result})
const putResult = (node: string) => ({key: 'k', node, clock: {[node]: 1}, context: 'ctx'})

describe('client input validation', () => {
  it('refuses an empty key and a key over 1024 UTF-8 bytes, counting multi-byte characters', () => {
    expect(codeOf(() => validateKey(''))).to.equal('BAD_REQUEST')
    expect(codeOf(() => validateKey('k'.repeat(LIMITS.keyBytesMax)))).to.equal(undefined)
    expect(codeOf(() => validateKey('k'.repeat(LIMITS.keyBytesMax + 1)))).to.equal('BAD_REQUEST')
    expect(codeOf(() => validateKey('é'.repeat(512)))).to.equal(undefined) // 1024 bytes
    expect(codeOf(() => validateKey('€'.repeat(342)))).to.equal('BAD_REQUEST') // 1026 bytes, 342 chars
    // The words are core/limits.ts's (a replica refuses with the same ones) and say what to do.
    expect(messageOf(() => validateKey('')))
      .to.equal(checkKey(''))
      .and.match(/^the key is empty; keys are 1 to 1024 bytes/)
    expect(messageOf(() => validateKey('€'.repeat(342))))
      .to.equal(checkKey('€'.repeat(342)))
      .and.match(/1026 bytes, over the limit .*; use a shorter key$/)
  })

  it('accepts a value of exactly 1 MiB (and the empty value) and refuses one byte more', () => {
    expect(codeOf(() => validateValue(''))).to.equal(undefined)
    expect(codeOf(() => validateValue('v'.repeat(LIMITS.valueBytesMax)))).to.equal(undefined)
    expect(codeOf(() => validateValue('v'.repeat(LIMITS.valueBytesMax - 1) + 'é'))).to.equal('BAD_REQUEST')
    const big = 'v'.repeat(LIMITS.valueBytesMax + 1)
    expect(messageOf(() => validateValue(big)))
      .to.equal(checkValue(big))
      .and.match(/over the limit of 1048576 bytes \(1 MiB\); store a smaller value$/)
  })

  it('parses --w/--r as a positive count, quorum or all, and refuses anything else', () => {
    expect(parseReplicaCount('1', 'w')).to.equal(1)
    expect(parseReplicaCount('3', 'r')).to.equal(3)
    expect(parseReplicaCount('quorum', 'w')).to.equal('quorum')
    expect(parseReplicaCount('all', 'r')).to.equal('all')
    expect(parseReplicaCount(undefined, 'w')).to.equal(undefined)
    for (const bad of ['0', '-1', '1.5', 'abc', '', 'QUORUM', String(LIMITS.membersMax + 1), '1e3']) {
      expect(
        codeOf(() => parseReplicaCount(bad, 'w')),
        bad,
      ).to.equal('BAD_REQUEST')
    }
  })

  it('refuses replica ids outside the id pattern and contexts over 64 KiB', () => {
    expect(codeOf(() => validateNodeId('n1'))).to.equal(undefined)
    for (const bad of ['', 'n:1', 'n 1', 'x'.repeat(65)])
      expect(
        codeOf(() => validateNodeId(bad)),
        bad,
      ).to.equal('BAD_REQUEST')
    expect(messageOf(() => validateNodeId('n:1', '--node')))
      .to.equal(checkId('n:1', '--node'))
      .and.match(/^--node "n:1" is not valid; ids are/)
    expect(codeOf(() => validateContext(undefined))).to.equal(undefined)
    expect(codeOf(() => validateContext('c'.repeat(CONTEXT_BYTES_MAX)))).to.equal(undefined)
    expect(codeOf(() => validateContext('c'.repeat(CONTEXT_BYTES_MAX + 1)))).to.equal('BAD_REQUEST')
  })

  it('checks timeouts: positive integers, capped at the request limit', () => {
    expect(validateTimeout(250)).to.equal(250)
    expect(validateTimeout(10 * LIMITS.requestTimeoutMsMax)).to.equal(LIMITS.requestTimeoutMsMax)
    for (const bad of [0, -5, 1.5, Number.NaN])
      expect(
        codeOf(() => validateTimeout(bad)),
        String(bad),
      ).to.equal('BAD_REQUEST')
  })

  it('parses partition groups and refuses fewer than two groups, empty groups, duplicates and bad ids', () => {
    expect(parsePartitionGroups(['n2', 'n1, n3,n4'])).to.deep.equal([['n2'], ['n1', 'n3', 'n4']])
    expect(codeOf(() => validatePartition([['n2'], ['n1', 'n3']]))).to.equal(undefined)
    expect(codeOf(() => validatePartition([['n1', 'n2']]))).to.equal('BAD_REQUEST')
    expect(codeOf(() => validatePartition(parsePartitionGroups(['n1', ','])))).to.equal('BAD_REQUEST')
    expect(codeOf(() => validatePartition([['n1'], ['n1', 'n2']]))).to.equal('BAD_REQUEST')
    expect(codeOf(() => validatePartition([['n1'], ['n:2']]))).to.equal('BAD_REQUEST')
  })
})

describe('KvClient over an in-memory broker', () => {
  let broker: FakeBroker
  let client: KvClient

  beforeEach(async () => {
    broker = new FakeBroker()
    client = await KvClient.over(broker, {cluster: 'unit', timeoutMs: 200})
  })

  it('publishes nothing when the input is invalid', async () => {
    register(broker, 'n1', 'eventual')
    broker.listen(names.inbox('n1'), (m, reply) => reply(ok(m, putResult('n1'))))
    const refused = [
      client.put('', 'v'),
      client.put('k'.repeat(LIMITS.keyBytesMax + 1), 'v'),
      client.put('k', 'v'.repeat(LIMITS.valueBytesMax + 1)),
      client.put('k', 'v', {w: 0}),
      client.put('k', 'v', {w: 'most' as never}),
      client.put('k', 'v', {node: 'no such:node'}),
      client.put('k', 'v', {context: 'c'.repeat(CONTEXT_BYTES_MAX + 1)}),
      client.delete(''),
      client.read('', {}),
      client.read('k', {r: 2.5}),
      client.partition([['n1']]),
    ]
    for (const call of refused) expect((await rejection(call)).code).to.equal('BAD_REQUEST')
    expect(broker.published).to.deep.equal([])
  })

  it('sends put with its timeout and value, and delete with a null value, to the named node', async () => {
    register(broker, 'n1', 'eventual')
    const seen: Message[] = []
    broker.listen(names.inbox('n1'), (m, reply) => {
      seen.push(m)
      reply(ok(m, putResult('n1')))
    })
    expect(await client.put('k', 'v', {node: 'n1', w: 'quorum', context: 'tok', timeoutMs: 150})).to.deep.equal(
      putResult('n1'),
    )
    await client.delete('k', {node: 'n1'})
    expect(seen[0]).to.include({type: 'client.put', key: 'k', value: 'v', w: 'quorum', context: 'tok', timeoutMs: 150})
    expect(seen[1]).to.include({type: 'client.put', key: 'k', value: null, timeoutMs: 200})
    expect(seen[0]?.id).to.not.equal(seen[1]?.id)
  })

  it('matches replies by id, ignoring garbage, unknown ids and malformed replies on the reply channel', async () => {
    register(broker, 'n1', 'eventual')
    broker.listen(names.inbox('n1'), (m, reply) => {
      broker.deliver(m.replyTo, 'not json {')
      broker.deliver(m.replyTo, 'null')
      broker.deliver(
        m.replyTo,
        JSON.stringify({type: 'client.reply', id: 'someone-else', ok: true, result: putResult('nX')}),
      )
      broker.deliver(m.replyTo, JSON.stringify({type: 'client.reply', id: m.id, ok: true})) // no result: not a reply
      reply(ok(m, putResult('n1')))
      reply(ok(m, putResult('late duplicate')))
    })
    expect((await client.put('k', 'v', {node: 'n1'})).node).to.equal('n1')
  })

  it("turns a refusal into a KvError with the replica's code and message", async () => {
    register(broker, 'n1', 'quorum')
    broker.listen(names.inbox('n1'), (m, reply) =>
      reply({
        type: 'client.reply',
        id: m.id,
        ok: false,
        error: {code: 'NO_QUORUM', message: 'only 2 of 5 replicas reachable'},
      }),
    )
    const error = await rejection(client.put('k', 'v', {node: 'n1'}))
    expect(error.code).to.equal('NO_QUORUM')
    expect(error.message).to.equal('only 2 of 5 replicas reachable')
  })

  it('times out a silent replica with TIMEOUT saying the write may or may not have been applied', async () => {
    register(broker, 'n1', 'eventual')
    broker.listen(names.inbox('n1'), () => {})
    const started = Date.now()
    const error = await rejection(client.put('k', 'v', {node: 'n1', timeoutMs: 60}))
    expect(error.code).to.equal('TIMEOUT')
    expect(error.message).to.match(/may or may not have been applied/)
    expect(Date.now() - started).to.be.within(50, 1000)
    const readError = await rejection(client.read('k', {node: 'n1', timeoutMs: 30}))
    expect(readError.code).to.equal('TIMEOUT')
    expect(readError.message).to.match(/outcome is unknown/)
  })

  it('fails at once with UNAVAILABLE for a named node without an alive key, or with nobody on its inbox', async () => {
    register(broker, 'n1', 'eventual', false)
    const notAlive = await rejection(client.put('k', 'v', {node: 'n1'}))
    expect(notAlive.code).to.equal('UNAVAILABLE')
    expect(notAlive.message).to.match(/replica n1 is not alive/)
    expect(broker.published).to.deep.equal([])
    register(broker, 'n2', 'eventual') // alive key present, but nothing subscribed to its inbox
    const started = Date.now()
    expect((await rejection(client.put('k', 'v', {node: 'n2', timeoutMs: 5000}))).code).to.equal('UNAVAILABLE')
    expect(Date.now() - started).to.be.below(1000)
  })

  it('without --node, uses only alive registered replicas and skips one whose inbox is empty', async () => {
    register(broker, 'n1', 'eventual', false)
    register(broker, 'n2', 'eventual') // alive key, but not listening
    register(broker, 'n3', 'eventual')
    broker.listen(names.inbox('n1'), (m, reply) => reply(ok(m, putResult('n1'))))
    broker.listen(names.inbox('n3'), (m, reply) => reply(ok(m, putResult('n3'))))
    for (let i = 0; i < 10; i++) expect((await client.put('k', 'v')).node).to.equal('n3')
    expect(broker.published.some((p) => p.channel === names.inbox('n1'))).to.equal(false)
  })

  it('reports UNAVAILABLE when no replica is alive', async () => {
    register(broker, 'n1', 'eventual', false)
    const error = await rejection(client.read('k'))
    expect(error.code).to.equal('UNAVAILABLE')
    expect(error.message).to.match(/no replica of cluster "unit" is alive/)
  })

  it('fails pending requests with REDIS_UNAVAILABLE when the broker is lost', async () => {
    register(broker, 'n1', 'eventual')
    broker.listen(names.inbox('n1'), () => setImmediate(() => broker.lose()))
    expect((await rejection(client.put('k', 'v', {node: 'n1', timeoutMs: 5000}))).code).to.equal('REDIS_UNAVAILABLE')
  })

  it('assembles status in natural order, silent nodes dead, leader from the highest term', async () => {
    for (const id of ['n10', 'n2', 'n1', 'n3']) register(broker, id, 'quorum')
    const answer =
      (s: Partial<NodeStatus> & {id: string}): Replica =>
      (m, reply) =>
        reply(ok(m, {alive: true, role: 'follower', keys: 4, mode: 'quorum', ...s}))
    broker.listen(names.inbox('n1'), answer({id: 'n1', role: 'leader', term: 1, leader: 'n1'})) // stale leader
    broker.listen(names.inbox('n2'), answer({id: 'n2', term: 2, leader: 'n3'}))
    broker.listen(names.inbox('n3'), answer({id: 'n3', role: 'leader', term: 2, leader: 'n3'}))
    const status = await client.status({timeoutMs: 100})
    expect(status.nodes.map((n) => n.id)).to.deep.equal(['n1', 'n2', 'n3', 'n10'])
    expect(status).to.include({cluster: 'unit', mode: 'quorum', leader: 'n3'})
    expect(status.nodes[3]).to.deep.equal({id: 'n10', alive: false, role: 'follower', keys: 0, mode: 'quorum'})
    expect(status.nodes[0]).to.include({alive: true, keys: 4})
  })

  it('reports an eventual cluster with leader null and dead nodes as replicas', () => {
    const registry = [
      {id: 'n1', mode: 'eventual' as const},
      {id: 'n2', mode: 'eventual' as const},
    ]
    const answers = new Map<string, NodeStatus | undefined>([
      ['n1', {id: 'n1', alive: true, role: 'replica', keys: 2, mode: 'eventual'}],
    ])
    const status = assembleClusterStatus('c', registry, answers)
    expect(status.leader).to.equal(null)
    expect(status.nodes[1]).to.include({id: 'n2', alive: false, role: 'replica', keys: 0})
    expect(assembleClusterStatus('c', [], new Map())).to.deep.equal({cluster: 'c', mode: null, leader: null, nodes: []})
    expect(
      leaderOf([{id: 'n1', alive: true, role: 'follower', keys: 0, mode: 'quorum', term: 4, leader: null}]),
    ).to.equal(null)
  })

  it("stores the partition before announcing it, and surfaces a replica's refusal", async () => {
    register(broker, 'n1', 'eventual')
    register(broker, 'n2', 'eventual')
    broker.listen(names.controlTopic, (m, reply) => reply(ok(m, {id: 'n1', applied: true})))
    broker.listen(names.controlTopic, (m, reply) =>
      reply({
        type: 'client.reply',
        id: m.id,
        ok: false,
        error: {code: 'BAD_REQUEST', message: 'replica n2 was not started with --allow-faults'},
      }),
    )
    const error = await rejection(client.partition([['n1'], ['n2']]))
    expect(error.code).to.equal('BAD_REQUEST')
    expect(error.message).to.match(/^replica n2 was not started with --allow-faults/)
    expect(JSON.parse(broker.keys.get(names.faultKey) ?? 'null')).to.deep.equal({partition: [['n1'], ['n2']]})
    expect(broker.log.slice(0, 2)).to.deep.equal([`set ${names.faultKey}`, `publish ${names.controlTopic}`])
  })

  it('heals by deleting the stored partition, then waits for every alive replica', async () => {
    register(broker, 'n1', 'eventual')
    register(broker, 'n2', 'eventual')
    broker.keys.set(names.faultKey, '{"partition":[["n1"],["n2"]]}')
    const seen: unknown[] = []
    for (const id of ['n1', 'n2']) {
      broker.listen(names.controlTopic, (m, reply) => {
        seen.push(m.partition)
        reply(ok(m, {id, applied: true}))
      })
    }
    await client.heal()
    expect(broker.keys.has(names.faultKey)).to.equal(false)
    expect(seen).to.deep.equal([null, null])
    expect(broker.log[0]).to.equal(`del ${names.faultKey}`)
  })

  it('refuses to partition ids the registry does not know, and a cluster with no live replica', async () => {
    register(broker, 'n1', 'eventual', false)
    register(broker, 'n2', 'eventual', false)
    expect((await rejection(client.partition([['n1'], ['n9']]))).code).to.equal('BAD_REQUEST')
    expect((await rejection(client.partition([['n1'], ['n2']]))).code).to.equal('UNAVAILABLE')
    expect(broker.published).to.deep.equal([])
  })
})

describe('reply parsing', () => {
  it('accepts well-formed replies only and maps an unknown error code to UNAVAILABLE', () => {
    expect(parseReply('{')).to.equal(undefined)
    expect(parseReply('[]')).to.equal(undefined)
    expect(parseReply(JSON.stringify({type: 'client.put', id: 'a', ok: true, result: {}}))).to.equal(undefined)
    expect(
      parseReply(JSON.stringify({type: 'client.reply', id: 'a', ok: false, error: {code: 'WEIRD', message: 'm'}})),
    ).to.deep.equal({
      type: 'client.reply',
      id: 'a',
      ok: false,
      error: {code: 'UNAVAILABLE', message: 'm'},
    })
  })
})

describe('CLI formatting and error mapping', () => {
  it('orders ids naturally: n2 before n10', () => {
    expect(sortNatural(['n10', 'n2', 'n1', 'a', 'n01'])).to.deep.equal(['a', 'n1', 'n01', 'n2', 'n10'])
    expect(compareNatural('n2', 'n10')).to.be.below(0)
  })

  it('shows clocks as {n1:2, n3:1} in natural order', () => {
    expect(formatClock({n3: 1, n10: 4, n1: 2})).to.equal('{n1:2, n3:1, n10:4}')
    expect(formatClock({})).to.equal('{}')
  })

  it('aligns table columns', () => {
    expect(
      table([
        ['ID', 'ALIVE'],
        ['n10', 'yes'],
      ]),
    ).to.equal('ID   ALIVE\nn10  yes')
  })

  it('formats a put in both modes', () => {
    expect(formatPut({key: 'k', node: 'n1', clock: {n1: 2}, context: 'tok'}, 'stored')).to.equal(
      'stored k via n1\n  clock    {n1:2}\n  context  tok',
    )
    expect(formatPut({key: 'k', node: 'n2', leader: 'n1', version: {term: 3, index: 17}}, 'deleted')).to.equal(
      'deleted k via n2\n  leader   n1\n  version  term 3, index 17',
    )
  })

  it('formats a read: missing, one value, and conflicting siblings with a resolve hint', () => {
    const base: ReadResult = {key: 'k', node: 'n1', found: false, conflict: false, values: [], context: 'c0'}
    expect(formatRead(base)).to.equal('k: not found (asked n1)')
    expect(formatRead({...base, found: true, values: [{value: 'hello', clock: {n1: 1}}]}).split('\n')[0]).to.equal(
      'k: hello',
    )
    const conflict = formatRead({
      ...base,
      key: 'my key',
      found: true,
      conflict: true,
      values: [
        {value: 'a', clock: {n1: 1}},
        {value: 'bb', clock: {n2: 1}},
      ],
    })
    expect(conflict).to.equal(
      [
        'my key: 2 conflicting values (asked n1)',
        '  1.  a   {n1:1}',
        '  2.  bb  {n2:1}',
        '  context  c0',
        "resolve with: kv put 'my key' VALUE --context c0",
      ].join('\n'),
    )
  })

  it('warns about a read answered by fewer replicas than wanted, and only then', () => {
    const base: ReadResult = {key: 'k', node: 'n1', found: false, conflict: false, values: [], context: 'c'}
    expect(readShortfall({...base, replicas: {wanted: 3, answered: 1}})).to.match(/only 1 of 3 replicas answered/)
    expect(readShortfall({...base, replicas: {wanted: 3, answered: 3}})).to.equal(undefined)
    expect(readShortfall(base)).to.equal(undefined)
  })

  it('formats status as an aligned table with the quorum columns', () => {
    const text = formatStatus({
      cluster: 'c',
      mode: 'quorum',
      leader: 'n1',
      nodes: [
        {id: 'n1', alive: true, role: 'leader', keys: 12, mode: 'quorum', term: 3, commitIndex: 40},
        {id: 'n10', alive: false, role: 'follower', keys: 0, mode: 'quorum'},
      ],
    })
    expect(text.split('\n')).to.deep.equal([
      'cluster c  mode quorum  leader n1  alive 1/2',
      'ID   ALIVE  ROLE    KEYS  TERM  COMMIT  NOTE',
      'n1   yes    leader  12    3     40',
      'n10  no     -       -     -     -',
    ])
  })

  it('quotes shell words only when needed', () => {
    expect(shellWord('greeting')).to.equal('greeting')
    expect(shellWord("it's")).to.equal(`'it'\\''s'`)
  })

  it('maps failures to the contract: codes, exit statuses, one-line messages', () => {
    expect(toCliFailure(new KvError('BAD_REQUEST', 'bad'))).to.deep.equal({
      code: 'BAD_REQUEST',
      message: 'bad',
      exitStatus: 2,
    })
    expect(toCliFailure(new KvError('TIMEOUT', 'slow')).exitStatus).to.equal(1)
    expect(toCliFailure(new KvError('REDIS_UNAVAILABLE', 'down')).exitStatus).to.equal(1)
    const bug = toCliFailure(new TypeError('x is undefined'))
    expect(bug).to.include({code: 'INTERNAL', exitStatus: 1})
    expect(bug.message).to.match(/unexpected failure: x is undefined/)
    const parse = parseFailure(new Error('\u001B[31mNonexistent flag: --bogus\u001B[39m\nSee more help with --help'))
    expect(parse.code).to.equal('BAD_REQUEST')
    expect(parse.message).to.equal('Nonexistent flag: --bogus; see --help')
    expect(oneLine('Missing 1 required arg:\nkey  the key')).to.equal('Missing 1 required arg: key  the key')
    expect(errorJson(toCliFailure(new KvError('UNAVAILABLE', 'gone')))).to.deep.equal({
      error: {code: 'UNAVAILABLE', message: 'gone'},
    })
  })

  it('sees --json only before a -- separator', () => {
    expect(jsonRequested(['k', 'v', '--json'])).to.equal(true)
    expect(jsonRequested(['k', '--', '--json'])).to.equal(false)
    expect(jsonRequested(['k', 'v'])).to.equal(false)
  })

  it('starts each supervised replica with the contract flags', () => {
    const args = nodeStartArgs({
      id: 'n2',
      peers: ['n1', 'n2'],
      mode: 'quorum',
      dataDir: '/d/n2',
      allowFaults: true,
      redisUrl: 'redis://h:1',
      cluster: 'c',
    })
    expect(args).to.deep.equal([
      'node',
      'start',
      '--id',
      'n2',
      '--peers',
      'n1,n2',
      '--mode',
      'quorum',
      '--data-dir',
      '/d/n2',
      '--redis',
      'redis://h:1',
      '--cluster',
      'c',
      '--allow-faults',
    ])
  })
})
