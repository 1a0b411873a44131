/**
 * A replica's authenticator (src/auth/replica-auth.ts) between two or three replicas, driven by hand:
 * a fresh message is accepted once; one naming an epoch of the receiver two rotations old, or of
 * an earlier process of it, is stale; replicas learn each other's epochs from the messages (a peer
 * that restarted, a long partition) and an old message never un-learns a newer epoch; refusals are
 * counted by reason; a topic message is accepted by its own sender once; stored values open only for
 * their label; values for clients (presence) are sealed once per key and openStored tells a missing
 * or wrong secret apart (UNAUTHENTICATED); a key ring with the new and the old secret accepts both
 * and signs with the new one.
 *
 * Deterministic: every random token comes from one counter, so no two processes share an epoch.
 */
import {expect} from 'chai'
import {ClientAuth, openStored} from '../../src/auth/client-auth.js'
import {type ClusterKey, encodeStamps, parseEnvelope, seal, stampFor} from '../../src/auth/envelope.js'
import {KeyRing, clusterKey} from '../../src/auth/keys.js'
import {
  CONTROL_LABEL,
  EPOCH_ROTATE_MS,
  type Opened,
  PEER_EPOCHS_MAX,
  ReplicaAuth,
  hintLabel,
  labelOf,
  presenceLabel,
  registryLabel,
} from '../../src/auth/replica-auth.js'
import type {Destination} from '../../src/core/machine.js'

const CLUSTER = 'test'
const SECRET = Buffer.from('the current cluster secret, 32 bytes or more', 'utf8')
const OLD_SECRET = Buffer.from('the previous cluster secret, also long enough', 'utf8')
const WRONG_SECRET = Buffer.from('a secret of some other cluster, long enough!!', 'utf8')
const TICK_MS = 1000
const TICKS_PER_ROTATION = Math.ceil(EPOCH_ROTATE_MS / TICK_MS)

let tokenCounter = 0
/** Distinct base64url-ish tokens for every instance of a test run. */
const randomToken = (bytes: number): string => `t${bytes}x${tokenCounter++}`

function replica(id: string, secrets: Buffer[] = [SECRET]): ReplicaAuth {
  return new ReplicaAuth({id, keys: new KeyRing(secrets, CLUSTER), randomToken, tickMs: TICK_MS})
}

const inbox = (id: string): Destination => ({kind: 'node', id})
const topic: Destination = {kind: 'topic', topic: 'members'}

function rotate(a: ReplicaAuth, times = 1): void {
  for (let i = 0; i < times * TICKS_PER_ROTATION; i++) a.tick()
}

/** `from` seals a message for `to`'s inbox; `to` opens it there. */
function send(from: ReplicaAuth, to: ReplicaAuth, toId: string, body = '{"type":"x"}'): {raw: string; got: Opened} {
  const raw = from.sealTo(inbox(toId), body)
  return {raw, got: to.open(raw, labelOf(inbox(toId)))}
}

/** A secret for the named test party (32 bytes or more). */
function secretsOf(name: string): Buffer[] {
  return [Buffer.from(`secret of ${name}, padded to be long enough for kv`, 'utf8')]
}

function reasonOf(o: Opened): string {
  return o.ok ? 'ok' : o.reason
}

/** Two replicas that know each other's current epochs (after one stale bootstrap message). */
function introduced(): {a: ReplicaAuth; b: ReplicaAuth} {
  const a = replica('a')
  const b = replica('b')
  expect(reasonOf(send(a, b, 'b').got), 'a does not know b yet').to.equal('stale')
  expect(reasonOf(send(b, a, 'a').got), 'b learned a from the stale message').to.equal('ok')
  expect(reasonOf(send(a, b, 'b').got), 'a learned b from the answer').to.equal('ok')
  return {a, b}
}

/** The epoch `sender`'s next inbox message names for `receiverId`. */
function namedEpoch(sender: ReplicaAuth, receiverId: string): string | null {
  const env = parseEnvelope(sender.sealTo(inbox(receiverId), '{}'))
  return env ? stampFor(env.to, receiverId) : null
}

describe('auth replica', () => {
  describe('freshness and replay', () => {
    it('accepts a fresh message once, with its body and sender, and refuses it as replayed after', () => {
      const {a, b} = introduced()
      const {raw, got} = send(a, b, 'b', '{"type":"hello"}')
      expect(got.ok).to.equal(true)
      if (got.ok) {
        expect(got.body.toString()).to.equal('{"type":"hello"}')
        expect(got.from).to.equal('a')
      }
      const before = {...b.rejected}
      expect(reasonOf(b.open(raw, 'node:b'))).to.equal('replayed')
      expect(reasonOf(b.open(Buffer.from(raw), 'node:b')), 'as a Buffer too').to.equal('replayed')
      expect(b.rejected).to.deep.equal({...before, replayed: before.replayed + 2})
    })

    it('accepts messages that arrive out of order, each once', () => {
      const {a, b} = introduced()
      const raws = [0, 1, 2, 3].map((i) => a.sealTo(inbox('b'), `{"i":${i}}`))
      for (const i of [2, 0, 3, 1]) expect(reasonOf(b.open(raws[i]!, 'node:b')), `message ${i}`).to.equal('ok')
      for (const i of [0, 1, 2, 3]) expect(reasonOf(b.open(raws[i]!, 'node:b')), `again ${i}`).to.equal('replayed')
    })

    it("accepts a message naming the receiver's previous epoch, and refuses it as stale two rotations later", () => {
      const {a, b} = introduced()
      const m1 = a.sealTo(inbox('b'), '{"n":1}')
      const m2 = a.sealTo(inbox('b'), '{"n":2}')
      const m3 = a.sealTo(inbox('b'), '{"n":3}')
      const e0 = b.epoch
      rotate(b)
      expect(b.epoch).to.not.equal(e0)
      expect(reasonOf(b.open(m1, 'node:b')), 'one rotation: previous epoch still accepted').to.equal('ok')
      rotate(b, 1)
      const s = b.open(m2, 'node:b')
      expect(reasonOf(s), 'two rotations: stale').to.equal('stale')
      // stale messages carry their (authentic) body, for answering a client with the current epoch
      expect(s.ok ? null : s.body?.toString()).to.equal('{"n":2}')
      expect(reasonOf(b.open(m3, 'node:b'))).to.equal('stale')
      expect(reasonOf(b.open(m1, 'node:b')), 'an accepted message replayed later: stale').to.equal('stale')
      expect(b.rejected.stale).to.equal(3 + 1) // +1: the bootstrap message in introduced()
    })

    it('rotates exactly every EPOCH_ROTATE_MS of ticks', () => {
      const b = replica('b')
      const e0 = b.epoch
      for (let i = 0; i < TICKS_PER_ROTATION - 1; i++) b.tick()
      expect(b.epoch).to.equal(e0)
      b.tick()
      const e1 = b.epoch
      expect(e1).to.not.equal(e0)
      rotate(b)
      expect(b.epoch).to.not.equal(e1)
      // a coarse tick still rotates (at least one tick per rotation)
      const coarse = new ReplicaAuth({
        id: 'c',
        keys: new KeyRing([SECRET], CLUSTER),
        randomToken,
        tickMs: EPOCH_ROTATE_MS * 3,
      })
      const c0 = coarse.epoch
      coarse.tick()
      expect(coarse.epoch).to.not.equal(c0)
    })

    it('refuses after a restart of the receiver a message the earlier process accepted (and one it never saw)', () => {
      const {a, b} = introduced()
      const seen = send(a, b, 'b')
      expect(seen.got.ok).to.equal(true)
      const unseen = a.sealTo(inbox('b'), '{"type":"late"}')
      const b2 = replica('b') // same id, new process
      expect(b2.epoch).to.not.equal(b.epoch)
      expect(reasonOf(b2.open(seen.raw, 'node:b'))).to.equal('stale')
      expect(reasonOf(b2.open(unseen, 'node:b'))).to.equal('stale')
      // ...and again: it stays stale (no replay window is created for it)
      expect(reasonOf(b2.open(seen.raw, 'node:b'))).to.equal('stale')
    })

    it('forgets a silent sender two rotations on without ever accepting its old messages again', () => {
      const {a, b} = introduced()
      const {raw} = send(a, b, 'b')
      rotate(b, 2) // a's window is dropped: nothing it sent can still be fresh
      expect(reasonOf(b.open(raw, 'node:b'))).to.equal('stale')
      // a learns b's new epoch from a message of b; its new messages are accepted, once
      expect(reasonOf(send(b, a, 'a').got)).to.equal('ok')
      const fresh = send(a, b, 'b')
      expect(reasonOf(fresh.got)).to.equal('ok')
      expect(reasonOf(b.open(fresh.raw, 'node:b'))).to.equal('replayed')
    })

    it('refuses a valid message delivered on another channel as bad-mac (moved)', () => {
      const {a, b} = introduced()
      const c = replica('c')
      const raw = a.sealTo(inbox('b'), '{}')
      expect(reasonOf(c.open(raw, 'node:c')), "into c's inbox").to.equal('bad-mac')
      expect(reasonOf(b.open(raw, 'topic:members')), 'onto a topic').to.equal('bad-mac')
      expect(reasonOf(b.open(raw, CONTROL_LABEL))).to.equal('bad-mac')
      expect(reasonOf(b.open(raw, 'node:b')), 'where it was meant to go, still fresh').to.equal('ok')
    })
  })

  describe('learning epochs', () => {
    it('bootstraps: the first message of an unknown peer is stale but teaches its epoch', () => {
      const a = replica('a')
      const b = replica('b')
      expect(namedEpoch(b, 'a')).to.equal(null)
      expect(reasonOf(send(a, b, 'b').got)).to.equal('stale')
      expect(namedEpoch(b, 'a')).to.equal(a.epoch)
      expect(reasonOf(send(b, a, 'a').got)).to.equal('ok')
      expect(namedEpoch(a, 'b')).to.equal(b.epoch)
    })

    it('learns a peer that restarted: its first message is stale, then messages naming its new epoch pass', () => {
      const {a, b} = introduced()
      const b2 = replica('b')
      expect(reasonOf(send(a, b2, 'b').got), "a still names the old process's epoch").to.equal('stale')
      expect(namedEpoch(b2, 'a')).to.equal(a.epoch)
      expect(reasonOf(send(b2, a, 'a').got), 'the new process names a correctly').to.equal('ok')
      expect(namedEpoch(a, 'b'), 'and a learned the new process').to.equal(b2.epoch)
      expect(reasonOf(send(a, b2, 'b').got)).to.equal('ok')
      // the earlier process still exists here; a's messages for b now name b2's epoch, which b refuses
      expect(reasonOf(send(a, b, 'b').got)).to.equal('stale')
    })

    it('learns from a stale message of a restarted peer even when the peer names no epoch of ours', () => {
      const {a} = introduced()
      const b2 = replica('b')
      expect(reasonOf(send(b2, a, 'a').got), "b2 doesn't know a yet").to.equal('stale')
      expect(namedEpoch(a, 'b')).to.equal(b2.epoch)
      expect(reasonOf(send(a, b2, 'b').got)).to.equal('ok')
      expect(reasonOf(send(b2, a, 'a').got)).to.equal('ok')
    })

    it('converges after a long partition where both hold old epochs of each other', () => {
      const {a, b} = introduced()
      rotate(a, 3)
      rotate(b, 3)
      expect(namedEpoch(a, 'b')).to.not.equal(b.epoch)
      expect(namedEpoch(b, 'a')).to.not.equal(a.epoch)
      const log: string[] = []
      for (let round = 0; round < 2; round++) {
        log.push(`a->b ${reasonOf(send(a, b, 'b').got)}`)
        log.push(`b->a ${reasonOf(send(b, a, 'a').got)}`)
      }
      // one stale message breaks the tie, everything after it is accepted
      expect(log).to.deep.equal(['a->b stale', 'b->a ok', 'a->b ok', 'b->a ok'])
      expect(namedEpoch(a, 'b')).to.equal(b.epoch)
      expect(namedEpoch(b, 'a')).to.equal(a.epoch)
    })

    it('converges in a three-replica cluster over the topic after a long partition', () => {
      const ids = ['a', 'b', 'c']
      const rs = ids.map((id) => replica(id))
      const broadcast = (from: number): string[] => {
        const raw = rs[from]!.sealTo(topic, `{"from":"${ids[from]!}"}`)
        return rs.map((r, i) =>
          i === from ? '' : `${ids[from]!}->${ids[i]!} ${reasonOf(r.open(raw, 'topic:members'))}`,
        )
      }
      for (let i = 0; i < 3; i++) broadcast(i) // bootstrap
      const settled = (): string[] => [0, 1, 2].flatMap(broadcast).filter((s) => s !== '')
      expect(settled().every((s) => s.endsWith(' ok'))).to.equal(true)
      for (const r of rs) rotate(r, 3)
      const first = settled()
      expect(first.some((s) => s.endsWith(' stale'))).to.equal(true)
      expect(
        settled().filter((s) => !s.endsWith(' ok')),
        'one round of heartbeats later everyone accepts everyone',
      ).to.deep.equal([])
    })

    it('a replayed older message of the same incarnation does not overwrite a newer learned epoch', () => {
      const {a, b} = introduced()
      const old = a.sealTo(inbox('b'), '{"n":"old"}') // names a's epoch a0
      const a0 = a.epoch
      expect(reasonOf(b.open(old, 'node:b'))).to.equal('ok')
      rotate(a)
      const a1 = a.epoch
      expect(reasonOf(send(a, b, 'b').got)).to.equal('ok')
      expect(namedEpoch(b, 'a')).to.equal(a1)
      // replayed while still fresh: refused by the window, learns nothing
      expect(reasonOf(b.open(old, 'node:b'))).to.equal('replayed')
      expect(namedEpoch(b, 'a')).to.equal(a1)
      // replayed once stale (stale messages do teach epochs): lower seq, same incarnation, ignored
      rotate(b, 2)
      expect(reasonOf(b.open(old, 'node:b'))).to.equal('stale')
      expect(namedEpoch(b, 'a'), `not a0 (${a0})`).to.equal(a1)
    })

    it('a delayed older message arriving after a newer one is accepted but does not teach its older epoch', () => {
      const {a, b} = introduced()
      const delayed = a.sealTo(inbox('b'), '{"n":"delayed"}')
      rotate(a)
      expect(reasonOf(send(a, b, 'b').got)).to.equal('ok')
      expect(reasonOf(b.open(delayed, 'node:b'))).to.equal('ok')
      expect(namedEpoch(b, 'a')).to.equal(a.epoch)
    })

    it("a replayed message of a peer's earlier process repoints at most until that peer's next message", () => {
      const {a, b} = introduced()
      const fromOldA = a.sealTo(inbox('b'), '{}')
      const a2 = replica('a')
      expect(reasonOf(send(a2, b, 'b').got)).to.equal('stale') // b learns a2
      expect(namedEpoch(b, 'a')).to.equal(a2.epoch)
      b.open(fromOldA, 'node:b') // another incarnation: it does repoint (documented in replica-auth.ts)
      expect(namedEpoch(b, 'a')).to.equal(a.epoch)
      send(a2, b, 'b') // a2's next message corrects it
      expect(namedEpoch(b, 'a')).to.equal(a2.epoch)
      expect(reasonOf(send(b, a2, 'a').got)).to.equal('ok')
    })

    it('learns nothing from a client (no epoch) and never learns itself', () => {
      const b = replica('b')
      const key = clusterKey(SECRET, CLUSTER)
      const fromClient = seal(key, 'node:b', {from: 'cli', inc: 'i', seq: 0, ep: null, to: ''}, '{}')
      expect(reasonOf(b.open(fromClient, 'node:b'))).to.equal('stale')
      expect(namedEpoch(b, 'cli')).to.equal(null)
      const env = parseEnvelope(b.sealTo(topic, '{}'))!
      expect(env.to, 'a topic message names only b itself').to.equal(`b=${b.epoch}`)
    })
  })

  describe('refusals by reason', () => {
    it('counts no-mac, bad-mac, stale and replayed separately', () => {
      const {a, b} = introduced()
      const start = {...b.rejected}
      expect(start).to.deep.equal({'no-mac': 0, 'bad-mac': 0, stale: 1, replayed: 0})
      const wrong = new ReplicaAuth({id: 'a', keys: new KeyRing([WRONG_SECRET], CLUSTER), randomToken, tickMs: TICK_MS})
      const otherCluster = new ReplicaAuth({
        id: 'a',
        keys: new KeyRing([SECRET], 'other'),
        randomToken,
        tickMs: TICK_MS,
      })
      const good = a.sealTo(inbox('b'), '{"type":"put","value":"v"}')
      const tampered = good.replace('"v"', '"w"')
      const cases: [string, string | Buffer, string][] = [
        ['plain JSON', '{"type":"client.put"}', 'no-mac'],
        ['plain JSON as a Buffer', Buffer.from('{"type":"x"}'), 'no-mac'],
        ['an empty message', '', 'no-mac'],
        ['a wrong secret', wrong.sealTo(inbox('b'), '{}'), 'bad-mac'],
        ['the same secret, another cluster', otherCluster.sealTo(inbox('b'), '{}'), 'bad-mac'],
        ['a tampered body', tampered, 'bad-mac'],
        ['a moved label', a.sealTo(inbox('c'), '{}'), 'bad-mac'],
        ['a malformed header', 'k1|garbage|', 'bad-mac'],
        ['the genuine one', good, 'ok'],
        ['the genuine one again', good, 'replayed'],
        [
          'a message naming no epoch of b',
          seal(clusterKey(SECRET, CLUSTER), 'node:b', {from: 'a', inc: 'x', seq: 0, ep: 'e', to: 'b=nope'}, '{}'),
          'stale',
        ],
      ]
      for (const [what, raw, want] of cases) expect(reasonOf(b.open(raw, 'node:b')), what).to.equal(want)
      expect(b.rejected).to.deep.equal({'no-mac': 3, 'bad-mac': 5, stale: 2, replayed: 1})
    })

    it('a non-canonical spelling of an accepted message is still refused (replay window)', () => {
      // The tag's last base64url character carries 2 unused bits (see auth-envelope.test.ts): a copy
      // with another spelling verifies, but names the same (sender, incarnation, seq).
      const {a, b} = introduced()
      const raw = a.sealTo(inbox('b'), '{}')
      const env = parseEnvelope(raw)!
      const tagText = env.tag.toString('base64url')
      const at = raw.indexOf(tagText) + tagText.length - 1
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      const v = alphabet.indexOf(raw[at]!)
      const respelled = raw.slice(0, at) + alphabet[v ^ 1]! + raw.slice(at + 1)
      expect(respelled).to.not.equal(raw)
      expect(reasonOf(b.open(raw, 'node:b'))).to.equal('ok')
      expect(['replayed', 'bad-mac']).to.include(reasonOf(b.open(respelled, 'node:b')))
    })
  })

  describe('topics', () => {
    it("a topic message names the sender's own epoch and every known peer's, and its sender accepts it once", () => {
      const {a, b} = introduced()
      const raw = a.sealTo(topic, '{"type":"heartbeat"}')
      const env = parseEnvelope(raw)!
      expect(stampFor(env.to, 'a')).to.equal(a.epoch)
      expect(stampFor(env.to, 'b')).to.equal(b.epoch)
      expect(reasonOf(a.open(raw, 'topic:members')), 'its own copy').to.equal('ok')
      expect(reasonOf(a.open(raw, 'topic:members'))).to.equal('replayed')
      expect(reasonOf(b.open(raw, 'topic:members'))).to.equal('ok')
      expect(reasonOf(b.open(raw, 'topic:members'))).to.equal('replayed')
      expect(reasonOf(b.open(raw, 'topic:replication')), 'another topic').to.equal('bad-mac')
    })

    it('an inbox message names only its receiver', () => {
      const {a} = introduced()
      const env = parseEnvelope(a.sealTo(inbox('b'), '{}'))!
      expect(env.to).to.match(/^b=[^,]+$/)
      const toClient = parseEnvelope(a.sealTo({kind: 'client', channel: 'kv:test:reply:x'}, '{}'))!
      expect(toClient.to).to.equal('-')
      expect(toClient.ep).to.equal(a.epoch)
    })

    // Remembered peers are bounded (PEER_EPOCHS_MAX, the quietest makes room), so a broadcast's header
    // stays under HEADER_BYTES_MAX even with the longest ids.
    it('topic messages of a replica that remembers many peers with long ids still open', () => {
      const key = clusterKey(SECRET, CLUSTER)
      const a = replica('a')
      const b = replica('b')
      expect(PEER_EPOCHS_MAX).to.be.lessThan(120) // the rest are not remembered, so headers stay bounded
      for (let i = 0; i < 120; i++) {
        const id = `${String(i).padStart(3, '0')}${'p'.repeat(61)}`
        a.open(seal(key, 'node:a', {from: id, inc: 'i', seq: 0, ep: 'e'.repeat(32), to: ''}, '{}'), 'node:a')
      }
      send(b, a, 'a') // a learns b
      const raw = a.sealTo(topic, '{}')
      expect(reasonOf(b.open(raw, 'topic:members'))).to.equal('ok')
    })
  })

  describe('stored values', () => {
    it('openValue returns the body of a value sealed for the same label, by any replica of the cluster', () => {
      const a = replica('a')
      const b = replica('b')
      const sealed = a.sealValue(hintLabel('b'), '{"type":"repl"}')
      expect(b.openValue(sealed, hintLabel('b'))?.toString()).to.equal('{"type":"repl"}')
      // values carry no freshness: opening twice is fine (replaying a hint is harmless by design)
      expect(b.openValue(sealed, hintLabel('b'))?.toString()).to.equal('{"type":"repl"}')
      expect(b.rejected).to.deep.equal({'no-mac': 0, 'bad-mac': 0, stale: 0, replayed: 0})
    })

    it('openValue refuses a wrong label, a wrong key and a plain value, counting each', () => {
      const a = replica('a')
      const b = replica('b')
      const sealed = a.sealValue(hintLabel('b'), '{}')
      expect(b.openValue(sealed, hintLabel('c')), "moved to c's queue").to.equal(null)
      expect(b.openValue(sealed, presenceLabel('b'))).to.equal(null)
      const wrong = replica('a', [WRONG_SECRET]).sealValue(hintLabel('b'), '{}')
      expect(b.openValue(wrong, hintLabel('b'))).to.equal(null)
      expect(b.openValue('{"type":"repl"}', hintLabel('b'))).to.equal(null)
      expect(b.rejected).to.deep.equal({'no-mac': 1, 'bad-mac': 3, stale: 0, replayed: 0})
    })

    it('a value is not a message: it names no receiver epoch, so open() refuses it as stale', () => {
      const a = replica('a')
      const b = replica('b')
      const sealed = a.sealValue('node:b', '{}')
      expect(parseEnvelope(sealed)!.to).to.equal('-')
      expect(reasonOf(b.open(sealed, 'node:b'))).to.equal('stale')
    })
  })

  describe('values for clients (presence, registry) and openStored', () => {
    const clientWith = (secrets: Buffer[]): ClientAuth => new ClientAuth(new KeyRing(secrets, CLUSTER), 'cli', 'i')

    it('a presence sealed for every key of the ring opens for a client holding either secret, with the epoch', () => {
      const b = replica('b', [SECRET, OLD_SECRET])
      const presence = b.sealForClients(presenceLabel('b'), '{"alive":true}')
      expect(presence.split('\n')).to.have.length(2)
      for (const secrets of [[SECRET], [OLD_SECRET], [OLD_SECRET, SECRET]]) {
        const opened = openStored(clientWith(secrets), presence, presenceLabel('b'), CLUSTER)
        expect(opened).to.deep.equal({body: '{"alive":true}', ep: b.epoch})
      }
      expect(() => openStored(clientWith(secretsOf('wrong')), presence, presenceLabel('b'), CLUSTER)).to.throw(
        /does not accept this client's secret/,
      )
      // bound to its key: b's presence is not c's, nor b's registry entry
      expect(() => openStored(clientWith([SECRET]), presence, presenceLabel('c'), CLUSTER)).to.throw(/UNAUTH|secret/)
      expect(() => openStored(clientWith([SECRET]), presence, registryLabel('b'), CLUSTER)).to.throw(/secret/)
    })

    it('openStored: UNAUTHENTICATED when exactly one side has a secret; plain values pass without one', () => {
      const b = replica('b')
      const sealed = b.sealForClients(presenceLabel('b'), '{}')
      const code = (fn: () => unknown): string | undefined => {
        try {
          fn()
        } catch (error) {
          return (error as {code?: string}).code
        }
        return undefined
      }
      expect(code(() => openStored(null, sealed, presenceLabel('b'), CLUSTER))).to.equal('UNAUTHENTICATED')
      expect(() => openStored(null, sealed, presenceLabel('b'), CLUSTER)).to.throw(/requires a secret/)
      expect(code(() => openStored(clientWith([SECRET]), '{}', presenceLabel('b'), CLUSTER))).to.equal(
        'UNAUTHENTICATED',
      )
      expect(() => openStored(clientWith([SECRET]), '{}', presenceLabel('b'), CLUSTER)).to.throw(/without a secret/)
      expect(openStored(null, '{"plain":1}', presenceLabel('b'), CLUSTER)).to.deep.equal({
        body: '{"plain":1}',
        ep: null,
      })
    })
  })

  describe('key rotation', () => {
    const signedWith = (raw: string, key: ClusterKey): boolean => parseEnvelope(raw)?.kid === key.id

    it('a ring of [new, old] signs with new and accepts messages signed with either', () => {
      const both = replica('b', [SECRET, OLD_SECRET])
      const newOnly = replica('a', [SECRET])
      const oldOnly = replica('c', [OLD_SECRET])
      const newKey = clusterKey(SECRET, CLUSTER)
      const oldKey = clusterKey(OLD_SECRET, CLUSTER)
      expect(signedWith(both.sealTo(inbox('a'), '{}'), newKey)).to.equal(true)
      expect(signedWith(both.sealValue(hintLabel('a'), '{}'), newKey)).to.equal(true)
      // bootstrap both senders (stale, but MAC-valid under either key)
      expect(reasonOf(send(newOnly, both, 'b').got)).to.equal('stale')
      expect(reasonOf(send(oldOnly, both, 'b').got)).to.equal('stale')
      expect(both.rejected['bad-mac']).to.equal(0)
      // b now names their epochs; what it sends is signed with the new key only:
      expect(reasonOf(send(both, newOnly, 'a').got), 'new-only opens what b signs').to.equal('ok')
      expect(reasonOf(send(both, oldOnly, 'c').got), 'old-only cannot: b signs with new').to.equal('bad-mac')
      expect(reasonOf(send(newOnly, both, 'b').got)).to.equal('ok')
      // old-only never learned b's epoch, so its messages stay stale, but they are authentic
      expect(reasonOf(send(oldOnly, both, 'b').got)).to.equal('stale')
      const msg = seal(
        oldKey,
        'node:b',
        {from: 'c', inc: 'direct', seq: 0, ep: 'ec', to: encodeStamps([['b', both.epoch]])},
        '{}',
      )
      expect(reasonOf(both.open(msg, 'node:b')), 'signed with the old key, naming the right epoch').to.equal('ok')
      expect(both.rejected['bad-mac']).to.equal(0)
    })

    it('a ring holding only the old secret refuses messages signed with the new one', () => {
      const oldOnly = replica('c', [OLD_SECRET])
      const newKey = clusterKey(SECRET, CLUSTER)
      const msg = seal(
        newKey,
        'node:c',
        {from: 'b', inc: 'i', seq: 0, ep: 'eb', to: encodeStamps([['c', oldOnly.epoch]])},
        '{}',
      )
      expect(reasonOf(oldOnly.open(msg, 'node:c'))).to.equal('bad-mac')
      expect(oldOnly.openValue(replica('b', [SECRET, OLD_SECRET]).sealValue('key:x', '{}'), 'key:x')).to.equal(null)
    })
  })
})
