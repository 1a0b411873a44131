/**
 * The eventual-mode checker. The simulator and the real-process nemesis call checkEventual once per
 * run, after faults healed and a quiet period, with the client history and every replica's final
 * state. It checks only what a dotted-version-vector store promises: replicas converge, no
 * acknowledged write is lost, no sibling supersedes another, and nothing is seen that was not written.
 * Eventual mode promises neither read-your-writes at another replica nor monotonic reads, so those
 * are deliberately not checked.
 *
 * Dots are recovered from clocks: a version coordinated by n has clock ctx ⊔ {n: counter} with
 * ctx[n] < counter, so its dot is (n, clock[n]) where n is the replica its put was sent to.
 */
import type {Clock, Dot} from '../eventual/types.js'
import {clockGet, clockToCanonicalJson, compareClocks, covers} from '../eventual/vector-clock.js'
import type {FinalStates, HistoryOp, ObservedKeyState, ReadItem, Verdict} from './history.js'

/** Most problems spelt out in a verdict; all of them are counted in stats.problems. */
export const PROBLEMS_LISTED_MAX = 20

const EMPTY_STATE: ObservedKeyState = {values: [], context: {}}

/** Collects problem texts up to the cap and counts every one. */
class Problems {
  readonly listed: string[] = []
  count = 0

  add(text: string): void {
    this.count++
    if (this.listed.length < PROBLEMS_LISTED_MAX) this.listed.push(text)
  }
}

/** Judges one eventual run; see the file header for what is and is not promised. */
export function checkEventual(history: readonly HistoryOp[], finals: FinalStates): Verdict {
  const problems = new Problems()
  const replicas = [...finals.keys()].sort()
  const keys = allKeys(history, finals)
  const puts = indexPuts(history, problems)

  checkClocksWellFormed(history, finals, problems)
  checkConvergence(finals, replicas, keys, problems)
  const ackedWrites = checkNoLostWrites(history, finals, replicas, problems)
  for (const op of history) {
    if (op.kind !== 'read' || op.status !== 'ok') continue
    if (op.read === undefined) {
      problems.add(`malformed history: read op#${op.id} of key ${show(op.key)} is ok but carries no result`)
      continue
    }
    checkSiblingSet({where: `read op#${op.id} at ${op.node ?? '?'}`, key: op.key, items: op.read, puts, readCompleted: op.complete}, problems)
  }
  for (const replica of replicas) {
    for (const [key, state] of finals.get(replica) ?? []) {
      checkSiblingSet({where: `replica ${replica}'s final state`, key, items: state.values, puts, readCompleted: null}, problems)
      checkContextCoversSiblings(replica, key, state, problems)
    }
  }

  const listed = [...problems.listed]
  if (problems.count > listed.length) listed.push(`… and ${problems.count - listed.length} more problems (not listed)`)
  return {
    verdict: problems.count > 0 ? 'violation' : 'ok',
    problems: listed,
    stats: {ops: history.length, ackedWrites, keys: keys.length, replicas: replicas.length, problems: problems.count},
  }
}

// ---- indexing ----------------------------------------------------------------------------------

function allKeys(history: readonly HistoryOp[], finals: FinalStates): string[] {
  const keys = new Set(history.map((op) => op.key))
  for (const states of finals.values()) for (const key of states.keys()) keys.add(key)
  return [...keys].sort()
}

/** value → the put that wrote it. Values are unique in a history; a repeat makes reads ambiguous. */
function indexPuts(history: readonly HistoryOp[], problems: Problems): Map<string, HistoryOp> {
  const puts = new Map<string, HistoryOp>()
  for (const op of history) {
    if (op.kind !== 'put' || typeof op.value !== 'string') continue
    const first = puts.get(op.value)
    if (first === undefined) puts.set(op.value, op)
    else problems.add(`malformed history: value ${show(op.value)} is written by both op#${first.id} and op#${op.id}; values must be unique`)
  }
  return puts
}

function stateOf(finals: FinalStates, replica: string, key: string): ObservedKeyState {
  return finals.get(replica)?.get(key) ?? EMPTY_STATE
}

// ---- rule 0: well-formed clocks (so that clock maths below means something) --------------------

function isCounterClock(c: unknown): boolean {
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return false
  return Object.values(c).every((n) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0)
}

function checkClocksWellFormed(history: readonly HistoryOp[], finals: FinalStates, problems: Problems): void {
  const bad = (c: unknown, where: string) => {
    if (c !== undefined && !isCounterClock(c)) problems.add(`malformed clock ${safeJson(c)} in ${where}`)
  }
  for (const op of history) {
    bad(op.clock, `op#${op.id}`)
    for (const item of op.read ?? []) bad(item.clock, `read op#${op.id} (value ${show(item.value)})`)
  }
  for (const [replica, states] of finals) {
    for (const [key, state] of states) {
      bad(state.context, `replica ${replica}'s final context of key ${show(key)}`)
      for (const item of state.values) bad(item.clock, `replica ${replica}'s final value ${show(item.value)} of key ${show(key)}`)
    }
  }
}

// ---- rule 1: convergence -----------------------------------------------------------------------

/** The state as a multiset of (value, canonical clock) plus the canonical context: equal iff identical. */
function canonicalState(s: ObservedKeyState): string {
  const items = s.values.map(showItem).sort()
  return `[${items.join(', ')}] context ${clockToCanonicalJson(s.context)}`
}

function checkConvergence(finals: FinalStates, replicas: readonly string[], keys: readonly string[], problems: Problems): void {
  for (const key of keys) {
    const holders = new Map<string, string[]>()
    for (const replica of replicas) {
      const text = canonicalState(stateOf(finals, replica, key))
      holders.set(text, [...(holders.get(text) ?? []), replica])
    }
    if (holders.size <= 1) continue
    const groups = [...holders].map(([text, ids]) => `${ids.join(', ')} ${ids.length === 1 ? 'holds' : 'hold'} ${text}`)
    problems.add(`key ${show(key)}: replicas did not converge: ${groups.join('; ')}`)
  }
}

// ---- rule 2: no lost acknowledged write ---------------------------------------------------------

/** Every ok put/delete's dot is covered by its key's final context on every replica. Returns the count. */
function checkNoLostWrites(history: readonly HistoryOp[], finals: FinalStates, replicas: readonly string[], problems: Problems): number {
  let acked = 0
  // A dot names one write of one key: two acknowledged writes with one dot mean a replica reused it
  // (it lost state it had acknowledged), and the final state can then only keep one of them.
  const byDot = new Map<string, HistoryOp>()
  for (const op of history) {
    if (op.kind === 'read' || op.status !== 'ok') continue
    acked++
    const what = `${describeWrite(op)} on key ${show(op.key)}`
    if (op.node === undefined || op.clock === undefined) {
      const missing = op.node === undefined ? 'node' : 'clock'
      problems.add(`malformed history: ${what} is ok but carries no ${missing}, so its dot is unknown`)
      continue
    }
    const dot: Dot = {node: op.node, counter: clockGet(op.clock, op.node)}
    if (dot.counter === 0) {
      problems.add(`malformed history: ${what} was acknowledged by ${op.node} with clock ${clockToCanonicalJson(op.clock)}, which has no entry for ${op.node}`)
      continue
    }
    const dotKey = `${op.key}\u0000${dot.node}\u0000${dot.counter}`
    const twin = byDot.get(dotKey)
    if (twin) problems.add(`key ${show(op.key)}: ${describeWrite(twin)} and ${describeWrite(op)} were both acknowledged with dot ${showDot(dot)}: a replica reused a dot, so one of them is lost`)
    byDot.set(dotKey, op)
    const lostOn = replicas.filter((r) => !covers(stateOf(finals, r, op.key).context, dot))
    if (lostOn.length > 0) {
      problems.add(`key ${show(op.key)}: acknowledged ${what} (dot ${showDot(dot)}) is lost on ${lostOn.join(', ')}: the final context does not cover its dot, so it is neither kept nor superseded`)
    }
  }
  return acked
}

// ---- rules 3 and 4: one sibling set (a final state or a read result) ------------------------------

interface SiblingSet {
  /** Who holds the set, for messages: "read op#7 at n2" or "replica n1's final state". */
  readonly where: string
  readonly key: string
  readonly items: readonly ReadItem[]
  readonly puts: ReadonlyMap<string, HistoryOp>
  /** A read's completion time: a value it returns must have been written by then. null for finals. */
  readonly readCompleted: number | null
}

/** A sibling together with the write that produced it and, when that can be told, its dot. */
interface Sibling {
  readonly item: ReadItem
  readonly write: HistoryOp | undefined
  readonly dot: Dot | undefined
}

function checkSiblingSet(set: SiblingSet, problems: Problems): void {
  const siblings: Sibling[] = []
  const seen = new Set<string>()
  for (const item of set.items) {
    const write = set.puts.get(item.value)
    if (seen.has(item.value)) {
      problems.add(`key ${show(set.key)}: ${set.where} holds ${show(item.value)} twice: two siblings for one write${write ? ` (op#${write.id})` : ''}`)
      continue
    }
    seen.add(item.value)
    checkOrigin(set, item, write, problems)
    siblings.push({item, write, dot: dotOf(item, write)})
  }
  for (let i = 0; i < siblings.length; i++) {
    for (let j = i + 1; j < siblings.length; j++) checkPairConcurrent(set, siblings[i] as Sibling, siblings[j] as Sibling, problems)
  }
}

/** Rule 4 for one sibling: written to this key by a put that did not fail, before the read ended, clock intact. */
function checkOrigin(set: SiblingSet, item: ReadItem, write: HistoryOp | undefined, problems: Problems): void {
  const prefix = `key ${show(set.key)}: ${set.where} holds ${show(item.value)}`
  if (item.clock === undefined) problems.add(`${prefix} without a clock (eventual values always carry one)`)
  if (write === undefined) {
    problems.add(`${prefix}, which no put wrote (phantom value)`)
    return
  }
  if (write.key !== set.key) {
    problems.add(`${prefix}, which put op#${write.id} wrote to key ${show(write.key)}, not this one`)
    return
  }
  if (write.status === 'fail') {
    problems.add(`${prefix} from put op#${write.id}, which failed${write.error ? ` (${write.error})` : ''} and so must have had no effect`)
  }
  if (set.readCompleted !== null && write.invoke > set.readCompleted) {
    problems.add(`${prefix}, but the read completed at ${set.readCompleted} and its put op#${write.id} was only invoked at ${write.invoke}`)
  }
  // A version is immutable: every copy of it shows the clock its coordinator acknowledged.
  if (write.status === 'ok' && write.clock !== undefined && item.clock !== undefined) {
    const acked = clockToCanonicalJson(write.clock)
    const shown = clockToCanonicalJson(item.clock)
    if (acked !== shown) problems.add(`${prefix} with clock ${shown}, but put op#${write.id} was acknowledged with clock ${acked}`)
  }
}

/** (node, clock[node]) where node is the replica the put was sent to (its coordinator). */
function dotOf(item: ReadItem, write: HistoryOp | undefined): Dot | undefined {
  if (item.clock === undefined || write?.node === undefined) return undefined
  const counter = clockGet(item.clock, write.node)
  return counter > 0 ? {node: write.node, counter} : undefined
}

/**
 * Rule 3: no sibling supersedes another. In a DVV store b supersedes a exactly when b's ctx covers
 * a's dot. The clock is ctx ⊔ {dot}, so for dots on different replicas b's clock tells b's ctx at
 * a's replica exactly: b supersedes a iff b.clock covers a.dot. Two dots from the same replica are
 * undecidable from clocks, and legitimately ordered: a put at n1 with a stale context (say, read
 * where the key was missing) gets a higher n1 counter than the sibling it did not see, so its clock
 * dominates that sibling's while both are rightly kept. compareClocks alone would flag that case.
 * Equal clocks are always wrong: same replica means same dot, different replicas means supersession.
 */
function checkPairConcurrent(set: SiblingSet, a: Sibling, b: Sibling, problems: Problems): void {
  const ca = a.item.clock
  const cb = b.item.clock
  if (ca === undefined || cb === undefined) return
  const prefix = `key ${show(set.key)}: ${set.where} holds siblings`
  if (compareClocks(ca, cb) === 'equal') {
    problems.add(`${prefix} ${showSibling(a)} and ${showSibling(b)} with equal clocks, so they are not concurrent`)
    return
  }
  const da = a.dot
  const db = b.dot
  if (da === undefined || db === undefined) return
  if (da.node === db.node) {
    if (da.counter === db.counter) problems.add(`${prefix} ${showSibling(a)} and ${showSibling(b)} with one dot: one write cannot have two values`)
    return
  }
  const superseded = covers(cb, da) ? {older: a, newer: b, dot: da} : covers(ca, db) ? {older: b, newer: a, dot: db} : undefined
  if (superseded === undefined) return
  const {older, newer, dot} = superseded
  problems.add(`${prefix} ${showSibling(older)} and ${showSibling(newer)}, but the second supersedes the first (its clock covers dot ${showDot(dot)}), so the first should have been dropped`)
}

/** The context is the join of every sibling's clock, so it must cover each live one. */
function checkContextCoversSiblings(replica: string, key: string, state: ObservedKeyState, problems: Problems): void {
  for (const item of state.values) {
    if (item.clock === undefined) continue
    const order = compareClocks(item.clock, state.context)
    if (order !== 'before' && order !== 'equal') {
      problems.add(`key ${show(key)}: replica ${replica}'s final context ${clockToCanonicalJson(state.context)} does not cover the clock of its sibling ${showItem(item)}`)
    }
  }
}

// ---- message formatting -------------------------------------------------------------------------

function show(s: string): string {
  return JSON.stringify(s)
}

function safeJson(x: unknown): string {
  try {
    const json = JSON.stringify(x) as string | undefined // undefined for undefined, whatever lib.d.ts says
    return json ?? String(x)
  } catch {
    return String(x)
  }
}

function showDot(d: Dot): string {
  return `${d.node}:${d.counter}`
}

function showClock(c: Clock | undefined): string {
  return c === undefined ? '(no clock)' : clockToCanonicalJson(c)
}

function showItem(item: ReadItem): string {
  return `${show(item.value)}@${showClock(item.clock)}`
}

function showSibling(s: Sibling): string {
  const origin = s.write === undefined ? '' : ` (op#${s.write.id}${s.dot ? `, dot ${showDot(s.dot)}` : ''})`
  return `${showItem(s.item)}${origin}`
}

function describeWrite(op: HistoryOp): string {
  const what = op.kind === 'delete' ? `delete op#${op.id}` : `put op#${op.id} of ${show(op.value ?? '')}`
  return op.node === undefined ? what : `${what} at ${op.node}`
}
