/**
 * Proves the two deterministic utilities the cores share: hashString is a stable 64-bit digest (fixed
 * outputs pinned, 16 hex chars, no collisions across many distinct short strings, sensitive to every
 * code unit), hashToBucket stays in range and spreads keys, xorHex is an order-independent digest
 * combiner; Rng gives the same sequence for the same seed, different ones for different seeds, and
 * int/pick/shuffle/fork stay in range and deterministic.
 * How: pinned vectors, fast-check properties, and simple counting over a few thousand draws with
 * loose bounds (they fail on a broken generator, not on chance).
 */
import {expect} from 'chai'
import fc from 'fast-check'
import {ZERO_HASH, hashString, hashToBucket, xorHex} from '../../src/core/hash.js'
import {Rng} from '../../src/core/rng.js'

const RUNS = {numRuns: 200}
/** Any UTF-16 code unit, lone surrogates included (what the hash actually reads). */
const codeUnitString = fc.string({unit: fc.nat(0xffff).map((c) => String.fromCharCode(c))})
const HEX64 = /^[0-9a-f]{16}$/
/** hashString of '', 'a', 'key-1', 'é😀'; the low 53 bits are cyrb53 of the same strings. */
const PINNED = ['488bdcb81aee8d83', '501c2ba782c97901', '7651efe2beb28960', '82016db748ff104e']
/** The first four nextUint32() of new Rng(42). */
const PINNED_RNG = [3722252454, 3800487058, 3344289838, 3092322660]

describe('hashString', () => {
  it('is 16 lowercase hex chars and pure', () => {
    fc.assert(
      fc.property(codeUnitString, (s) => {
        expect(hashString(s)).to.match(HEX64)
        expect(hashString(s)).to.equal(hashString(s))
      }),
      RUNS,
    )
  })

  it('is pinned to fixed values, so digests agree across versions and platforms', () => {
    const pinned = ['', 'a', 'key-1', '\u00e9\ud83d\ude00'].map(hashString)
    expect(pinned).to.deep.equal(PINNED)
  })

  it('has no collisions among 20 000 similar keys and differs when one code unit changes', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 20_000; i++) seen.add(hashString(`key-${i}`))
    expect(seen.size).to.equal(20_000)
    fc.assert(
      fc.property(fc.string({minLength: 1}), fc.nat(), (s, at) => {
        const i = at % s.length
        const t = s.slice(0, i) + String.fromCharCode((s.charCodeAt(i) + 1) & 0xffff) + s.slice(i + 1)
        expect(hashString(t)).to.not.equal(hashString(s))
        expect(hashString(s + '\u0000')).to.not.equal(hashString(s))
      }),
      RUNS,
    )
  })

  it('uses both halves: each 32-bit half alone is collision-free on the sample', () => {
    const hi = new Set<string>()
    const lo = new Set<string>()
    for (let i = 0; i < 5_000; i++) {
      const h = hashString(`k${i}`)
      hi.add(h.slice(0, 8))
      lo.add(h.slice(8))
    }
    expect(hi.size).to.equal(5_000)
    expect(lo.size).to.equal(5_000)
  })
})

describe('hashToBucket', () => {
  it('stays in [0, buckets) and agrees with itself', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({min: 1, max: 2 ** 32}), (key, buckets) => {
        const b = hashToBucket(key, buckets)
        expect(Number.isInteger(b) && b >= 0 && b < buckets).to.equal(true)
        expect(hashToBucket(key, buckets)).to.equal(b)
      }),
      RUNS,
    )
  })

  it('spreads 16 000 keys over 16 buckets within ±15% of even', () => {
    const counts = new Array<number>(16).fill(0)
    for (let i = 0; i < 16_000; i++) counts[hashToBucket(`user:${i}`, 16)]!++
    for (const c of counts) expect(c).to.be.within(850, 1150)
  })

  it('uses the high bits too: 2 000 keys over 2^20 buckets barely collide', () => {
    const used = new Set<number>()
    for (let i = 0; i < 2_000; i++) used.add(hashToBucket(`user:${i}`, 2 ** 20))
    expect(used.size).to.be.at.least(1_990) // about 2 collisions expected
  })

  it('refuses a bucket count that is not a positive integer', () => {
    expect(() => hashToBucket('k', 0)).to.throw(/invariant/)
    expect(() => hashToBucket('k', 1.5)).to.throw(/invariant/)
  })
})

describe('xorHex', () => {
  const hexArb = fc.string({unit: fc.nat(15).map((n) => n.toString(16)), minLength: 16, maxLength: 16})

  it('is commutative, associative, self-inverse, with ZERO_HASH as identity', () => {
    fc.assert(
      fc.property(hexArb, hexArb, hexArb, (a, b, c) => {
        expect(xorHex(a, b)).to.equal(xorHex(b, a))
        expect(xorHex(xorHex(a, b), c)).to.equal(xorHex(a, xorHex(b, c)))
        expect(xorHex(xorHex(a, b), b)).to.equal(a)
        expect(xorHex(a, ZERO_HASH)).to.equal(a)
        expect(xorHex(a, a)).to.equal(ZERO_HASH)
      }),
      RUNS,
    )
  })

  it('xors bit by bit across both halves', () => {
    expect(xorHex('ffffffff00000000', '0f0f0f0ff0f0f0f0')).to.equal('f0f0f0f0f0f0f0f0')
    expect(xorHex('8000000000000001', '8000000000000001')).to.equal(ZERO_HASH)
  })

  it('gives the same set digest whatever order the keys are folded in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), {maxLength: 20}), fc.nat(), (keys, seed) => {
        const fold = (ks: string[]): string => ks.reduce((d, k) => xorHex(d, hashString(k)), ZERO_HASH)
        expect(fold(new Rng(seed).shuffle([...keys]))).to.equal(fold(keys))
      }),
      RUNS,
    )
  })

  it('refuses inputs that are not 16 lowercase hex chars', () => {
    expect(() => xorHex('abc', ZERO_HASH)).to.throw(/invariant/)
    expect(() => xorHex('ABCDEF0123456789', ZERO_HASH)).to.throw(/invariant/)
    expect(() => xorHex(ZERO_HASH, 'g000000000000000')).to.throw(/invariant/)
  })
})

describe('Rng', () => {
  const draw = (seed: number, n: number): number[] => {
    const r = new Rng(seed)
    return Array.from({length: n}, () => r.next())
  }

  it('gives the same sequence for the same seed and different ones for different seeds', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger(), (seed) => {
        expect(draw(seed, 20)).to.deep.equal(draw(seed, 20))
        expect(draw(seed, 20)).to.not.deep.equal(draw(seed === Number.MAX_SAFE_INTEGER ? seed - 1 : seed + 1, 20))
      }),
      RUNS,
    )
    // All 53 bits count: seeds that agree in their low or high 32 bits still give different streams.
    expect(draw(1, 8)).to.not.deep.equal(draw(2 ** 32 + 1, 8))
    expect(draw(2 ** 32, 8)).to.not.deep.equal(draw(2 ** 33, 8))
    expect(draw(-1, 8)).to.not.deep.equal(draw(2 ** 32 - 1, 8))
  })

  it('is pinned, so a printed seed replays the same run after a refactor', () => {
    const r = new Rng(42)
    expect(Array.from({length: 4}, () => r.nextUint32())).to.deep.equal(PINNED_RNG)
  })

  it('next() is in [0, 1) and roughly uniform', () => {
    const r = new Rng(7)
    const halves = [0, 0]
    for (let i = 0; i < 10_000; i++) {
      const x = r.next()
      expect(x >= 0 && x < 1).to.equal(true)
      halves[x < 0.5 ? 0 : 1]!++
    }
    expect(halves[0]).to.be.within(4_700, 5_300)
  })

  it('int(n) is an integer in [0, n) and hits every value of a small range', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({min: 1, max: 2 ** 32}), (seed, n) => {
        const r = new Rng(seed)
        for (let i = 0; i < 20; i++) {
          const x = r.int(n)
          expect(Number.isInteger(x) && x >= 0 && x < n).to.equal(true)
        }
      }),
      RUNS,
    )
    const r = new Rng(3)
    const hits = new Set<number>()
    for (let i = 0; i < 500; i++) hits.add(r.int(6))
    expect([...hits].sort()).to.deep.equal([0, 1, 2, 3, 4, 5])
    expect(() => r.int(0)).to.throw(/invariant/)
    expect(() => r.int(2.5)).to.throw(/invariant/)
  })

  it('pick returns an element, shuffle permutes in place, both deterministic', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer(), {minLength: 1, maxLength: 30}), (seed, xs) => {
        expect(xs).to.include(new Rng(seed).pick(xs))
        const copy = [...xs]
        const out = new Rng(seed).shuffle(copy)
        expect(out).to.equal(copy)
        expect([...out].sort((a, b) => a - b)).to.deep.equal([...xs].sort((a, b) => a - b))
        expect(new Rng(seed).shuffle([...xs])).to.deep.equal(out)
      }),
      RUNS,
    )
    expect(() => new Rng(1).pick([])).to.throw(/invariant/)
  })

  it('shuffle reaches every permutation of three elements, each about equally often', () => {
    const r = new Rng(5)
    const counts = new Map<string, number>()
    for (let i = 0; i < 6_000; i++) {
      const key = r.shuffle([0, 1, 2]).join('')
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    expect([...counts.keys()].sort()).to.deep.equal(['012', '021', '102', '120', '201', '210'])
    for (const c of counts.values()) expect(c).to.be.within(850, 1150)
  })

  it('fork gives a deterministic stream independent of the parent', () => {
    const a = new Rng(99)
    const b = new Rng(99)
    const fa = a.fork()
    const fb = b.fork()
    const xs = Array.from({length: 10}, () => fa.next())
    expect(xs).to.deep.equal(Array.from({length: 10}, () => fb.next()))
    // The child drew 10 numbers from its own state; the parents are still in step with each other...
    const ys = Array.from({length: 10}, () => a.next())
    expect(ys).to.deep.equal(Array.from({length: 10}, () => b.next()))
    // ...and the child's stream is not the parent's.
    expect(xs).to.not.deep.equal(ys)
  })

  it('refuses a seed that is not a safe integer', () => {
    expect(() => new Rng(NaN)).to.throw(/invariant/)
    expect(() => new Rng(0.5)).to.throw(/invariant/)
  })
})
