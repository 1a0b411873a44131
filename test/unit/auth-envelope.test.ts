/**
 * The signed envelope (src/auth/envelope.ts) and the cluster keys (src/auth/keys.ts): a sealed message
 * parses back to what was sealed and verifies; any change to it, to the channel label it is opened
 * for, to the cluster name or to the secret makes verification fail; malformed headers parse to null
 * and never throw; stampFor matches ids exactly.
 */
import {expect} from 'chai'
import {
  ENVELOPE_VERSION,
  type Envelope,
  HEADER_BYTES_MAX,
  type SealFields,
  encodeStamps,
  looksSealed,
  parseEnvelope,
  seal,
  stampFor,
  verifyTag,
} from '../../src/auth/envelope.js'
import {KeyRing, clusterKey} from '../../src/auth/keys.js'

const SECRET = Buffer.from('a-cluster-secret-of-at-least-32-bytes-long!!', 'utf8')
const OTHER_SECRET = Buffer.from('another-cluster-secret-of-32-bytes-or-more!!', 'utf8')
const KEY = clusterKey(SECRET, 'prod')
const LABEL = 'node:n1'
const FIELDS: SealFields = {from: 'n2', inc: 'inc-A_1', seq: 42, ep: 'epN2', to: 'n1=epN1,n3=epN3'}

/** Parses and verifies, never throwing: true only for a message `key` sealed for `label`. */
function verifies(raw: Buffer | string, label = LABEL, key = KEY): boolean {
  const env = parseEnvelope(raw)
  return env !== null && verifyTag(key, label, env)
}

function parsed(raw: Buffer | string): Envelope {
  const env = parseEnvelope(raw)
  expect(env, `parseEnvelope(${String(raw).slice(0, 80)})`).to.not.equal(null)
  return env!
}

describe('auth envelope', () => {
  describe('seal / parse / verify', () => {
    const bodies: [string, string][] = [
      ['ASCII JSON', JSON.stringify({type: 'client.put', key: 'k', value: 'v'})],
      ['multi-byte UTF-8', JSON.stringify({key: 'clé', value: 'naïve 日本語 🎉'})],
      ['a body holding the separator', JSON.stringify({key: 'a|b', value: '||k1|x|y|'})],
      ['an empty body', ''],
    ]
    for (const [what, body] of bodies) {
      it(`round-trips ${what}, from a string and from a Buffer`, () => {
        const wire = seal(KEY, LABEL, FIELDS, body)
        for (const raw of [wire, Buffer.from(wire, 'utf8')]) {
          expect(looksSealed(raw)).to.equal(true)
          const env = parsed(raw)
          expect(env.kid).to.equal(KEY.id)
          expect(env.from).to.equal('n2')
          expect(env.inc).to.equal('inc-A_1')
          expect(env.seq).to.equal(42)
          expect(env.ep).to.equal('epN2')
          expect(env.to).to.equal('n1=epN1,n3=epN3')
          expect(env.tag).to.have.length(32)
          expect(env.body.toString('utf8')).to.equal(body)
          expect(verifyTag(KEY, LABEL, env)).to.equal(true)
        }
      })
    }

    it('writes "-" for a client (no epoch) and for no stamps, and parses them back as null and "-"', () => {
      const wire = seal(KEY, LABEL, {from: 'cli', inc: 'i', seq: 0, ep: null, to: ''}, '{}')
      expect(wire.startsWith(`${ENVELOPE_VERSION}|${KEY.id}|cli|i|0|-|-|`)).to.equal(true)
      const env = parsed(wire)
      expect(env.ep).to.equal(null)
      expect(env.to).to.equal('-')
      expect(stampFor(env.to, 'n1')).to.equal(null)
      expect(verifies(wire)).to.equal(true)
    })

    it('is deterministic: the same key, label, fields and body give the same wire string', () => {
      expect(seal(KEY, LABEL, FIELDS, 'x')).to.equal(seal(KEY, LABEL, FIELDS, 'x'))
      expect(seal(KEY, LABEL, {...FIELDS, seq: 43}, 'x')).to.not.equal(seal(KEY, LABEL, FIELDS, 'x'))
    })
  })

  describe('tampering', () => {
    const small = seal(KEY, LABEL, {from: 'n2', inc: 'i9', seq: 7, ep: 'e2', to: 'n1=e1'}, '{"v":"a|é"}')
    const bytes = Buffer.from(small, 'utf8')
    const tagStart = small.indexOf('|', small.indexOf('n1=e1')) + 1
    const tagEnd = tagStart + 43

    it('refuses every single-byte change to the header and the body (every position, every other value)', () => {
      let tried = 0
      for (let i = 0; i < bytes.length; i++) {
        if (i >= tagStart && i < tagEnd) continue // the tag: next test
        for (let v = 0; v < 256; v++) {
          if (v === bytes[i]) continue
          const changed = Buffer.from(bytes)
          changed[i] = v
          tried++
          expect(verifies(changed), `byte ${i} ${bytes[i]} -> ${v}`).to.equal(false)
        }
      }
      expect(tried).to.equal((bytes.length - 43) * 255)
    })

    it('refuses every single-byte change to the tag that changes the tag bytes', () => {
      const tag = parsed(bytes).tag
      for (let i = tagStart; i < tagEnd; i++) {
        for (let v = 0; v < 256; v++) {
          if (v === bytes[i]) continue
          const changed = Buffer.from(bytes)
          changed[i] = v
          const env = parseEnvelope(changed)
          // Same decoded tag: a non-canonical spelling of it (see the skipped test below).
          if (env !== null && env.tag.equals(tag)) continue
          expect(verifies(changed), `tag byte ${i} ${bytes[i]} -> ${v}`).to.equal(false)
        }
      }
    })

    // Node's base64 decoder also takes '+' and '/' and ignores the two spare bits of the 43rd
    // character; parseEnvelope accepts only the canonical spelling, so a tag is not malleable.
    it('refuses every single-byte change to the tag (no other spelling of a tag verifies)', () => {
      for (let i = tagStart; i < tagEnd; i++) {
        for (let v = 0; v < 256; v++) {
          if (v === bytes[i]) continue
          const changed = Buffer.from(bytes)
          changed[i] = v
          expect(
            verifies(changed),
            `tag byte ${i} ${String.fromCharCode(bytes[i]!)} -> ${String.fromCharCode(v)}`,
          ).to.equal(false)
        }
      }
    })

    it('refuses a message opened for another label (moved to another channel)', () => {
      expect(verifies(small, 'node:n1')).to.equal(true)
      for (const other of ['node:n2', 'node:n10', 'topic:members', 'client:node:n1', 'node:n1 ', '', 'hint:n1']) {
        expect(verifies(small, other), other).to.equal(false)
      }
    })

    it('refuses a label/header boundary shift (the label is delimited from the header)', () => {
      // Label "node:n1" + header "k1|…" must not hash like label "node:n1k" + header "1|…".
      const env = parsed(small)
      expect(verifyTag(KEY, 'node:n1k', {...env, signedHeader: env.signedHeader.subarray(1)})).to.equal(false)
    })

    it("refuses another cluster's key made from the same secret, and a wrong secret", () => {
      const a = clusterKey(SECRET, 'a')
      const b = clusterKey(SECRET, 'b')
      expect(a.id).to.not.equal(b.id)
      expect(a.key.equals(b.key)).to.equal(false)
      const wire = seal(a, LABEL, FIELDS, '{}')
      expect(verifies(wire, LABEL, a)).to.equal(true)
      // b holds the same secret but is another cluster: even if it tries its own key on the message
      expect(verifies(wire, LABEL, b)).to.equal(false)
      expect(verifies(wire, LABEL, clusterKey(OTHER_SECRET, 'a'))).to.equal(false)
      // keys depend on the whole secret and the whole name
      expect(clusterKey(SECRET, 'a').key.equals(a.key)).to.equal(true)
      expect(clusterKey(SECRET, 'a ').key.equals(a.key)).to.equal(false)
    })

    it('a key id names the key and not the secret: 8 base64url characters, different per cluster and secret', () => {
      const ids = new Set([
        clusterKey(SECRET, 'a').id,
        clusterKey(SECRET, 'b').id,
        clusterKey(OTHER_SECRET, 'a').id,
        clusterKey(OTHER_SECRET, 'b').id,
      ])
      expect(ids.size).to.equal(4)
      for (const id of ids) expect(id).to.match(/^[A-Za-z0-9_-]{8}$/)
    })

    it('a KeyRing signs with its first secret and finds every key by id', () => {
      const ring = new KeyRing([OTHER_SECRET, SECRET], 'prod')
      expect(ring.signing.id).to.equal(clusterKey(OTHER_SECRET, 'prod').id)
      expect(ring.find(KEY.id)?.key.equals(KEY.key)).to.equal(true)
      expect(ring.find('nope1234')).to.equal(undefined)
      expect(() => new KeyRing([], 'prod')).to.throw(/at least one secret/)
    })
  })

  describe('malformed headers', () => {
    const good = seal(KEY, LABEL, FIELDS, '{"a":1}')
    const parts = good.split('|') // k1 kid from inc seq ep to tag body
    const withField = (i: number, value: string): string =>
      [...parts.slice(0, i), value, ...parts.slice(i + 1)].join('|')

    const cases: [string, string | Buffer][] = [
      ['an empty message', ''],
      ['plain JSON', '{"type":"client.put"}'],
      ['only the version', 'k1|'],
      ['too few fields', parts.slice(0, 5).join('|')],
      ['seven fields and no tag separator', parts.slice(0, 8).join('|')],
      ['another version', withField(0, 'k2')],
      ['an empty key id', withField(1, '')],
      ['a key id with a bad character', withField(1, 'ab:cd')],
      ['an empty sender', withField(2, '')],
      ['a sender with a space', withField(2, 'n 2')],
      ['a sender of 97 characters', withField(2, 'n'.repeat(97))],
      ['an empty incarnation', withField(3, '')],
      ['a negative seq', withField(4, '-1')],
      ['a fractional seq', withField(4, '1.5')],
      ['a hex seq', withField(4, '0x10')],
      ['an empty seq', withField(4, '')],
      ['a 16-digit seq', withField(4, '1234567890123456')],
      ['a seq with a space', withField(4, ' 1')],
      ['an empty epoch', withField(5, '')],
      ['an epoch with a bad character', withField(5, 'e/p')],
      ['empty stamps', withField(6, '')],
      ['stamps without "="', withField(6, 'n1')],
      ['stamps with an empty epoch', withField(6, 'n1=')],
      ['stamps with a trailing comma', withField(6, 'n1=e,')],
      ['stamps with a double "="', withField(6, 'n1=e=f')],
      ['a stamp epoch of 33 characters', withField(6, `n1=${'e'.repeat(33)}`)],
      ['a tag one character short', withField(7, parts[7]!.slice(1))],
      ['a tag one character long', withField(7, `${parts[7]!}A`)],
      ['an empty tag', withField(7, '')],
      ['a tag with a character outside base64', withField(7, `${parts[7]!.slice(0, 42)}*`)],
      ['a tag with padding inside', withField(7, `${parts[7]!.slice(0, 20)}=${parts[7]!.slice(21)}`)],
      ['an oversized header (stamps)', withField(6, Array.from({length: 1200}, (_, i) => `n${i}=e${i}`).join(','))],
      ['an oversized header with no separator at all', `k1${'x'.repeat(HEADER_BYTES_MAX + 10)}`],
      ['a buffer of zero bytes', Buffer.alloc(100)],
      ['a buffer of random bytes after a valid prefix', Buffer.concat([Buffer.from('k1|'), Buffer.alloc(60, 0xff)])],
    ]
    for (const [what, raw] of cases) {
      it(`gives null for ${what}, and never throws`, () => {
        expect(parseEnvelope(raw)).to.equal(null)
        if (typeof raw === 'string') expect(parseEnvelope(Buffer.from(raw, 'latin1'))).to.equal(null)
      })
    }

    it('the good message the cases were made from does parse (so each case breaks exactly one thing)', () => {
      expect(parts).to.have.length(9)
      expect(verifies(good)).to.equal(true)
      expect(verifies(withField(4, '42'))).to.equal(true)
      // a 15-digit seq is still a header field the parser takes (the MAC then decides)
      expect(parseEnvelope(withField(4, '123456789012345'))?.seq).to.equal(123456789012345)
    })

    it('never throws on thousands of random and truncated inputs', () => {
      let state = 12345
      const rnd = (n: number): number => {
        state = (state * 1103515245 + 12345) & 0x7fffffff
        return state % n
      }
      for (let t = 0; t < 3000; t++) {
        const cut = Buffer.from(good, 'utf8').subarray(0, rnd(good.length + 1))
        const noise = Buffer.from(cut)
        if (noise.length > 0) noise[rnd(noise.length)] = rnd(256)
        for (const raw of [cut, noise]) {
          const env = parseEnvelope(raw)
          if (env !== null) expect(verifyTag(KEY, LABEL, env)).to.be.a('boolean')
        }
      }
    })

    it('looksSealed tells envelopes from plain JSON by the version prefix only', () => {
      expect(looksSealed(good)).to.equal(true)
      expect(looksSealed(Buffer.from(good))).to.equal(true)
      expect(looksSealed('{"type":"x"}')).to.equal(false)
      expect(looksSealed(Buffer.from('{"type":"x"}'))).to.equal(false)
      expect(looksSealed('k2|x')).to.equal(false)
      expect(looksSealed(Buffer.from('k1|'))).to.equal(false) // nothing after the prefix
      expect(looksSealed('')).to.equal(false)
    })
  })

  describe('stamps', () => {
    it('stampFor finds ids exactly: n1 is not n10, n11 or xn1', () => {
      const to = encodeStamps([
        ['n10', 'ten'],
        ['xn1', 'xone'],
        ['n11', 'eleven'],
        ['n1', 'one'],
        ['n', 'bare'],
      ])
      expect(to).to.equal('n10=ten,xn1=xone,n11=eleven,n1=one,n=bare')
      expect(stampFor(to, 'n1')).to.equal('one')
      expect(stampFor(to, 'n10')).to.equal('ten')
      expect(stampFor(to, 'n11')).to.equal('eleven')
      expect(stampFor(to, 'xn1')).to.equal('xone')
      expect(stampFor(to, 'n')).to.equal('bare')
      expect(stampFor(to, 'n2')).to.equal(null)
      expect(stampFor(to, 'n100')).to.equal(null)
      expect(stampFor(to, '1')).to.equal(null)
      // an id that is only a prefix of every entry is absent
      expect(stampFor('n10=a,n11=b', 'n1')).to.equal(null)
      expect(stampFor('n10=a', 'n1')).to.equal(null)
    })

    it('stampFor reads a single stamp, the first and the last, and "-" as none', () => {
      expect(stampFor('n1=a', 'n1')).to.equal('a')
      expect(stampFor('n1=a,n2=b,n3=c', 'n1')).to.equal('a')
      expect(stampFor('n1=a,n2=b,n3=c', 'n3')).to.equal('c')
      expect(stampFor('-', 'n1')).to.equal(null)
      expect(encodeStamps([])).to.equal('')
    })

    it('a stamp for one receiver is covered by the MAC: rewriting it to another epoch fails', () => {
      const wire = seal(KEY, LABEL, {...FIELDS, to: 'n1=old'}, '{}')
      const rewritten = wire.replace('n1=old', 'n1=new')
      expect(parseEnvelope(rewritten)).to.not.equal(null)
      expect(verifies(rewritten)).to.equal(false)
    })
  })

  describe('verifyTag', () => {
    it('compares the whole tag: a change in its first or last byte fails, a copy of the right tag passes', () => {
      const env = parsed(seal(KEY, LABEL, FIELDS, '{}'))
      for (const at of [0, 15, 31]) {
        const tag = Buffer.from(env.tag)
        tag[at] = (tag[at]! ^ 0x01) & 0xff
        expect(verifyTag(KEY, LABEL, {...env, tag}), `byte ${at}`).to.equal(false)
      }
      expect(verifyTag(KEY, LABEL, {...env, tag: Buffer.from(env.tag)})).to.equal(true)
    })

    it('covers the body: the same header with another body fails', () => {
      const env = parsed(seal(KEY, LABEL, FIELDS, '{"v":1}'))
      expect(verifyTag(KEY, LABEL, {...env, body: Buffer.from('{"v":2}')})).to.equal(false)
      expect(verifyTag(KEY, LABEL, {...env, body: Buffer.from('{"v":1} ')})).to.equal(false)
    })
  })
})
