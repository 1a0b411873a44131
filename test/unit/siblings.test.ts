/**
 * Proves the dotted-version sibling rules: mergeSiblings is a join on honest states (commutative,
 * associative, idempotent, compared through canonicalSiblings) whose results are sorted and pairwise
 * concurrent; writeVersion supersedes exactly what its context covers and bumps the coordinator's
 * entry by one; and the sibling count never exceeds the truly concurrent writes. isValidSiblings
 * accepts every honest state and refuses malformed or inconsistent ones.
 * How: fast-check generates histories on four replicas n1..n4 (writes and deletes with no context,
 * with the current context, or with a stale context read from an old snapshot of any replica;
 * one-way merges between replicas), then checks the laws on the states the history produced and
 * compares the fully merged end state with an oracle computed from every write's own ctx.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import type {Clock, Siblings, Version} from '../../src/eventual/types.js'
import {
  SIBLINGS_WIRE_MAX,
  canonicalSiblings,
  contextOf,
  isFound,
  isValidSiblings,
  liveValues,
  mergeSiblings,
  sameSiblings,
  supersedes,
  versionClock,
  writeVersion,
} from '../../src/eventual/siblings.js'
import {clockGet, covers} from '../../src/eventual/vector-clock.js'

const IDS = ['n1', 'n2', 'n3', 'n4'] as const
const RUNS = {numRuns: 200}

type Read = null | {replica: number; back: number}
type Cmd = {kind: 'write'; at: number; value: string | null; read: Read} | {kind: 'sync'; from: number; to: number}

const replicaArb = fc.nat(IDS.length - 1)
const valueArb = fc.option(fc.constantFrom('a', 'b', 'c'), {nil: null, freq: 5})
const readArb: fc.Arbitrary<Read> = fc.option(fc.record({replica: replicaArb, back: fc.nat(6)}), {nil: null})
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({kind: fc.constant('write' as const), at: replicaArb, value: valueArb, read: readArb}),
  fc.record({kind: fc.constant('sync' as const), from: replicaArb, to: replicaArb}),
)
// size 'max': without it fast-check keeps arrays near 5 commands, too short for much concurrency.
const historyArb = fc.array(cmdArb, {minLength: 1, maxLength: 40, size: 'max'})

interface Run {
  states: Siblings[]
  /** Every state each replica has been in, oldest first: stale reads come from here. */
  snapshots: Siblings[][]
  writes: Version[]
}

function contextFor(run: Run, read: Read): Clock | undefined {
  if (read === null) return undefined
  const past = run.snapshots[read.replica] as Siblings[]
  return contextOf(past[Math.max(0, past.length - 1 - read.back)] as Siblings)
}

function play(cmds: readonly Cmd[]): Run {
  const run: Run = {states: IDS.map(() => []), snapshots: IDS.map(() => [[]]), writes: []}
  for (const cmd of cmds) {
    if (cmd.kind === 'write') {
      const local = run.states[cmd.at] as Siblings
      const {siblings, version} = writeVersion(local, IDS[cmd.at] as string, cmd.value, contextFor(run, cmd.read))
      run.writes.push(version)
      run.states[cmd.at] = siblings
      run.snapshots[cmd.at]?.push(siblings)
    } else {
      const merged = mergeSiblings(run.states[cmd.to] as Siblings, run.states[cmd.from] as Siblings)
      run.states[cmd.to] = merged
      run.snapshots[cmd.to]?.push(merged)
    }
  }
  return run
}

/** Honest states: those a history of writes and merges produced (any replica, any point in time). */
const statesArb = (n: number): fc.Arbitrary<Siblings[]> =>
  fc.tuple(historyArb, fc.array(fc.nat(), {minLength: n, maxLength: n})).map(([cmds, picks]) => {
    const all = play(cmds).snapshots.flat()
    return picks.map((p) => all[p % all.length] as Siblings)
  })

const dotKey = (v: Version): string => `${v.dot.node}:${v.dot.counter}`

function expectWellFormed(s: Siblings): void {
  for (let i = 1; i < s.length; i++) {
    const [a, b] = [s[i - 1] as Version, s[i] as Version]
    const ordered = a.dot.node < b.dot.node || (a.dot.node === b.dot.node && a.dot.counter < b.dot.counter)
    expect(ordered, `sorted at ${i}: ${canonicalSiblings(s)}`).to.equal(true)
  }
  for (const a of s) for (const b of s) expect(supersedes(a, b), 'pairwise concurrent').to.equal(false)
  expect(isValidSiblings(s)).to.equal(true)
}

describe('siblings: merge is a join on honest states', () => {
  it('is commutative', () => {
    fc.assert(
      fc.property(statesArb(2), ([a, b]) => {
        expect(canonicalSiblings(mergeSiblings(a!, b!))).to.equal(canonicalSiblings(mergeSiblings(b!, a!)))
      }),
      RUNS,
    )
  })

  it('is associative', () => {
    fc.assert(
      fc.property(statesArb(3), ([a, b, c]) => {
        const left = mergeSiblings(mergeSiblings(a!, b!), c!)
        const right = mergeSiblings(a!, mergeSiblings(b!, c!))
        expect(canonicalSiblings(left)).to.equal(canonicalSiblings(right))
      }),
      RUNS,
    )
  })

  it('is idempotent, and merging with [] changes nothing', () => {
    fc.assert(
      fc.property(statesArb(2), ([a, b]) => {
        expect(sameSiblings(mergeSiblings(a!, a!), a!)).to.equal(true)
        expect(sameSiblings(mergeSiblings(a!, []), a!)).to.equal(true)
        const ab = mergeSiblings(a!, b!)
        expect(sameSiblings(mergeSiblings(ab, b!), ab)).to.equal(true)
      }),
      RUNS,
    )
  })

  it('sameSiblings agrees with comparing canonical forms, in any order of the versions', () => {
    fc.assert(
      fc.property(statesArb(2), fc.boolean(), ([a, b], reverse) => {
        const ab = mergeSiblings(a!, b!)
        for (const [x, y] of [
          [a!, b!],
          [ab, a!],
          [ab, mergeSiblings(b!, a!)],
          [ab, reverse ? [...ab].reverse() : ab],
        ] as const) {
          expect(sameSiblings(x, y)).to.equal(canonicalSiblings(x) === canonicalSiblings(y))
        }
      }),
      RUNS,
    )
  })

  it('returns sorted, pairwise-concurrent, valid sibling sets', () => {
    fc.assert(
      fc.property(statesArb(2), ([a, b]) => {
        expectWellFormed(a!)
        expectWellFormed(mergeSiblings(a!, b!))
      }),
      RUNS,
    )
  })

  it('canonicalises an unsorted, JSON-parsed state accepted by isValidSiblings', () => {
    fc.assert(
      fc.property(statesArb(1), fc.nat(), ([a], seed) => {
        const wire = JSON.parse(JSON.stringify(a)) as Version[]
        const rotated = [
          ...wire.slice(seed % (wire.length || 1)),
          ...wire.slice(0, seed % (wire.length || 1)),
        ].reverse()
        expect(isValidSiblings(rotated)).to.equal(true)
        const back = mergeSiblings(rotated, [])
        expect(canonicalSiblings(back)).to.equal(canonicalSiblings(a!))
        expect(JSON.stringify(back)).to.equal(JSON.stringify(a))
      }),
      RUNS,
    )
  })
})

describe('siblings: writes', () => {
  it('without a context supersede every local sibling', () => {
    fc.assert(
      fc.property(statesArb(1), replicaArb, valueArb, ([local], at, value) => {
        const {siblings, version} = writeVersion(local!, IDS[at]!, value, undefined)
        expect(siblings).to.have.length(1)
        expect(siblings[0]).to.deep.equal(version)
        for (const old of local!) expect(supersedes(version, old)).to.equal(true)
      }),
      RUNS,
    )
  })

  it('with the context of a read of the same state resolve a conflict to one version', () => {
    fc.assert(
      fc.property(statesArb(1), replicaArb, ([local], at) => {
        const {siblings} = writeVersion(local!, IDS[at]!, 'resolved', contextOf(local!))
        expect(siblings.map((v) => v.value)).to.deep.equal(['resolved'])
      }),
      RUNS,
    )
  })

  it('with a stale context supersede exactly the covered siblings; the rest survive', () => {
    fc.assert(
      fc.property(statesArb(2), replicaArb, ([local, readFrom], at) => {
        const ctx = contextOf(readFrom!)
        const {siblings, version} = writeVersion(local!, IDS[at]!, 'x', ctx)
        const survivors = local!.filter((v) => !covers(ctx, v.dot))
        expect(siblings.map(dotKey).sort()).to.deep.equal([...survivors, version].map(dotKey).sort())
        expect(version.ctx).to.deep.equal(ctx)
      }),
      RUNS,
    )
  })

  it('raise the coordinator entry by exactly one and leave the others as the context had them', () => {
    const ctxArb = fc.option(
      statesArb(1).map(([s]) => contextOf(s!)),
      {nil: undefined},
    )
    fc.assert(
      fc.property(statesArb(1), replicaArb, ctxArb, ([local], at, context) => {
        const id = IDS[at]!
        const seen = contextOf(local!)
        const before = Math.max(clockGet(seen, id), context === undefined ? 0 : clockGet(context, id))
        const {version} = writeVersion(local!, id, 'v', context)
        expect(version.dot).to.deep.equal({node: id, counter: before + 1})
        const shown = versionClock(version)
        const base = context ?? seen
        for (const other of IDS)
          expect(clockGet(shown, other)).to.equal(other === id ? before + 1 : clockGet(base, other))
      }),
      RUNS,
    )
  })

  it('after a concurrent write at two replicas keep two siblings, and a put with the read context joins them', () => {
    const a = writeVersion([], 'n1', 'left').siblings
    const b = writeVersion([], 'n2', 'right').siblings
    const both = mergeSiblings(a, b)
    expect(both.map((v) => v.value)).to.deep.equal(['left', 'right'])
    expect(contextOf(both)).to.deep.equal({n1: 1, n2: 1})
    const fixed = writeVersion(both, 'n3', 'both', contextOf(both))
    expect(fixed.siblings.map((v) => v.value)).to.deep.equal(['both'])
    expect(versionClock(fixed.version)).to.deep.equal({n1: 1, n2: 1, n3: 1})
  })
})

describe('siblings: no sibling explosion', () => {
  it('the merged end state holds exactly the writes no other write supersedes', () => {
    fc.assert(
      fc.property(historyArb, (cmds) => {
        const run = play(cmds)
        const dots = run.writes.map(dotKey)
        expect(new Set(dots).size, 'dots are never reused').to.equal(dots.length)
        const end = run.states.reduce<Siblings>((acc, s) => mergeSiblings(acc, s), [])
        const alive = run.writes.filter((w) => !run.writes.some((o) => supersedes(o, w)))
        expect(end).to.have.length(alive.length)
        expect(end.map(dotKey).sort()).to.deep.equal(alive.map(dotKey).sort())
        expectWellFormed(end)
      }),
      RUNS,
    )
  })
})

describe('siblings: liveValues, isFound, sameSiblings', () => {
  it('leave tombstones out', () => {
    const put = writeVersion([], 'n1', 'v').siblings
    const del = writeVersion([], 'n2', null).siblings
    const both = mergeSiblings(put, del)
    expect(liveValues(both).map((v) => v.value)).to.deep.equal(['v'])
    expect(isFound(both)).to.equal(true)
    expect(isFound(del)).to.equal(false)
    expect(liveValues(del)).to.deep.equal([])
  })

  it('sameSiblings ignores order and clock key order but not content', () => {
    const x: Version = {dot: {node: 'n1', counter: 2}, ctx: {n3: 1, n2: 4}, value: 'a'}
    const y: Version = {dot: {node: 'n2', counter: 5}, ctx: {}, value: null}
    const x2: Version = {dot: {node: 'n1', counter: 2}, ctx: {n2: 4, n3: 1}, value: 'a'}
    expect(sameSiblings([x, y], [y, x2])).to.equal(true)
    expect(sameSiblings([x, y], [x])).to.equal(false)
    expect(sameSiblings([x], [{...x, value: 'b'}])).to.equal(false)
  })
})

describe('siblings: forged duplicates of one dot', () => {
  const v1: Version = {dot: {node: 'n1', counter: 3}, ctx: {n2: 1}, value: 'aaa'}
  const v2: Version = {dot: {node: 'n1', counter: 3}, ctx: {n2: 1}, value: 'bbb'}

  it('keep the copy that sorts first by canonical JSON, whichever side it came from', () => {
    expect(mergeSiblings([v1], [v2])).to.deep.equal([v1])
    expect(mergeSiblings([v2], [v1])).to.deep.equal([v1])
    expect(mergeSiblings([v2, v1], [])).to.deep.equal([v1])
  })

  it('are refused by isValidSiblings', () => {
    expect(isValidSiblings([v1, v2])).to.equal(false)
    expect(isValidSiblings([v1, v1])).to.equal(false)
  })
})

describe('siblings: isValidSiblings refuses untrusted garbage', () => {
  const ok: Version = {dot: {node: 'n1', counter: 1}, ctx: {}, value: 'v'}
  const many = (n: number): Version[] =>
    Array.from({length: n}, (_, i) => ({dot: {node: `n${i}`, counter: 1}, ctx: {}, value: null}))

  it('accepts every honest state, empty and JSON round-tripped', () => {
    expect(isValidSiblings([])).to.equal(true)
    expect(isValidSiblings(many(SIBLINGS_WIRE_MAX))).to.equal(true)
    fc.assert(
      fc.property(statesArb(1), ([s]) => {
        expect(isValidSiblings(JSON.parse(JSON.stringify(s)))).to.equal(true)
      }),
      RUNS,
    )
  })

  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['an object', {0: ok, length: 1}],
    ['a string', '[]'],
    ['a huge array', many(SIBLINGS_WIRE_MAX + 1)],
    ['a sparse array', [ok, , ok]], // eslint-disable-line no-sparse-arrays
    ['a non-object element', [ok, 3]],
    ['a null element', [null]],
    ['an array element', [[]]],
    ['a missing dot', [{ctx: {}, value: 'v'}]],
    ['a missing value', [{dot: {node: 'n1', counter: 1}, ctx: {}}]],
    ['an extra field', [{...ok, extra: 1}]],
    ['an extra dot field', [{...ok, dot: {node: 'n1', counter: 1, x: 0}}]],
    ['a numeric value', [{...ok, value: 42}]],
    ['an undefined value', [{...ok, value: undefined}]],
    ['an oversize value', [{...ok, value: 'x'.repeat(1024 * 1024 + 1)}]],
    ['a bad node id', [{...ok, dot: {node: 'n 1', counter: 1}}]],
    ['a numeric node id', [{...ok, dot: {node: 1, counter: 1}}]],
    ['a zero counter', [{...ok, dot: {node: 'n1', counter: 0}}]],
    ['a negative counter', [{...ok, dot: {node: 'n1', counter: -2}}]],
    ['a NaN counter', [{...ok, dot: {node: 'n1', counter: NaN}}]],
    ['a string counter', [{...ok, dot: {node: 'n1', counter: '1'}}]],
    ['an unsafe counter', [{...ok, dot: {node: 'n1', counter: 2 ** 60}}]],
    ['a bad ctx', [{...ok, ctx: {n2: -1}}]],
    ['a ctx array', [{...ok, ctx: []}]],
    ['a null ctx', [{...ok, ctx: null}]],
    ['a self-covering ctx', [{dot: {node: 'n1', counter: 2}, ctx: {n1: 2}, value: 'v'}]],
    ['a ctx ahead of its own dot', [{dot: {node: 'n1', counter: 2}, ctx: {n1: 7}, value: 'v'}]],
    ['duplicate dots', [ok, {...ok, value: 'other'}]],
    ['a superseded sibling', [ok, {dot: {node: 'n2', counter: 1}, ctx: {n1: 1}, value: 'w'}]],
    [
      'a getter for value',
      [Object.defineProperty({dot: ok.dot, ctx: {}}, 'value', {get: () => 'v', enumerable: true})],
    ],
    [
      'a class instance element',
      [
        new (class {
          dot = ok.dot
          ctx = {}
          value = 'v'
        })(),
      ],
    ],
  ]
  for (const [what, x] of bad) {
    it(`refuses ${what}`, () => {
      expect(isValidSiblings(x)).to.equal(false)
    })
  }
})
