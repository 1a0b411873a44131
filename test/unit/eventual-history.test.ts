/**
 * Proves that checkEventual accepts what a correct dotted-version-vector store produces and rejects
 * each way of breaking its promises for the right reason. Accepted runs are built with the real pure
 * sibling functions (writeVersion, mergeSiblings, contextOf, liveValues, versionClock), so their
 * clocks, contexts and sibling sets are exactly those a replica would hold: concurrent writes kept as
 * siblings, writes superseded through a read context, deletes, a timed-out write that took effect,
 * and a stale-context write whose clock dominates a sibling it rightly keeps. Each rejected run
 * breaks one rule and the test asserts on the problem text naming that rule, key and operation.
 * The last part covers disk faults: a write lost as its --w allows (w=k, k replicas wiped or
 * corrupted after its acknowledgement, its coordinator among them) is noted, every other loss and
 * every reused dot is still a violation, and dots of a replica's later incarnations (`n1.x`) are told.
 */
import {expect} from 'chai'
import {checkEventual, type EventualCheckOptions, PROBLEMS_LISTED_MAX} from '../../src/check/eventual-history.js'
import {
  combineVerdicts,
  type DiskLoss,
  type FinalStates,
  type HistoryOp,
  type ObservedKeyState,
  type ReadItem,
} from '../../src/check/history.js'
import {contextOf, liveValues, mergeSiblings, versionClock, writeVersion} from '../../src/eventual/siblings.js'
import type {Clock, Siblings, Version} from '../../src/eventual/types.js'

const REPLICAS = ['n1', 'n2', 'n3']

function items(s: Siblings): ReadItem[] {
  return liveValues(s).map((v) => ({value: v.value as string, clock: versionClock(v)}))
}

function observed(s: Siblings): ObservedKeyState {
  return {values: items(s), context: contextOf(s)}
}

/** Every replica holds `s` for `key`: a converged run. */
function everywhere(key: string, s: Siblings): FinalStates {
  return new Map(REPLICAS.map((r) => [r, new Map([[key, observed(s)]])]))
}

/** Per-replica final states, given as replica → key → state. */
function finalsOf(states: Record<string, Record<string, ObservedKeyState>>): FinalStates {
  return new Map(Object.entries(states).map(([r, keys]) => [r, new Map(Object.entries(keys))]))
}

/** An acknowledged put (or delete when value is null) of `version`, coordinated by its dot's replica. */
function acked(id: number, key: string, version: Version, invoke = id * 10): HistoryOp {
  return {
    id,
    client: `c${id}`,
    kind: version.value === null ? 'delete' : 'put',
    key,
    value: version.value,
    invoke,
    complete: invoke + 5,
    status: 'ok',
    node: version.dot.node,
    clock: versionClock(version),
  }
}

function okRead(id: number, key: string, node: string, result: readonly ReadItem[], invoke = id * 10): HistoryOp {
  return {id, client: `c${id}`, kind: 'read', key, invoke, complete: invoke + 5, status: 'ok', node, read: result}
}

function expectOk(history: readonly HistoryOp[], finals: FinalStates): void {
  const v = checkEventual(history, finals)
  expect(v.problems).to.deep.equal([])
  expect(v.verdict).to.equal('ok')
}

/** Asserts a violation whose only problems all match `pattern` (so it failed for that reason alone). */
function expectViolation(
  history: readonly HistoryOp[],
  finals: FinalStates,
  pattern: RegExp,
  options: EventualCheckOptions = {},
): string[] {
  const v = checkEventual(history, finals, options)
  expect(v.verdict).to.equal('violation')
  expect(v.problems.length).to.be.greaterThan(0)
  for (const p of v.problems) expect(p).to.match(pattern)
  expect(v.stats.problems).to.equal(v.problems.length)
  return [...v.problems]
}

/** A version built by hand, for states a correct replica could never hold. */
function version(node: string, counter: number, ctx: Clock, value: string | null): Version {
  return {dot: {node, counter}, ctx, value}
}

describe('checkEventual (eventual-mode history checker)', () => {
  describe('accepts correct runs', () => {
    it('an empty history with empty finals', () => {
      const v = checkEventual([], new Map())
      expect(v.verdict).to.equal('ok')
      expect(v.stats).to.deep.equal({ops: 0, ackedWrites: 0, lostAllowed: 0, keys: 0, replicas: 0, problems: 0})
    })

    it('two concurrent writes at n1 and n2, merged everywhere, as two siblings a read also saw', () => {
      const a = writeVersion([], 'n1', 'a')
      const b = writeVersion([], 'n2', 'b')
      const merged = mergeSiblings(a.siblings, b.siblings)
      expect(merged).to.have.length(2)
      const history = [acked(1, 'k', a.version), acked(2, 'k', b.version), okRead(3, 'k', 'n3', items(merged))]
      const v = checkEventual(history, everywhere('k', merged))
      expect(v.problems).to.deep.equal([])
      expect(v.stats).to.deep.equal({ops: 3, ackedWrites: 2, lostAllowed: 0, keys: 1, replicas: 3, problems: 0})
    })

    it('a write later overwritten with the read context (the first is dominated, not lost)', () => {
      const a = writeVersion([], 'n1', 'a')
      const read = okRead(2, 'k', 'n2', items(a.siblings))
      const b = writeVersion([], 'n2', 'b', contextOf(a.siblings))
      const final = mergeSiblings(a.siblings, b.siblings)
      expect(items(final).map((i) => i.value)).to.deep.equal(['b'])
      expectOk([acked(1, 'k', a.version), read, acked(3, 'k', b.version)], everywhere('k', final))
    })

    it('a delete: nothing live is left, and the tombstone keeps both writes covered', () => {
      const a = writeVersion([], 'n1', 'a')
      const del = writeVersion(a.siblings, 'n1', null)
      expect(items(del.siblings)).to.deep.equal([])
      const history = [acked(1, 'k', a.version), acked(2, 'k', del.version), okRead(3, 'k', 'n3', [])]
      expectOk(history, everywhere('k', del.siblings))
    })

    it('an unknown (timed-out) write that later appears as a sibling', () => {
      const a = writeVersion([], 'n1', 'a')
      const b = writeVersion([], 'n2', 'b')
      const merged = mergeSiblings(a.siblings, b.siblings)
      const timedOut: HistoryOp = {
        id: 2,
        client: 'c2',
        kind: 'put',
        key: 'k',
        value: 'b',
        invoke: 20,
        complete: null,
        status: 'unknown',
        error: 'TIMEOUT',
        node: 'n2',
      }
      expectOk([acked(1, 'k', a.version), timedOut, okRead(3, 'k', 'n1', items(merged), 100)], everywhere('k', merged))
    })

    it('a put at n1 with a stale context keeps a sibling whose clock its own clock dominates (DVV, not VV)', () => {
      // The client read k at n2 before a's write reached it: context {}. Its put at n1 gets dot n1:2
      // but does not supersede a (n1:1), so the clocks are ordered ({n1:1} < {n1:2}) yet both stay.
      const a = writeVersion([], 'n1', 'a')
      const read = okRead(2, 'k', 'n2', [])
      const b = writeVersion(a.siblings, 'n1', 'b', contextOf([]))
      expect(items(b.siblings).map((i) => i.value)).to.deep.equal(['a', 'b'])
      const history = [
        acked(1, 'k', a.version),
        read,
        acked(3, 'k', b.version),
        okRead(4, 'k', 'n1', items(b.siblings)),
      ]
      expectOk(history, everywhere('k', b.siblings))
    })
  })

  describe('rejects', () => {
    it('replicas holding different siblings', () => {
      const a = writeVersion([], 'n1', 'a')
      const b = writeVersion([], 'n2', 'b')
      const merged = mergeSiblings(a.siblings, b.siblings)
      const finals = finalsOf({n1: {k: observed(merged)}, n2: {k: observed(merged)}, n3: {k: observed(b.siblings)}})
      const problems = expectViolation(
        [acked(1, 'k', a.version), acked(2, 'k', b.version)],
        finals,
        /did not converge|lost on n3/,
      )
      expect(problems.join('\n')).to.match(
        /key "k": replicas did not converge: n1, n2 hold .*; n3 holds \["b"@\{"n2":1\}\]/,
      )
      expect(problems.join('\n')).to.match(/put op#1 of "a" at n1 .* is lost on n3/)
    })

    it('replicas with the same live values but different contexts', () => {
      // n2 also holds a concurrent tombstone that never reached n1: same values, bigger context.
      const a = writeVersion([], 'n1', 'a')
      const del = writeVersion([], 'n2', null)
      const withTombstone = mergeSiblings(a.siblings, del.siblings)
      const finals = finalsOf({n1: {k: observed(a.siblings)}, n2: {k: observed(withTombstone)}})
      const problems = expectViolation([acked(1, 'k', a.version)], finals, /did not converge/)
      expect(problems[0]).to.include(
        'n1 holds ["a"@{"n1":1}] context {"n1":1}; n2 holds ["a"@{"n1":1}] context {"n1":1,"n2":1}',
      )
    })

    it('an acknowledged write whose dot no final context covers (lost)', () => {
      const a = writeVersion([], 'n1', 'a')
      const b = writeVersion([], 'n2', 'b')
      const problems = expectViolation(
        [acked(1, 'k', a.version), acked(2, 'k', b.version)],
        everywhere('k', b.siblings),
        /lost/,
      )
      expect(problems).to.deep.equal([
        'key "k": acknowledged put op#1 of "a" at n1 on key "k" (dot n1:1) is lost on n1, n2, n3: the final context does not cover its dot, so it is neither kept nor superseded',
      ])
    })

    it('an acknowledged delete that was lost', () => {
      const del = writeVersion([], 'n3', null)
      expectViolation(
        [acked(1, 'k', del.version)],
        everywhere('k', []),
        /acknowledged delete op#1 at n3 .*dot n3:1.* lost on n1, n2, n3/,
      )
    })

    it('two acknowledged writes with one dot (a replica reused a dot after losing state)', () => {
      // n1 acknowledged a (dot n1:1), lost it, and gave the next write b the same dot; b covers a's dot.
      const a = writeVersion([], 'n1', 'a')
      const b = writeVersion([], 'n1', 'b')
      expectViolation(
        [acked(1, 'k', a.version), acked(2, 'k', b.version)],
        everywhere('k', b.siblings),
        /both acknowledged with dot n1:1: a replica reused a dot/,
      )
    })

    it('a final state with two siblings where one supersedes the other', () => {
      const a = version('n1', 1, {}, 'a')
      const b = version('n2', 1, {n1: 1}, 'b') // b's writer had seen a
      const bad = [a, b]
      expectViolation(
        [acked(1, 'k', a), acked(2, 'k', b)],
        everywhere('k', bad),
        /final state holds siblings "a"@\{"n1":1\} \(op#1, dot n1:1\) and "b"@\{"n1":1,"n2":1\} \(op#2, dot n2:1\), but the second supersedes the first/,
      )
    })

    it('siblings whose clocks are concurrent but where one still supersedes the other', () => {
      // a = n1:1 after seeing n3:5; b = n2:1 after seeing a. compareClocks says concurrent, DVV says b replaces a.
      const c = version('n3', 5, {}, 'c')
      const a = version('n1', 1, {n3: 5}, 'a')
      const b = version('n2', 1, {n1: 1}, 'b')
      const history = [acked(1, 'k', c), acked(2, 'k', a), acked(3, 'k', b)]
      expectViolation(history, everywhere('k', [a, b]), /op#2, dot n1:1.*op#3, dot n2:1.*second supersedes the first/)
    })

    it('a read returning a dominated sibling', () => {
      const a = writeVersion([], 'n1', 'a')
      const b = writeVersion(a.siblings, 'n2', 'b')
      const read = okRead(3, 'k', 'n3', [...items(a.siblings), ...items(b.siblings)], 100)
      expectViolation(
        [acked(1, 'k', a.version), acked(2, 'k', b.version), read],
        everywhere('k', b.siblings),
        /read op#3 at n3 holds siblings "a".*second supersedes the first/,
      )
    })

    it('two siblings with equal clocks', () => {
      const a = writeVersion([], 'n1', 'a')
      const read = okRead(2, 'k', 'n1', [...items(a.siblings), {value: 'b', clock: versionClock(a.version)}], 100)
      const b: HistoryOp = {
        id: 3,
        client: 'c3',
        kind: 'put',
        key: 'k',
        value: 'b',
        invoke: 5,
        complete: null,
        status: 'unknown',
      }
      expectViolation(
        [acked(1, 'k', a.version), read, b],
        everywhere('k', a.siblings),
        /read op#2 at n1 holds siblings .* with equal clocks/,
      )
    })

    it('a phantom value that no put wrote', () => {
      const a = writeVersion([], 'n1', 'a')
      const final = mergeSiblings(a.siblings, [version('n2', 1, {}, 'ghost')])
      expectViolation(
        [acked(1, 'k', a.version)],
        everywhere('k', final),
        /final state holds "ghost", which no put wrote \(phantom value\)/,
      )
    })

    it('a value written to another key', () => {
      const a = writeVersion([], 'n1', 'a')
      const read = okRead(2, 'other', 'n1', items(a.siblings))
      const finals = new Map(REPLICAS.map((r) => [r, new Map([['k', observed(a.siblings)]])]))
      expectViolation(
        [acked(1, 'k', a.version), read],
        finals,
        /key "other": read op#2 at n1 holds "a", which put op#1 wrote to key "k"/,
      )
    })

    it('a value from a failed put', () => {
      const a = writeVersion([], 'n1', 'a')
      const failed: HistoryOp = {
        id: 1,
        client: 'c1',
        kind: 'put',
        key: 'k',
        value: 'a',
        invoke: 0,
        complete: 1,
        status: 'fail',
        error: 'UNAVAILABLE',
        node: 'n1',
      }
      expectViolation([failed], everywhere('k', a.siblings), /holds "a" from put op#1, which failed \(UNAVAILABLE\)/)
    })

    it('a sibling whose clock differs from the clock its write was acknowledged with', () => {
      const a = writeVersion([], 'n1', 'a')
      const changed = version('n1', 1, {n2: 3}, 'a')
      expectViolation(
        [acked(1, 'k', a.version)],
        everywhere('k', [changed]),
        /holds "a" with clock \{"n1":1,"n2":3\}, but put op#1 was acknowledged with clock \{"n1":1\}/,
      )
    })

    it('a read returning a value whose put was invoked only after the read completed', () => {
      const a = writeVersion([], 'n1', 'a')
      const read = okRead(1, 'k', 'n2', items(a.siblings), 10) // completes at 15
      const put = acked(2, 'k', a.version, 20)
      expectViolation(
        [read, put],
        everywhere('k', a.siblings),
        /read op#1 at n2 holds "a", but the read completed at 15 and its put op#2 was only invoked at 20/,
      )
    })

    it('two siblings with the same value', () => {
      const a = writeVersion([], 'n1', 'a')
      const twice: ObservedKeyState = {
        values: [...items(a.siblings), ...items(a.siblings)],
        context: contextOf(a.siblings),
      }
      const finals = new Map(REPLICAS.map((r) => [r, new Map([['k', twice]])]))
      expectViolation(
        [acked(1, 'k', a.version)],
        finals,
        /final state holds "a" twice: two siblings for one write \(op#1\)/,
      )
    })

    it('an acknowledged write that carries no clock (malformed history)', () => {
      const a = writeVersion([], 'n1', 'a')
      const noClock: HistoryOp = {...acked(1, 'k', a.version), clock: undefined}
      expectViolation(
        [noClock],
        everywhere('k', a.siblings),
        /malformed history: put op#1 of "a" at n1 on key "k" is ok but carries no clock/,
      )
    })

    it('lists at most PROBLEMS_LISTED_MAX problems but counts them all', () => {
      const history = Array.from({length: 30}, (_, i) => acked(i, `k${i}`, version('n1', 1, {}, `v${i}`)))
      const v = checkEventual(history, new Map([['n1', new Map()]]))
      expect(v.verdict).to.equal('violation')
      expect(v.stats.problems).to.equal(30)
      expect(v.problems).to.have.length(PROBLEMS_LISTED_MAX + 1)
      expect(v.problems[PROBLEMS_LISTED_MAX]).to.equal('… and 10 more problems (not listed)')
    })
  })
})

describe('checkEventual with disk faults (wipe/corrupt) and --w', () => {
  /** An acknowledged write coordinated by replica `node` (default: its dot's actor), durable on `w`. */
  function write(
    id: number,
    key: string,
    v: Version,
    opts: {node?: string; w?: number; invoke?: number} = {},
  ): HistoryOp {
    const base = acked(id, key, v, opts.invoke)
    return {...base, node: opts.node ?? v.dot.node, ...(opts.w !== undefined ? {w: opts.w} : {})}
  }
  const wipe = (replica: string, at: number): DiskLoss => ({replica, at, kind: 'wipe'})
  const corrupt = (replica: string, at: number): DiskLoss => ({replica, at, kind: 'corrupt'})

  // put a at n1 (w=1) completes at 15 and is lost everywhere; b at n2 survives.
  const a = writeVersion([], 'n1', 'a')
  const b = writeVersion([], 'n2', 'b')
  const lostA = (w: number | undefined) => [
    write(1, 'k', a.version, w === undefined ? {} : {w}),
    write(2, 'k', b.version, {w: 1}),
  ]
  const onlyB = everywhere('k', b.siblings)

  describe('accepts', () => {
    it('a w=1 write whose coordinator lost its disk after the invocation but before the ack arrived', () => {
      // The coordinator persisted, sent the ack and was wiped while the ack was in flight (the simulator found it).
      const v = checkEventual(lostA(1), onlyB, {diskLosses: [wipe('n1', 12)]})
      expect(v.problems).to.deep.equal([])
      expect(v.stats.lostAllowed).to.equal(1)
    })

    it('a w=1 write lost everywhere after its coordinator was wiped: counted and noted, not a problem', () => {
      const v = checkEventual(lostA(1), onlyB, {diskLosses: [wipe('n1', 100)]})
      expect(v.problems).to.deep.equal([])
      expect(v.verdict).to.equal('ok')
      expect(v.stats.lostAllowed).to.equal(1)
      expect(v.notes).to.deep.equal([
        '1 acknowledged w=1 write lost with a wiped/corrupted coordinator (allowed): op#1',
      ])
      // and the nemesis' combined verdict keeps the note
      expect(combineVerdicts([v, {verdict: 'ok', problems: [], stats: {}}]).notes).to.deep.equal(v.notes)
    })

    it('a w=2 write lost after disk faults hit its coordinator and one more replica', () => {
      const v = checkEventual(lostA(2), onlyB, {diskLosses: [corrupt('n3', 50), wipe('n1', 100)]})
      expect(v.problems).to.deep.equal([])
      expect(v.notes).to.deep.equal([
        '1 acknowledged w=2 write lost with a wiped/corrupted coordinator and 1 more wiped/corrupted replica (allowed): op#1',
      ])
    })

    it('writes of a later incarnation (n1.x, after n1 lost data): the dot is the new actor, not an old n1 entry', () => {
      // n1 wrote a (n1:1); after its disk was corrupted it writes as n1.x. c overwrites a with a's
      // context, so its clock {n1:1, n1.x:1} holds both; d (a sibling of c, no context) only {n1.x:2}.
      const c = writeVersion(a.siblings, 'n1.x', 'c', contextOf(a.siblings))
      const d = writeVersion(c.siblings, 'n1.x', 'd', {})
      expect(items(d.siblings).map((i) => i.value)).to.deep.equal(['c', 'd'])
      const history = [
        write(1, 'k', a.version),
        write(2, 'k', c.version, {node: 'n1', invoke: 100}),
        write(3, 'k', d.version, {node: 'n1', invoke: 200}),
      ]
      expectOk(history, everywhere('k', d.siblings))
    })

    it('two later incarnations in one clock: the one the history mentioned last is the dot', () => {
      const x = writeVersion([], 'n1.x', 'x') // n1's second life
      const y = writeVersion(x.siblings, 'n1.y', 'y', contextOf(x.siblings)) // its third, after reading x
      const history = [write(1, 'k', x.version, {node: 'n1'}), write(2, 'k', y.version, {node: 'n1'})]
      expectOk(history, everywhere('k', y.siblings))
    })

    it('an older incarnation first mentioned after a newer one (sim seed 5535): the dot the reply reported decides', () => {
      // n1.x wrote once, unacknowledged, then n1 was wiped and writes as n1.y; n1.x's entry first
      // appears in the history inside n1.y's later clocks, so "mentioned last" would name n1.x:1 as the
      // dot of both y2 and y3, a reuse that never happened.
      const y1 = version('n1.y', 1, {}, 'y1')
      const y2 = version('n1.y', 2, {'n1.x': 1, 'n1.y': 1}, 'y2')
      const y3 = version('n1.y', 3, {'n1.x': 1, 'n1.y': 2}, 'y3')
      const ops = [write(1, 'k', y1, {node: 'n1'}), write(2, 'k', y2, {node: 'n1'}), write(3, 'k', y3, {node: 'n1'})]
      expectViolation(ops, everywhere('k', [y3]), /were both acknowledged with dot n1.x:1: a replica reused a dot/)
      expectOk(
        ops.map((op, i) => ({...op, dot: [y1, y2, y3][i]?.dot})),
        everywhere('k', [y3]),
      )
    })
  })

  describe('rejects', () => {
    it('the same w=1 loss without any disk fault', () => {
      expectViolation(lostA(1), onlyB, /acknowledged put op#1 of "a" at n1 .* is lost on n1, n2, n3/)
      const v = checkEventual(lostA(1), onlyB, {diskLosses: []})
      expect(v.verdict).to.equal('violation')
      expect(v.stats.lostAllowed).to.equal(0)
      expect(v.notes).to.equal(undefined)
    })

    it('a w=1 loss when only another replica lost its disk', () => {
      expectViolation(
        lostA(1),
        onlyB,
        /put op#1 .* is lost on n1, n2, n3: .*\(w=1; disk faults after it was invoked hit n2, not its coordinator n1\)/,
        {diskLosses: [wipe('n2', 100)]},
      )
    })

    it('a w=1 loss when the coordinator lost its disk before the write was invoked', () => {
      // op#1 is invoked at 10; the wipe at 9 happened before, so the write was taken by n1's next life.
      expectViolation(
        lostA(1),
        onlyB,
        /put op#1 .* is lost .*\(w=1; disk faults after it was invoked hit no replica\)/,
        {diskLosses: [wipe('n1', 9)]},
      )
    })

    it('a w=2 write lost with one disk fault, even on its coordinator', () => {
      expectViolation(
        lostA(2),
        onlyB,
        /put op#1 .* is lost on n1, n2, n3: .*\(w=2; disk faults after it was invoked hit n1\)/,
        {diskLosses: [wipe('n1', 100)]},
      )
    })

    it('a w=2 write lost after two disk faults that spared its coordinator (it held the write)', () => {
      expectViolation(
        lostA(2),
        onlyB,
        /put op#1 .* is lost .*\(w=2; disk faults after it was invoked hit n2, n3, not its coordinator n1\)/,
        {
          diskLosses: [wipe('n2', 100), corrupt('n3', 200)],
        },
      )
    })

    it('a w=1 write with a wiped coordinator that is lost on some replicas but kept on others', () => {
      const merged = mergeSiblings(a.siblings, b.siblings)
      const finals = finalsOf({n1: {k: observed(b.siblings)}, n2: {k: observed(merged)}, n3: {k: observed(merged)}})
      const problems = expectViolation(lostA(1), finals, /did not converge|lost on n1: .*survives elsewhere/, {
        diskLosses: [wipe('n1', 100)],
      })
      expect(problems.join('\n')).to.match(/put op#1 of "a" at n1 .* is lost on n1: /)
    })

    it('a lost write whose w is not recorded', () => {
      expectViolation(
        lostA(undefined),
        onlyB,
        /put op#1 .* is lost .*\(its w is not recorded, so its loss is never excused\)/,
        {diskLosses: [wipe('n1', 100)]},
      )
    })

    it('a coordinator whose disk was corrupted and that then reused a dot for another value of the key (excused loss or not)', () => {
      // n1 acknowledged a (w=1, dot n1:1), lost it to a corrupted log at 20, carried on as n1 and gave
      // the next write of k, c, the same dot n1:1. a's loss alone would be allowed; the reuse is not.
      const c = writeVersion([], 'n1', 'c')
      expect(c.version.dot).to.deep.equal(a.version.dot)
      const history = [write(1, 'k', a.version, {w: 1}), write(2, 'k', c.version, {w: 1, invoke: 30})]
      const problems = expectViolation(
        history,
        everywhere('k', c.siblings),
        /both acknowledged with dot n1:1: a replica reused a dot/,
        {diskLosses: [corrupt('n1', 20)]},
      )
      expect(problems).to.have.length(1)
    })

    it('a reused dot whose second write was never acknowledged (timed out) but is in the final state', () => {
      const c = writeVersion([], 'n1', 'c')
      const timedOut: HistoryOp = {
        id: 2,
        client: 'c2',
        kind: 'put',
        key: 'k',
        value: 'c',
        invoke: 30,
        complete: null,
        status: 'unknown',
        error: 'TIMEOUT',
        node: 'n1',
      }
      const problems = expectViolation(
        [write(1, 'k', a.version, {w: 1}), timedOut],
        everywhere('k', c.siblings),
        /holds "c" from put op#2 of "c" at n1 with dot n1:1, the dot acknowledged for put op#1 of "a" at n1: a replica reused a dot/,
        {
          diskLosses: [corrupt('n1', 20)],
        },
      )
      expect(problems).to.have.length(1) // reported once, not once per replica
    })

    it('a write at n1 whose clock has no entry of n1 or any incarnation of it', () => {
      const x = writeVersion([], 'n2.x', 'x')
      expectViolation(
        [write(1, 'k', x.version, {node: 'n1'})],
        everywhere('k', x.siblings),
        /malformed history: .* with clock \{"n2.x":1\}, which has no entry for n1 or a later incarnation of it/,
      )
    })

    it('a dot reported twice for two acknowledged writes is a reuse, whatever the clocks say', () => {
      const y1 = version('n1.y', 1, {}, 'y1')
      const y2 = version('n1.y', 1, {n2: 1}, 'y2')
      const ops = [
        {...write(1, 'k', y1, {node: 'n1'}), dot: y1.dot},
        {...write(2, 'k', y2, {node: 'n1'}), dot: y2.dot},
      ]
      expectViolation(ops, everywhere('k', [y2]), /were both acknowledged with dot n1.y:1: a replica reused a dot/)
    })

    it('two later incarnations first mentioned by the same op: the dot cannot be told', () => {
      const both = version('n1.y', 1, {'n1.x': 1}, 'y')
      expectViolation(
        [write(1, 'k', both, {node: 'n1'})],
        everywhere('k', [both]),
        /incarnations n1.x, n1.y of n1 that the history first mentions in one op/,
      )
    })
  })
})
