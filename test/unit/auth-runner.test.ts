/**
 * A ReplicaRunner in an authenticated cluster (src/runtime/replica-runner.ts with src/auth): nothing
 * unsealed, forged, replayed or stale reaches the core; a client request sealed with the replica's
 * current epoch is applied once and answered in a reply sealed for the client's channel; a request
 * naming an old epoch is answered with the current one (answerStale) and applies nothing; status
 * reports the refusals; hints are sealed for their peer in the hint queue and only genuine ones are
 * ever delivered.
 *
 * How: a tiny key-value core (a Map) and hand-driven ports, as in replica-runner.test.ts; the
 * transport keeps the raw wire strings so the test can open them as the client or the peer would.
 */
import {expect} from 'chai'
import {ClientAuth} from '../../src/auth/client-auth.js'
import {parseEnvelope, stampFor} from '../../src/auth/envelope.js'
import {KeyRing} from '../../src/auth/keys.js'
import {EPOCH_ROTATE_MS, ReplicaAuth, hintLabel} from '../../src/auth/replica-auth.js'
import type {NodeStatus} from '../../src/core/client-messages.js'
import type {Destination, Effect, Output} from '../../src/core/machine.js'
import type {ReplicaCore} from '../../src/core/replica-core.js'
import type {DiskPort} from '../../src/runtime/ports.js'
import {DROP_REPORT_MS, ReplicaRunner, ticksFor} from '../../src/runtime/replica-runner.js'

const CLUSTER = 'authtest'
const SECRET = Buffer.from('the secret of the authtest cluster, long enough', 'utf8')
const OLD_SECRET = Buffer.from('the previous secret of authtest, long enough!!', 'utf8')
const WRONG_SECRET = Buffer.from('somebody else entirely, but 32 bytes or longer', 'utf8')
const TICK_MS = 100
const ROTATION_TICKS = ticksFor(EPOCH_ROTATE_MS, TICK_MS)

type Rec = string
type Msg = Record<string, unknown> & {type: string}

/**
 * A tiny key-value core: client.put stores and persists a record, then replies; a put of a key
 * starting with "hint" also makes a hint for n2; peer messages are only recorded.
 */
class MapCore implements ReplicaCore<Rec, string, Msg> {
  readonly id = 'n1'
  readonly data = new Map<string, string>()
  readonly stepped: Msg[] = []
  restore(): void {}
  step(msg: Msg): Output<Rec> {
    this.stepped.push(msg)
    if (msg.type !== 'client.put') return empty()
    const key = msg.key as string
    this.data.set(key, msg.value as string)
    const effects: Effect[] = key.startsWith('hint')
      ? [{kind: 'hint', peer: 'n2', msg: {type: 'repl', from: 'n1', key}}]
      : []
    return {
      persist: [`put ${key}`],
      persistSoon: [],
      send: [
        {
          to: {kind: 'client', channel: msg.replyTo as string},
          msg: {type: 'client.reply', id: msg.id, ok: true, result: {stored: key}},
        },
      ],
      effects,
    }
  }
  tick(): Output<Rec> {
    return empty()
  }
  flush(): Output<Rec> {
    return empty()
  }
  snapshot(): string {
    return JSON.stringify([...this.data])
  }
  status(): NodeStatus {
    return {id: this.id, alive: true, role: 'replica', keys: this.data.size, mode: 'eventual'}
  }
  memberIds(): string[] {
    return ['n1', 'n2', 'n3']
  }
  busy(): boolean {
    return false
  }
}

function empty(): Output<Rec> {
  return {persist: [], persistSoon: [], send: [], effects: []}
}

/** A disk that is durable at once. */
class InstantDisk implements DiskPort<Rec, string> {
  readonly appended: Rec[] = []
  recordsSinceSnapshot = 0
  append(records: readonly Rec[], onDurable: () => void): void {
    this.appended.push(...records)
    onDurable()
  }
  compact(_state: string, onDone: () => void): void {
    onDone()
  }
  markRecovered(onDone: () => void): void {
    onDone()
  }
}

let tokens = 0
const randomToken = (bytes: number): string => `r${bytes}n${tokens++}`

function replicaAuth(id: string, secrets: Buffer[] = [SECRET]): ReplicaAuth {
  return new ReplicaAuth({id, keys: new KeyRing(secrets, CLUSTER), randomToken, tickMs: TICK_MS})
}

function world() {
  const core = new MapCore()
  const disk = new InstantDisk()
  const auth = replicaAuth('n1')
  const sent: {to: Destination; raw: string}[] = []
  const hints: {peer: string; stored: object}[] = []
  const logs: string[] = []
  let ids = 0
  const runner = new ReplicaRunner<Rec, string, Msg>({
    core,
    asPeerMessage: (m) => (typeof m.from === 'string' ? (m as Msg) : null),
    transport: {send: (to, raw) => sent.push({to, raw})},
    disk,
    bursts: {afterBurst: () => {}},
    hints: {add: (peer, stored) => hints.push({peer, stored}), peerAlive: () => {}},
    log: (_level, text) => logs.push(text),
    tickMs: TICK_MS,
    allowFaults: true,
    newHintId: () => String(ids++),
    auth,
  })
  return {core, disk, auth, sent, hints, logs, runner}
}

const CLIENT_ID = 'cli1'
const REPLY_TO = `kv:${CLUSTER}:reply:${CLIENT_ID}`
const REPLY_LABEL = `client:${REPLY_TO}`

function client(secrets: Buffer[] = [SECRET], inc = 'inc1'): ClientAuth {
  return new ClientAuth(new KeyRing(secrets, CLUSTER), CLIENT_ID, inc)
}

const put = (id: string, key: string, value = 'v'): string =>
  JSON.stringify({type: 'client.put', id, replyTo: REPLY_TO, key, value, timeoutMs: 1000})
const status = (id: string): string => JSON.stringify({type: 'client.status', id, replyTo: REPLY_TO})

/** A request for n1's inbox naming `epoch` (the runner's current one by default). */
function sealedFor(c: ClientAuth, epoch: string | null, body: string): string {
  return c.seal('node:n1', epoch === null ? [] : [['n1', epoch]], body)
}

/** The JSON of the one reply sent to the client, opened as the client would. */
function openReply(c: ClientAuth, s: {to: Destination; raw: string} | undefined): Record<string, unknown> {
  expect(s, 'a reply was sent').to.not.equal(undefined)
  expect(s!.to).to.deep.equal({kind: 'client', channel: REPLY_TO})
  const opened = c.open(s!.raw, REPLY_LABEL)
  expect(opened, 'the reply opens for the client channel').to.not.equal(null)
  return JSON.parse(opened!.body) as Record<string, unknown>
}

describe('replica runner, authenticated', () => {
  it('exposes the epoch clients must name, and rotates it with ticks', () => {
    const w = world()
    const e0 = w.runner.epoch
    expect(e0).to.equal(w.auth.epoch)
    for (let t = 0; t < ROTATION_TICKS; t++) w.runner.tick()
    expect(w.runner.epoch).to.not.equal(e0)
    expect(w.runner.epoch).to.equal(w.auth.epoch)
  })

  it('refuses a plain JSON client request, peer message or fault: nothing applied, nothing sent', () => {
    const w = world()
    expect(w.runner.onRaw(put('q1', 'k'))).to.equal('rejected')
    expect(w.runner.onRaw(status('q2'))).to.equal('rejected')
    expect(w.runner.onRaw(JSON.stringify({type: 'repl', from: 'n2'}))).to.equal('rejected')
    expect(
      w.runner.onRaw(JSON.stringify({type: 'fault', id: 'f', replyTo: REPLY_TO, partition: [['n1'], ['n2']]})),
    ).to.equal('rejected')
    expect(w.core.stepped).to.deep.equal([])
    expect(w.core.data.size).to.equal(0)
    expect(w.disk.appended).to.deep.equal([])
    expect(w.sent).to.deep.equal([])
    expect(w.runner.partitioned).to.equal(false)
    expect(w.runner.droppedCount, 'refused, not counted as invalid').to.equal(0)
    expect(w.runner.rejected).to.deep.equal({'no-mac': 4, 'bad-mac': 0, stale: 0, replayed: 0})
  })

  it('applies a request sealed with the current epoch once, and seals the reply for the client channel', () => {
    const w = world()
    const c = client()
    const req = sealedFor(c, w.runner.epoch, put('q1', 'k', 'v1'))
    expect(w.runner.onRaw(req)).to.equal('client')
    expect(w.core.data.get('k')).to.equal('v1')
    expect(w.disk.appended).to.deep.equal(['put k'])
    expect(w.sent).to.have.length(1)
    const raw = w.sent[0]!.raw
    expect(raw.startsWith('k1|'), 'sealed').to.equal(true)
    expect(openReply(c, w.sent[0])).to.deep.equal({type: 'client.reply', id: 'q1', ok: true, result: {stored: 'k'}})
    // sealed for this channel only
    expect(c.open(raw, 'client:kv:authtest:reply:someone-else')).to.equal(null)
    expect(c.open(raw, 'node:n1')).to.equal(null)
    // and it names the replica's epoch, as every envelope of a replica does
    expect(parseEnvelope(raw)!.ep).to.equal(w.runner.epoch)

    // the same request again (a replay): refused, no second put, no second reply
    expect(w.runner.onRaw(req)).to.equal('rejected')
    expect(w.runner.onRaw(Buffer.from(req))).to.equal('rejected')
    expect(w.core.stepped).to.have.length(1)
    expect(w.disk.appended).to.deep.equal(['put k'])
    expect(w.sent).to.have.length(1)
    expect(w.runner.rejected).to.deep.include({replayed: 2})
  })

  it('accepts a request naming the previous epoch (one rotation ago)', () => {
    const w = world()
    const c = client()
    const e0 = w.runner.epoch!
    for (let t = 0; t < ROTATION_TICKS; t++) w.runner.tick()
    expect(w.runner.onRaw(sealedFor(c, e0, put('q1', 'k')))).to.equal('client')
    expect(w.core.data.has('k')).to.equal(true)
  })

  it('answers a request naming an old or unknown epoch with the current epoch, applying nothing', () => {
    const w = world()
    const c = client()
    const e0 = w.runner.epoch!
    const cases: [string, string | null][] = [
      ['no epoch at all', null],
      ['a made-up epoch', 'notAnEpoch'],
    ]
    for (const [what, epoch] of cases) {
      w.sent.length = 0
      expect(w.runner.onRaw(sealedFor(c, epoch, put(`q-${what.length}`, 'k'))), what).to.equal('rejected')
      expect(w.sent, what).to.have.length(1)
      const reply = openReply(c, w.sent[0])
      expect(reply.ok, what).to.equal(false)
      expect(reply.id).to.equal(`q-${what.length}`)
      expect(reply.epoch, what).to.equal(w.runner.epoch)
      expect((reply.error as {code: string}).code).to.equal('UNAVAILABLE')
    }
    // two rotations: the first epoch is no longer accepted
    const req = sealedFor(c, e0, put('q-old', 'k'))
    for (let t = 0; t < 2 * ROTATION_TICKS; t++) w.runner.tick()
    w.sent.length = 0
    expect(w.runner.onRaw(req)).to.equal('rejected')
    const reply = openReply(c, w.sent[0])
    expect(reply).to.deep.include({id: 'q-old', ok: false, epoch: w.runner.epoch})
    expect(reply.epoch).to.not.equal(e0)
    expect(w.core.stepped, 'nothing reached the core').to.deep.equal([])
    expect(w.core.data.size).to.equal(0)
    expect(w.runner.rejected).to.deep.include({stale: 3})

    // the retry the client makes with the epoch it was told is applied
    expect(w.runner.onRaw(sealedFor(c, reply.epoch as string, put('q-old', 'k')))).to.equal('client')
    expect(w.core.data.has('k')).to.equal(true)
  })

  it('answers a stale request only on its own inbox, and never a stale peer message or a forged request', () => {
    const w = world()
    const c = client()
    // a stale client request that came over the control topic: no answer (every replica would answer)
    const viaTopic = c.seal('topic:control', [['n1', 'old']], status('q1'))
    expect(w.runner.onRaw(viaTopic, 'topic:control')).to.equal('rejected')
    // a stale peer message: refused, not answered
    const n2 = replicaAuth('n2')
    expect(w.runner.onRaw(n2.sealTo({kind: 'node', id: 'n1'}, JSON.stringify({type: 'repl', from: 'n2'})))).to.equal(
      'rejected',
    )
    // a request signed with another secret and naming the right epoch: bad-mac, not answered
    const forger = client([WRONG_SECRET])
    expect(w.runner.onRaw(sealedFor(forger, w.runner.epoch, put('q2', 'k')))).to.equal('rejected')
    expect(w.sent).to.deep.equal([])
    expect(w.core.stepped).to.deep.equal([])
    expect(w.runner.rejected).to.deep.equal({'no-mac': 0, 'bad-mac': 1, stale: 2, replayed: 0})
  })

  it('refuses a sealed request moved from another inbox or delivered on a topic', () => {
    const w = world()
    const c = client()
    const forN2 = c.seal('node:n2', [['n1', w.runner.epoch!]], put('q1', 'k'))
    expect(w.runner.onRaw(forN2)).to.equal('rejected')
    const forN1 = sealedFor(c, w.runner.epoch, put('q2', 'k'))
    expect(w.runner.onRaw(forN1, 'topic:members')).to.equal('rejected')
    expect(w.core.stepped).to.deep.equal([])
    expect(w.sent).to.deep.equal([])
    expect(w.runner.rejected).to.deep.include({'bad-mac': 2})
    // the genuine delivery of the second one still works: a refusal does not burn its sequence number
    expect(w.runner.onRaw(forN1)).to.equal('client')
  })

  it('reports the refusals in client.status and in the periodic log', () => {
    const w = world()
    const c = client()
    w.runner.onRaw('{"type":"client.status"}')
    w.runner.onRaw('k1|forged|')
    w.runner.onRaw(sealedFor(c, 'old', put('q0', 'k')))
    w.sent.length = 0
    const req = sealedFor(c, w.runner.epoch, status('s1'))
    expect(w.runner.onRaw(req)).to.equal('client')
    expect(w.runner.onRaw(req)).to.equal('rejected')
    const reply = openReply(c, w.sent[0])
    expect(reply.ok).to.equal(true)
    const result = reply.result as NodeStatus & {rejected: Record<string, number>}
    expect(result.id).to.equal('n1')
    // counted when the status was made: the replay came after it
    expect(result.rejected).to.deep.equal({'no-mac': 1, 'bad-mac': 1, stale: 1, replayed: 0})
    expect(w.runner.rejected).to.deep.equal({'no-mac': 1, 'bad-mac': 1, stale: 1, replayed: 1})

    for (let t = 0; t < ticksFor(DROP_REPORT_MS, TICK_MS); t++) w.runner.tick()
    const line = w.logs.find((l) => l.startsWith('refused '))
    expect(line).to.equal(
      `refused 4 unauthenticated message(s) in the last ${DROP_REPORT_MS / 1000}s; in all: no-mac 1, bad-mac 1, stale 1, replayed 1`,
    )
  })

  it('seals peer and topic messages for their channel, naming the epochs it knows', () => {
    const w = world()
    const n2 = replicaAuth('n2')
    // n2 introduces itself (stale: it does not know n1's epoch yet, but n1 learns n2's)
    w.runner.onRaw(n2.sealTo({kind: 'node', id: 'n1'}, JSON.stringify({type: 'hello', from: 'n2'})))
    // a client put whose hint effect is not what we look at here; use a core step that sends to n2
    const c = client()
    w.core.step = (msg) => {
      w.core.stepped.push(msg)
      return {
        persist: [],
        persistSoon: [],
        send: [
          {to: {kind: 'node', id: 'n2'}, msg: {type: 'repl', from: 'n1'}},
          {to: {kind: 'topic', topic: 'members'}, msg: {type: 'heartbeat', from: 'n1'}},
        ],
        effects: [],
      }
    }
    expect(w.runner.onRaw(sealedFor(c, w.runner.epoch, put('q1', 'k')))).to.equal('client')
    expect(w.sent.map((s) => s.to)).to.deep.equal([
      {kind: 'node', id: 'n2'},
      {kind: 'topic', topic: 'members'},
    ])
    const toN2 = n2.open(w.sent[0]!.raw, 'node:n2')
    expect(toN2.ok, 'n2 opens the inbox message: it names the epoch of n2').to.equal(true)
    expect(n2.open(w.sent[0]!.raw, 'node:n3').ok).to.equal(false)
    const env = parseEnvelope(w.sent[1]!.raw)!
    expect(stampFor(env.to, 'n1')).to.equal(w.runner.epoch)
    expect(stampFor(env.to, 'n2')).to.equal(n2.epoch)
    expect(n2.open(w.sent[1]!.raw, 'topic:members').ok).to.equal(true)
    // n1 accepts its own broadcast once, as every subscriber does
    expect(w.runner.onRaw(w.sent[1]!.raw, 'topic:members')).to.equal('peer')
    expect(w.runner.onRaw(w.sent[1]!.raw, 'topic:members')).to.equal('rejected')
  })

  describe('hints', () => {
    /** A world whose runner made one hint for n2 (from a sealed put), and n2 that knows n1. */
    function hinted() {
      const w = world()
      const c = client()
      const n2 = replicaAuth('n2')
      // n1 learns n2's epoch (so the delivered hint is fresh for n2) and n2 learns n1's
      w.runner.onRaw(n2.sealTo({kind: 'node', id: 'n1'}, JSON.stringify({type: 'hello', from: 'n2'})))
      expect(w.runner.onRaw(sealedFor(c, w.runner.epoch, put('q1', 'hint-k')))).to.equal('client')
      expect(w.hints).to.have.length(1)
      w.sent.length = 0
      return {...w, n2, stored: w.hints[0]!.stored}
    }

    it('puts the hint in the queue sealed for its peer, never in the clear', () => {
      const {hints, n2, stored} = hinted()
      expect(hints[0]!.peer).to.equal('n2')
      expect(Object.keys(stored)).to.deep.equal(['sealed'])
      const sealed = String((stored as {sealed: unknown}).sealed)
      expect((stored as {sealed: unknown}).sealed).to.be.a('string')
      expect(sealed).to.match(/^k1\|/)
      const body = n2.openValue(sealed, hintLabel('n2'))
      expect(JSON.parse(body!.toString()) as unknown).to.deep.equal({type: 'repl', from: 'n1', key: 'hint-k'})
      expect(n2.openValue(sealed, hintLabel('n3')), "not valid in n3's queue").to.equal(null)
    })

    it('delivers a genuine hint to its peer, sealed for node:<peer>, with a batch id, and completes on the ack', () => {
      const {runner, sent, n2, stored} = hinted()
      const results: boolean[] = []
      runner.deliverHint('n2', stored, (ok) => results.push(ok))
      expect(sent).to.have.length(1)
      expect(sent[0]!.to).to.deep.equal({kind: 'node', id: 'n2'})
      const opened = n2.open(sent[0]!.raw, 'node:n2')
      expect(opened.ok).to.equal(true)
      expect(JSON.parse(opened.ok ? opened.body.toString() : '{}') as unknown).to.deep.equal({
        type: 'repl',
        from: 'n1',
        key: 'hint-k',
        batch: 'h.0',
      })
      expect(results).to.deep.equal([])
      const ack = n2.sealTo({kind: 'node', id: 'n1'}, JSON.stringify({type: 'repl.ack', from: 'n2', batch: 'h.0'}))
      expect(runner.onRaw(ack)).to.equal('hint-ack')
      expect(results).to.deep.equal([true])
      // a plain (forged) ack for a later delivery does nothing
      runner.deliverHint('n2', stored, (ok) => results.push(ok))
      expect(runner.onRaw(JSON.stringify({type: 'repl.ack', from: 'n2', batch: 'h.1'}))).to.equal('rejected')
      expect(results).to.deep.equal([true])
    })

    it('drops a forged, plain, moved or damaged hint for good (done(true)) without sending anything', () => {
      const {runner, sent, stored, core} = hinted()
      const sealed = (stored as {sealed: string}).sealed
      const forgerAuth = replicaAuth('n1', [WRONG_SECRET])
      const cases: [string, object, string][] = [
        ['a plain hint', {type: 'repl', from: 'n1', key: 'evil'}, 'no-mac'],
        ['a sealed field that is not a string', {sealed: 42}, 'no-mac'],
        [
          'a hint sealed with another secret',
          {sealed: forgerAuth.sealValue(hintLabel('n2'), '{"type":"repl"}')},
          'bad-mac',
        ],
        ['a tampered hint', {sealed: sealed.replace('hint-k', 'hint-x')}, 'bad-mac'],
        ['a garbage envelope', {sealed: 'k1|x|y|z'}, 'bad-mac'],
      ]
      const before = runner.rejected!
      for (const [what, hint, reason] of cases) {
        const results: boolean[] = []
        const counted = runner.rejected![reason]!
        runner.deliverHint('n2', hint, (ok) => results.push(ok))
        expect(results, what).to.deep.equal([true])
        expect(sent, what).to.deep.equal([])
        expect(runner.rejected![reason], `${what} counted as ${reason}`).to.equal(counted + 1)
      }
      // n2's genuine hint taken from n2's queue and offered for n3: moved, dropped
      const results: boolean[] = []
      runner.deliverHint('n3', stored, (ok) => results.push(ok))
      expect(results).to.deep.equal([true])
      expect(sent).to.deep.equal([])
      expect(runner.rejected!['bad-mac']).to.equal(before['bad-mac']! + 4)
      expect(core.stepped, 'only the put (the hello was stale): nothing from the hints').to.have.length(1)
    })

    it('a genuine hint may be delivered again (replaying a stored hint is harmless by design)', () => {
      const {runner, sent, stored} = hinted()
      runner.deliverHint('n2', stored, () => {})
      runner.deliverHint('n2', stored, () => {})
      expect(sent).to.have.length(2)
      expect(sent[0]!.raw).to.not.equal(sent[1]!.raw) // each delivery is a new message (new seq, batch)
    })
  })

  describe('secret rotation', () => {
    it('answers a client that holds only the older secret in that older key', () => {
      const core = new MapCore()
      const sent: {to: Destination; raw: string}[] = []
      const auth = replicaAuth('n1', [SECRET, OLD_SECRET])
      const runner = new ReplicaRunner<Rec, string, Msg>({
        core,
        asPeerMessage: (m) => (typeof m.from === 'string' ? (m as Msg) : null),
        transport: {send: (to, raw) => sent.push({to, raw})},
        disk: new InstantDisk(),
        bursts: {afterBurst: () => {}},
        log: () => {},
        tickMs: TICK_MS,
        allowFaults: false,
        newHintId: () => 'x',
        auth,
      })
      const oldClient = client([OLD_SECRET])
      const newClient = new ClientAuth(new KeyRing([SECRET], CLUSTER), 'cli2', 'inc2')
      expect(runner.onRaw(sealedFor(oldClient, runner.epoch, put('q1', 'a')))).to.equal('client')
      expect(runner.onRaw(newClient.seal('node:n1', [['n1', runner.epoch!]], put('q2', 'b')))).to.equal('client')
      expect(core.data.size).to.equal(2)
      // each reply in the key its request came in (both requests name the same reply channel here)
      expect(openReply(oldClient, sent[0])).to.deep.include({id: 'q1', ok: true})
      expect(parseEnvelope(sent[0]!.raw)!.kid).to.equal(new KeyRing([OLD_SECRET], CLUSTER).signing.id)
      expect(openReply(newClient, sent[1])).to.deep.include({id: 'q2', ok: true})
      expect(oldClient.open(sent[1]!.raw, REPLY_LABEL), 'the new-key reply is not for the old key').to.equal(null)
      // replica-to-replica messages are still signed with the new key
      expect(parseEnvelope(auth.sealTo({kind: 'node', id: 'n2'}, '{}'))!.kid).to.equal(
        new KeyRing([SECRET], CLUSTER).signing.id,
      )
    })

    // During a rotation a client may hold only the older secret: the stale answer must go out in its key.
    it("answers a stale request of an older-secret client in the client's key", () => {
      const core = new MapCore()
      const sent: {to: Destination; raw: string}[] = []
      const runner = new ReplicaRunner<Rec, string, Msg>({
        core,
        asPeerMessage: () => null,
        transport: {send: (to, raw) => sent.push({to, raw})},
        disk: new InstantDisk(),
        bursts: {afterBurst: () => {}},
        log: () => {},
        tickMs: TICK_MS,
        allowFaults: false,
        newHintId: () => 'x',
        auth: replicaAuth('n1', [SECRET, OLD_SECRET]),
      })
      const oldClient = client([OLD_SECRET])
      expect(runner.onRaw(sealedFor(oldClient, 'before-restart', put('q1', 'a')))).to.equal('rejected')
      expect(openReply(oldClient, sent[0])).to.deep.include({id: 'q1', ok: false, epoch: runner.epoch})
    })
  })
})
