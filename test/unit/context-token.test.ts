/**
 * The eventual context token: a clock that round-trips exactly, bound to the key it was read from
 * (a token from another key is refused, since dot coverage means nothing across keys), and anything
 * else (garbage, old formats, extra fields, oversized) is malformed rather than an exception.
 */
import {expect} from 'chai'
import {decodeContext, encodeContext} from '../../src/eventual/context-token.js'

describe('context tokens', () => {
  it('round-trip a clock for the same key, zero entries dropped', () => {
    const t = encodeContext('k', {n1: 3, n2: 0, n5: 1})
    expect(decodeContext(t, 'k')).to.deep.equal({ok: true, clock: {n1: 3, n5: 1}})
  })

  it('refuse a token read from another key', () => {
    expect(decodeContext(encodeContext('a', {n1: 1}), 'b')).to.deep.equal({ok: false, reason: 'other-key'})
  })

  it('call garbage, old c1 tokens, extra fields and oversized tokens malformed', () => {
    const forged = (x: unknown) => 'c2.' + btoa(JSON.stringify(x)).replace(/=+$/, '')
    for (const t of [
      '',
      'x',
      'c2.',
      'c2.!!!',
      'c1.eyJuMSI6MX0',
      forged({c: {n1: 1}}),
      forged({k: 1, c: {}}),
      forged({k: 'x', c: {n1: -1}}),
      forged({k: 'x', c: {}, z: 1}),
      'c2.' + 'A'.repeat(70_000),
    ]) {
      expect(decodeContext(t, 'k'), t.slice(0, 40)).to.deep.equal({ok: false, reason: 'malformed'})
    }
  })
})
