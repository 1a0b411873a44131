/**
 * The eventual replica state machine, driven by the seeded simulated network (src/sim): the same
 * module the real replicas run. Proves convergence (replication, hints, anti-entropy), sibling
 * handling under partitions, context-based resolution, --w/--r semantics, recovery of a crashed
 * replica from what it persisted, joins, and refusal of bad input with nothing persisted.
 * Fault runs draw drops, duplicates and delays from a seed; a failing seed is printed in the message.
 */
import {assert, expect} from 'chai'
import {validateKey, validateValue} from '../../src/client/validate-input.js'
import {KvError} from '../../src/core/errors.js'
import {Rng} from '../../src/core/rng.js'
import {DEFAULT_EVENTUAL_TIMING, EventualReplica} from '../../src/eventual/replica.js'
import {canonicalSiblings, contextOf, supersedes} from '../../src/eventual/siblings.js'
import {covers} from '../../src/eventual/vector-clock.js'
import type {Version} from '../../src/eventual/types.js'
import {CALM, SimCluster} from '../../src/sim/sim-cluster.js'
import {eventualFactory} from '../../src/sim/sim-modes.js'
import type {PutResultEventual, ReadResult} from '../../src/core/client-messages.js'

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5']
type Msg = Parameters<EventualReplica['step']>[0]
type Reply = {ok: boolean; result?: unknown; error?: {code: string; message: string}}

/** The message the client library refuses a put of (key, value) with before sending it. */
function clientRefusal(key: string, value: string): string | undefined {
  try {
    validateKey(key)
    validateValue(value)
  } catch (error) {
    if (error instanceof KvError) return error.message
    throw error
  }
  return undefined
}

/** Five eventual replicas on the simulator (src/sim), with client helpers. */
class World {
  readonly net: SimCluster<EventualReplica>
  private readonly replies = new Map<string, Reply>()
  private req = 0

  constructor(
    readonly seed: number,
    ids = IDS,
  ) {
    this.net = new SimCluster(ids, eventualFactory(ids), new Rng(seed))
    this.net.onReply = (channel, msg) => {
      if (!this.replies.has(channel)) this.replies.set(channel, msg as unknown as Reply)
    }
    this.net.run(30) // heartbeats: everyone sees everyone
  }

  /** Up replicas by id. */
  get nodes(): Map<string, EventualReplica> {
    return new Map(this.net.upCores().map((c) => [c.id, c]))
  }

  /** The records a replica has durably persisted. */
  disk(id: string): readonly unknown[] {
    return this.net.durable(id).records
  }

  restart(id: string): void {
    this.net.restart(id)
  }

  put(
    node: string,
    key: string,
    value: string | null,
    extra: {context?: string; w?: number | 'quorum' | 'all'} = {},
  ): string {
    const id = `r${this.req++}`
    this.net.request(node, {
      type: 'client.put',
      id,
      replyTo: `c.${id}`,
      key,
      value,
      timeoutMs: 3000,
      ...extra,
    } satisfies Msg)
    return id
  }

  read(node: string, key: string, r?: number | 'quorum' | 'all'): string {
    const id = `r${this.req++}`
    this.net.request(node, {
      type: 'client.read',
      id,
      replyTo: `c.${id}`,
      key,
      timeoutMs: 3000,
      ...(r === undefined ? {} : {r}),
    } satisfies Msg)
    return id
  }

  reply(id: string): Reply | undefined {
    return this.replies.get(`c.${id}`)
  }

  /** Run until the request is answered (bounded). */
  await(id: string, maxTicks = 100): Reply {
    for (let i = 0; i < maxTicks && !this.reply(id); i++) this.net.run(1)
    const r = this.reply(id)
    expect(r, `seed ${this.seed}: request ${id} never answered`).to.not.equal(undefined)
    return r!
  }

  states(key: string): string[] {
    return [...this.nodes.values()].filter((n) => this.net.isUp(n.id)).map((n) => canonicalSiblings(n.stateOf(key)))
  }

  converged(keys: string[]): boolean {
    return keys.every((k) => new Set(this.states(k)).size === 1)
  }
}

describe('eventual replica (simulated network)', () => {
  it('replicates a put to every replica with the coordinator clock', () => {
    const w = new World(1)
    const put = w.await(w.put('n1', 'greeting', 'hello'))
    expect(put.ok).to.equal(true)
    expect((put.result as PutResultEventual).clock).to.deep.equal({n1: 1})
    w.net.run(10)
    for (const n of w.nodes.values()) {
      expect(n.stateOf('greeting').map((v) => v.value)).to.deep.equal(['hello'])
    }
  })

  it('a second put on another replica supersedes the first (no conflict)', () => {
    const w = new World(2)
    w.await(w.put('n1', 'k', 'a'))
    w.net.run(10)
    const second = w.await(w.put('n3', 'k', 'b'))
    expect((second.result as PutResultEventual).clock).to.deep.equal({n1: 1, n3: 1})
    w.net.run(10)
    const read = w.await(w.read('n5', 'k', 'all')).result as ReadResult
    expect(read.conflict).to.equal(false)
    expect(read.values.map((v) => v.value)).to.deep.equal(['b'])
    expect(read.replicas).to.deep.equal({wanted: 5, answered: 5})
  })

  it('writes on both sides of a partition become the same siblings everywhere; a put with the context resolves them', () => {
    const w = new World(3)
    w.net.partition([
      ['n1', 'n2'],
      ['n3', 'n4', 'n5'],
    ])
    w.await(w.put('n1', 'k', 'left'))
    w.await(w.put('n3', 'k', 'right'))
    w.net.run(20)
    w.net.heal()
    w.net.run(DEFAULT_EVENTUAL_TIMING.antiEntropyTicks * 3)
    expect(w.converged(['k']), 'converged after heal').to.equal(true)
    const read = w.await(w.read('n2', 'k')).result as ReadResult
    expect(read.conflict).to.equal(true)
    expect(read.values.map((v) => v.value).sort()).to.deep.equal(['left', 'right'])
    const resolved = w.await(w.put('n4', 'k', 'merged', {context: read.context}))
    expect(resolved.ok).to.equal(true)
    w.net.run(20)
    for (const n of w.nodes.values()) expect(n.stateOf('k').map((v) => v.value)).to.deep.equal(['merged'])
  })

  it('a put with a stale context keeps the sibling it did not see', () => {
    const w = new World(4)
    w.await(w.put('n1', 'k', 'v1'))
    w.net.run(10)
    const stale = (w.await(w.read('n2', 'k')).result as ReadResult).context
    w.await(w.put('n3', 'k', 'v2'))
    w.net.run(10)
    w.await(w.put('n2', 'k', 'v3', {context: stale}))
    w.net.run(10)
    const read = w.await(w.read('n5', 'k', 'all')).result as ReadResult
    expect(read.values.map((v) => v.value).sort()).to.deep.equal(['v2', 'v3'])
  })

  it('--w waits for durable copies; --w beyond the live replicas is refused and nothing is written', () => {
    const w = new World(5)
    const all = w.await(w.put('n1', 'k', 'v', {w: 'all'}))
    expect(all.ok).to.equal(true)
    expect((all.result as PutResultEventual).replicas).to.equal(5)
    for (const id of ['n3', 'n4', 'n5']) w.net.crash(id)
    w.net.run(DEFAULT_EVENTUAL_TIMING.suspectTicks + 5)
    const before = w.disk('n1').length
    const refused = w.await(w.put('n1', 'k2', 'v', {w: 'quorum'}))
    expect(refused.ok).to.equal(false)
    expect(refused.error!.code).to.equal('UNAVAILABLE')
    expect(w.disk('n1').length).to.equal(before)
    expect(w.nodes.get('n1')!.stateOf('k2')).to.deep.equal([])
  })

  it('refuses bad input with BAD_REQUEST, in the words the client uses, and persists nothing', () => {
    const w = new World(6)
    const before = w.disk('n1').length
    const bad: [key: string, value: string][] = [
      ['', 'x'],
      ['k'.repeat(1025), 'x'],
      ['k', 'v'.repeat(1024 * 1024 + 1)],
    ]
    for (const [key, value] of bad) {
      const r = w.await(w.put('n1', key, value))
      expect(r.ok).to.equal(false)
      expect(r.error!.code).to.equal('BAD_REQUEST')
      expect(r.error!.message, 'same message as the client refuses with').to.equal(clientRefusal(key, value))
    }
    const badContext = w.await(w.put('n1', 'k', 'v', {context: 'not-a-context'}))
    expect(badContext.error!.code).to.equal('BAD_REQUEST')
    expect(w.disk('n1').length).to.equal(before)
  })

  it('refuses a context read from another key (it would supersede versions of this key nobody read)', () => {
    const w = new World(9)
    w.await(w.put('n1', 'b', 'b1'))
    w.await(w.put('n2', 'a', 'a1'))
    const fromA = (w.await(w.read('n1', 'a')).result as ReadResult).context
    w.net.run(10)
    const before = w.disk('n1').length
    const r = w.await(w.put('n1', 'b', 'b2', {context: fromA}))
    expect(r.ok).to.equal(false)
    expect(r.error!.code).to.equal('BAD_REQUEST')
    expect(r.error!.message).to.include('another key')
    expect(w.disk('n1').length).to.equal(before)
    // The key's own context still works.
    const fromB = (w.await(w.read('n1', 'b')).result as ReadResult).context
    expect(w.await(w.put('n1', 'b', 'b2', {context: fromB})).ok).to.equal(true)
  })

  it('a crashed replica restarts from its own records and catches up without client reads', () => {
    const w = new World(7)
    w.await(w.put('n1', 'a', '1'))
    w.net.run(10)
    w.net.crash('n5')
    w.await(w.put('n2', 'a', '2'))
    w.await(w.put('n3', 'b', '1'))
    w.net.run(40)
    w.restart('n5')
    expect(
      w.nodes
        .get('n5')!
        .stateOf('a')
        .map((v) => v.value),
      'own records',
    ).to.deep.equal(['1'])
    w.net.run(DEFAULT_EVENTUAL_TIMING.antiEntropyTicks)
    expect(w.converged(['a', 'b'])).to.equal(true)
    expect(
      w.nodes
        .get('n5')!
        .stateOf('a')
        .map((v) => v.value),
    ).to.deep.equal(['2'])
  })

  it('a new replica joins: the others learn it, it receives the data, its writes carry its own clock entry', () => {
    const w = new World(8)
    w.await(w.put('n1', 'a', '1'))
    w.net.run(10)
    w.net.join('n6')
    w.net.run(DEFAULT_EVENTUAL_TIMING.antiEntropyTicks)
    expect(w.nodes.get('n1')!.memberIds()).to.include('n6')
    expect(
      w.nodes
        .get('n6')!
        .stateOf('a')
        .map((v) => v.value),
    ).to.deep.equal(['1'])
    const put = w.await(w.put('n6', 'a', '2'))
    expect(put.ok, JSON.stringify(put.error)).to.equal(true)
    expect((put.result as PutResultEventual).clock).to.deep.equal({n1: 1, n6: 1})
    w.net.run(10)
    expect(
      w.nodes
        .get('n3')!
        .stateOf('a')
        .map((v) => v.value),
    ).to.deep.equal(['2'])
  })

  it('under drops, duplicates, delays and partitions: converges, loses no acknowledged write, keeps siblings concurrent (40 seeds)', function () {
    this.timeout(60_000)
    for (let seed = 100; seed < 140; seed++) {
      const w = new World(seed)
      const rng = new Rng(seed)
      w.net.faults = {drop: 0.1, duplicate: 0.05, delayTicksMax: 5, slowDisk: 0.2}
      const acked: {key: string; version: {node: string; counter: number}}[] = []
      const pending: {id: string; key: string}[] = []
      const keys = ['a', 'b', 'c']
      for (let t = 0; t < 300; t++) {
        if (t % 60 === 10) w.net.partition([IDS.slice(0, 2), IDS.slice(2)])
        if (t % 60 === 40) w.net.heal()
        if (rng.next() < 0.3) {
          const key = rng.pick(keys)
          const value = rng.next() < 0.1 ? null : `v${t}`
          pending.push({id: w.put(rng.pick(IDS), key, value), key})
        }
        w.net.run(1)
      }
      w.net.heal()
      w.net.faults = CALM
      w.net.run(DEFAULT_EVENTUAL_TIMING.antiEntropyTicks * 3)
      for (const p of pending) {
        const r = w.reply(p.id)
        if (r?.ok) {
          const {clock, node} = r.result as PutResultEventual
          const counter = clock[node]
          assert(counter !== undefined, `seed ${seed}: the clock of a put at ${node} lacks ${node}`)
          acked.push({key: p.key, version: {node, counter}})
        }
      }
      expect(w.converged(keys), `seed ${seed}: replicas differ after heal`).to.equal(true)
      const n1 = w.nodes.get('n1')!
      for (const a of acked) {
        const state = n1.stateOf(a.key)
        const kept = state.some((v) => v.dot.node === a.version.node && v.dot.counter === a.version.counter)
        const covered = covers(contextOf(state), a.version)
        expect(
          kept || covered,
          `seed ${seed}: acknowledged write ${a.version.node}:${a.version.counter} of ${a.key} lost`,
        ).to.equal(true)
      }
      for (const k of keys) {
        const s: readonly Version[] = n1.stateOf(k)
        for (const x of s)
          for (const y of s)
            if (x !== y) expect(supersedes(x, y), `seed ${seed}: siblings not concurrent`).to.equal(false)
      }
    }
  })
})
