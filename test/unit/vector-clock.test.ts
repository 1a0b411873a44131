/**
 * Proves the vector-clock algebra the eventual mode relies on: mergeClocks is a join (commutative,
 * associative, idempotent), compareClocks is the partial order that join induces (a ≤ b iff
 * a ⊔ b = b, and swapping the arguments mirrors the answer), results are canonical (sorted keys, no
 * zeros, even for ids like `__proto__` or `10`), and isValidClock refuses garbage from the wire.
 * How: fast-check properties over clocks on a small id alphabet (n1..n4, so entries collide and
 * concurrency is common), plus unit cases for the corner ids and the malformed inputs.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import type {Clock, ClockOrder} from '../../src/eventual/types.js'
import {
  CLOCK_ENTRIES_MAX,
  clockGet,
  clockToCanonicalJson,
  clockWith,
  compareClocks,
  covers,
  incrementClock,
  isValidClock,
  mergeClocks,
  normalizeClock,
} from '../../src/eventual/vector-clock.js'

const IDS = ['n1', 'n2', 'n3', 'n4'] as const
const RUNS = {numRuns: 200}

/** Clocks over n1..n4 with counters 0..4 (zeros dropped, as stored clocks have none). */
const clockArb: fc.Arbitrary<Clock> = fc
  .tuple(fc.nat(4), fc.nat(4), fc.nat(4), fc.nat(4))
  .map((ns) =>
    Object.fromEntries(IDS.map((id, i): [string, number] => [id, ns[i] as number]).filter(([, n]) => n !== 0)),
  )

const mirror: Record<ClockOrder, ClockOrder> = {
  before: 'after',
  after: 'before',
  equal: 'equal',
  concurrent: 'concurrent',
}

function isCanonical(c: Clock): boolean {
  const keys = Object.keys(c)
  const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return keys.every((k, i) => k === sorted[i] && (c[k] as number) > 0)
}

describe('vector-clock: merge is a join', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        expect(mergeClocks(a, b)).to.deep.equal(mergeClocks(b, a))
      }),
      RUNS,
    )
  })

  it('is associative', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        expect(mergeClocks(mergeClocks(a, b), c)).to.deep.equal(mergeClocks(a, mergeClocks(b, c)))
      }),
      RUNS,
    )
  })

  it('is idempotent and the pointwise maximum', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        expect(mergeClocks(a, a)).to.deep.equal(normalizeClock(a))
        const m = mergeClocks(a, b)
        for (const id of IDS) expect(clockGet(m, id)).to.equal(Math.max(clockGet(a, id), clockGet(b, id)))
        expect(isCanonical(m)).to.equal(true)
        expect(Object.isFrozen(m)).to.equal(true)
      }),
      RUNS,
    )
  })
})

describe('vector-clock: compare is the order the join induces', () => {
  it('a before-or-equal b iff merge(a, b) equals b', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const order = compareClocks(a, b)
        const below = clockToCanonicalJson(mergeClocks(a, b)) === clockToCanonicalJson(b)
        expect(order === 'before' || order === 'equal').to.equal(below)
        expect(order === 'equal').to.equal(clockToCanonicalJson(a) === clockToCanonicalJson(b))
      }),
      RUNS,
    )
  })

  it('is antisymmetric: compare(b, a) mirrors compare(a, b)', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        expect(compareClocks(b, a)).to.equal(mirror[compareClocks(a, b)])
      }),
      RUNS,
    )
  })

  it('finds each of the four orders on hand-made clocks', () => {
    expect(compareClocks({n1: 1}, {n1: 2})).to.equal('before')
    expect(compareClocks({n1: 2, n2: 1}, {n1: 2})).to.equal('after')
    expect(compareClocks({}, {})).to.equal('equal')
    expect(compareClocks({n1: 1}, {n2: 1})).to.equal('concurrent')
  })
})

describe('vector-clock: increment, covers, clockWith, normalize', () => {
  it('incrementClock raises exactly one entry by one', () => {
    fc.assert(
      fc.property(clockArb, fc.constantFrom(...IDS), (c, id) => {
        const next = incrementClock(c, id)
        for (const other of IDS) {
          expect(clockGet(next, other)).to.equal(clockGet(c, other) + (other === id ? 1 : 0))
        }
        expect(compareClocks(c, next)).to.equal('before')
      }),
      RUNS,
    )
  })

  it('covers(c, dot) iff clockWith(c, dot) equals c', () => {
    fc.assert(
      fc.property(clockArb, fc.constantFrom(...IDS), fc.integer({min: 1, max: 5}), (c, node, counter) => {
        const dot = {node, counter}
        expect(covers(c, dot)).to.equal(clockGet(c, node) >= counter)
        expect(covers(c, dot)).to.equal(compareClocks(clockWith(c, dot), c) === 'equal')
        expect(covers(clockWith(c, dot), dot)).to.equal(true)
      }),
      RUNS,
    )
  })

  it('normalizeClock drops zeros and sorts keys, and does not mutate its input', () => {
    const input = {n3: 2, n1: 0, n2: 5}
    const out = normalizeClock(input)
    expect(Object.keys(out)).to.deep.equal(['n2', 'n3'])
    expect(input).to.deep.equal({n3: 2, n1: 0, n2: 5})
  })

  it('reads ids that shadow Object.prototype as absent, and stores __proto__ as a plain entry', () => {
    expect(covers({}, {node: 'constructor', counter: 1})).to.equal(false)
    expect(covers({}, {node: 'toString', counter: 1})).to.equal(false)
    const c = incrementClock({}, '__proto__')
    expect(Object.getPrototypeOf(c)).to.equal(Object.prototype)
    expect(Object.keys(c)).to.deep.equal(['__proto__'])
    expect(clockGet(c, '__proto__')).to.equal(1)
    expect(compareClocks(c, {})).to.equal('after')
    const parsed = JSON.parse('{"__proto__": 3, "constructor": 2}') as Clock
    expect(isValidClock(parsed)).to.equal(true)
    expect(clockToCanonicalJson(mergeClocks(parsed, c))).to.equal('{"__proto__":3,"constructor":2}')
  })

  it('gives canonical JSON in string order even for integer-like ids', () => {
    const c = mergeClocks({a: 1, '10': 2}, {'9': 3})
    expect(clockToCanonicalJson(c)).to.equal('{"10":2,"9":3,"a":1}')
    expect(clockToCanonicalJson({'9': 3, a: 1, '10': 2})).to.equal(clockToCanonicalJson(c))
  })
})

describe('vector-clock: isValidClock refuses untrusted garbage', () => {
  it('accepts well-formed clocks (including the empty one)', () => {
    fc.assert(
      fc.property(clockArb, (c) => {
        expect(isValidClock(c)).to.equal(true)
        expect(isValidClock(JSON.parse(JSON.stringify(c)))).to.equal(true)
      }),
      RUNS,
    )
    expect(isValidClock(Object.fromEntries(Array.from({length: CLOCK_ENTRIES_MAX}, (_, i) => [`n${i}`, 1])))).to.equal(
      true,
    )
  })

  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['undefined', undefined],
    ['a number', 3],
    ['a string', '{"n1":1}'],
    ['an array', [1, 2]],
    ['a Map', new Map([['n1', 1]])],
    [
      'a class instance',
      new (class {
        n1 = 1
      })(),
    ],
    ['a zero counter', {n1: 0}],
    ['a negative counter', {n1: -1}],
    ['a fractional counter', {n1: 1.5}],
    ['NaN', {n1: NaN}],
    ['Infinity', {n1: Infinity}],
    ['an unsafe integer', {n1: 2 ** 53}],
    ['a string counter', {n1: '1'}],
    ['a null counter', {n1: null}],
    ['a nested object', {n1: {n: 1}}],
    ['an empty id', {'': 1}],
    ['an id with a colon', {'a:b': 1}],
    ['an id with a space', {'a b': 1}],
    ['an id too long', {['x'.repeat(65)]: 1}],
    ['too many entries', Object.fromEntries(Array.from({length: CLOCK_ENTRIES_MAX + 1}, (_, i) => [`n${i}`, 1]))],
    ['a getter', Object.defineProperty({}, 'n1', {get: () => 1, enumerable: true})],
    ['a hidden property', Object.defineProperty({}, 'n1', {value: 1, enumerable: false})],
    ['a symbol key', {[Symbol('n1')]: 1}],
  ]
  for (const [what, x] of bad) {
    it(`refuses ${what}`, () => {
      expect(isValidClock(x)).to.equal(false)
    })
  }
})
