/**
 * The eventual-mode checker. The simulator and the real-process nemesis call checkEventual once per
 * run, after faults healed and a quiet period, with the client history and every replica's final
 * state. It checks only what a dotted-version-vector store promises: replicas converge, no
 * acknowledged write is lost, no sibling supersedes another, and nothing is seen that was not written.
 * Eventual mode promises neither read-your-writes at another replica nor monotonic reads, so those
 * are deliberately not checked.
 *
 * "No acknowledged write is lost" has one exception, the meaning of --w: a write acknowledged with
 * w = k is durable on only k replicas (its coordinator and k-1 others) until it replicates further.
 * When disk faults (DiskLoss: a wiped data directory, a corrupted log or snapshot) hit at least k
 * distinct replicas, its coordinator among them, after the write was acknowledged, losing it on every
 * replica is allowed: it is counted (stats.lostAllowed) and noted, not a problem. Everything else
 * stays a violation: such a write missing on only some replicas, two writes acknowledged with one dot
 * (a replica that lost data and reuses its counters), any loss without enough disk faults.
 *
 * Dots are recovered from clocks: a version coordinated by replica n has clock ctx ⊔ {a: counter}
 * with ctx[a] < counter, where a is n's actor: n itself or, after n lost data, a later incarnation
 * `<n>.<tag>` (eventual/actor.ts). See DotReader for how a is told from the clock.
 */
import {isActorOf} from '../eventual/actor.js'
import type {Clock, Dot} from '../eventual/types.js'
import {clockGet, clockToCanonicalJson, compareClocks, covers} from '../eventual/vector-clock.js'
import type {DiskLoss, FinalStates, HistoryOp, ObservedKeyState, ReadItem, Verdict} from './history.js'

/** Most problems spelt out in a verdict; all of them are counted in stats.problems. */
export const PROBLEMS_LISTED_MAX = 20

/** Op ids named in a note about allowed losses before "…". */
const NOTE_OPS_MAX = 10

/** What checkEventual knows about the run besides its history and final states. */
export interface EventualCheckOptions {
  /**
   * Every disk fault of the run (wipe, corrupt), with its time on the history's clock. Without them
   * (or for writes that carry no `w`) no lost acknowledged write is excused.
   */
  readonly diskLosses?: readonly DiskLoss[]
}

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
export function checkEventual(
  history: readonly HistoryOp[],
  finals: FinalStates,
  options: EventualCheckOptions = {},
): Verdict {
  const problems = new Problems()
  const replicas = [...finals.keys()].sort()
  const keys = allKeys(history, finals)
  const puts = indexPuts(history, problems)
  const dots = new DotReader(history)

  checkClocksWellFormed(history, finals, problems)
  checkConvergence(finals, replicas, keys, problems)
  const writes = checkNoLostWrites({history, finals, replicas, dots, diskLosses: options.diskLosses ?? []}, problems)
  const common = {puts, dots, ackedByDot: writes.byDot, reusedReported: new Set<string>()}
  for (const op of history) {
    if (op.kind !== 'read' || op.status !== 'ok') continue
    if (op.read === undefined) {
      problems.add(`malformed history: read op#${op.id} of key ${show(op.key)} is ok but carries no result`)
      continue
    }
    checkSiblingSet(
      {
        ...common,
        where: `read op#${op.id} at ${op.node ?? '?'}`,
        key: op.key,
        items: op.read,
        readCompleted: op.complete,
      },
      problems,
    )
  }
  for (const replica of replicas) {
    for (const [key, state] of finals.get(replica) ?? []) {
      checkSiblingSet(
        {...common, where: `replica ${replica}'s final state`, key, items: state.values, readCompleted: null},
        problems,
      )
      checkContextCoversSiblings(replica, key, state, problems)
    }
  }

  const listed = [...problems.listed]
  if (problems.count > listed.length) listed.push(`… and ${problems.count - listed.length} more problems (not listed)`)
  const notes = allowedLossNotes(writes.allowedLosses)
  return {
    verdict: problems.count > 0 ? 'violation' : 'ok',
    problems: listed,
    stats: {
      ops: history.length,
      ackedWrites: writes.acked,
      lostAllowed: writes.allowedLosses.length,
      keys: keys.length,
      replicas: replicas.length,
      problems: problems.count,
    },
    ...(notes.length > 0 ? {notes} : {}),
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
    else
      problems.add(
        `malformed history: value ${show(op.value)} is written by both op#${first.id} and op#${op.id}; values must be unique`,
      )
  }
  return puts
}

function stateOf(finals: FinalStates, replica: string, key: string): ObservedKeyState {
  return finals.get(replica)?.get(key) ?? EMPTY_STATE
}

/**
 * Tells a version's dot from its clock and the replica that coordinated it. The clock holds the
 * dot's actor (the coordinator's actor at the time) and may hold, from the context the write was
 * made with, entries of the coordinator's earlier incarnations; the dot belongs to the newest one.
 * The bare id is the oldest incarnation (a replica is only given a tag after it lost data), and
 * later incarnations, which never overlap in time, are ordered by when the history first mentions
 * them: a clock in an op that completed (a read's items or a write's acknowledged clock). Two
 * incarnations first mentioned by the same op cannot be ordered: the dot is then unknown.
 */
class DotReader {
  /** actor → the earliest time an op's clock mentions it, and that op. */
  private readonly firstMention = new Map<string, {readonly at: number; readonly op: number}>()

  constructor(history: readonly HistoryOp[]) {
    for (const op of history) {
      const at = op.complete ?? op.invoke
      for (const clock of [op.clock, ...(op.read ?? []).map((i) => i.clock)]) {
        if (!isCounterClock(clock)) continue // malformed ones are reported by rule 0
        for (const actor of Object.keys(clock as Clock)) {
          const seen = this.firstMention.get(actor)
          if (seen === undefined || at < seen.at || (at === seen.at && op.id < seen.op))
            this.firstMention.set(actor, {at, op: op.id})
        }
      }
    }
  }

  /**
   * The dot of a version with `clock` coordinated by `node`, or why it cannot be told. `reported` is
   * the dot the replica's reply named, if it did: it is used when the clock agrees with it (its actor
   * is `node` or an incarnation of it, at that counter), else the clock alone decides.
   */
  of(node: string, clock: Clock, reported?: Dot): {dot: Dot} | {why: string} {
    if (reported && isActorOf(reported.node, node) && clockGet(clock, reported.node) === reported.counter)
      return {dot: {node: reported.node, counter: reported.counter}}
    const actors = Object.keys(clock).filter((a) => isActorOf(a, node) && clockGet(clock, a) > 0)
    if (actors.length === 0) return {why: `has no entry for ${node} or a later incarnation of it`}
    const tagged = actors.filter((a) => a !== node)
    const newest = tagged.length === 0 ? [node] : this.newestOf(tagged)
    if (newest.length > 1) {
      return {
        why: `holds entries of incarnations ${newest.join(', ')} of ${node} that the history first mentions in one op, so which of them is its dot is unknown`,
      }
    }
    const actor = newest[0] as string
    return {dot: {node: actor, counter: clockGet(clock, actor)}}
  }

  /** The actors first mentioned last (several only on a tie). */
  private newestOf(actors: readonly string[]): string[] {
    const rank = (a: string) => this.firstMention.get(a) ?? {at: Number.POSITIVE_INFINITY, op: Number.POSITIVE_INFINITY}
    let best: string[] = []
    for (const a of actors) {
      const first = best[0]
      if (first === undefined) {
        best = [a]
        continue
      }
      const ra = rank(a)
      const rb = rank(first)
      if (ra.at > rb.at || (ra.at === rb.at && ra.op > rb.op)) best = [a]
      else if (ra.at === rb.at && ra.op === rb.op) best.push(a)
    }
    return best.sort()
  }
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
      for (const item of state.values)
        bad(item.clock, `replica ${replica}'s final value ${show(item.value)} of key ${show(key)}`)
    }
  }
}

// ---- rule 1: convergence -----------------------------------------------------------------------

/** The state as a multiset of (value, canonical clock) plus the canonical context: equal iff identical. */
function canonicalState(s: ObservedKeyState): string {
  const items = s.values.map(showItem).sort()
  return `[${items.join(', ')}] context ${clockToCanonicalJson(s.context)}`
}

function checkConvergence(
  finals: FinalStates,
  replicas: readonly string[],
  keys: readonly string[],
  problems: Problems,
): void {
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

interface WritesInput {
  readonly history: readonly HistoryOp[]
  readonly finals: FinalStates
  readonly replicas: readonly string[]
  readonly dots: DotReader
  readonly diskLosses: readonly DiskLoss[]
}

/** An acknowledged write gone from every replica, as its --w allows after the disk faults that followed it. */
interface AllowedLoss {
  readonly op: HistoryOp
  readonly w: number
}

interface WritesChecked {
  readonly acked: number
  /** key + dot → the acknowledged write that carries it (the first one, if a dot was reused). */
  readonly byDot: ReadonlyMap<string, HistoryOp>
  readonly allowedLosses: readonly AllowedLoss[]
}

function dotKeyOf(key: string, dot: Dot): string {
  return `${key}\u0000${dot.node}\u0000${dot.counter}`
}

/**
 * Every ok put/delete's dot is covered by its key's final context on every replica, unless its loss
 * is allowed (lossAllowed). Two acknowledged writes of one key with one dot are always a violation.
 */
function checkNoLostWrites(input: WritesInput, problems: Problems): WritesChecked {
  const {history, finals, replicas, dots, diskLosses} = input
  let acked = 0
  const allowedLosses: AllowedLoss[] = []
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
    if (!isCounterClock(op.clock)) continue // reported by rule 0
    const found = dots.of(op.node, op.clock, op.dot)
    if ('why' in found) {
      problems.add(
        `malformed history: ${what} was acknowledged by ${op.node} with clock ${clockToCanonicalJson(op.clock)}, which ${found.why}`,
      )
      continue
    }
    const {dot} = found
    const dotKey = dotKeyOf(op.key, dot)
    const twin = byDot.get(dotKey)
    if (twin)
      problems.add(
        `key ${show(op.key)}: ${describeWrite(twin)} and ${describeWrite(op)} were both acknowledged with dot ${showDot(dot)}: a replica reused a dot, so one of them is lost`,
      )
    else byDot.set(dotKey, op)
    const lostOn = replicas.filter((r) => !covers(stateOf(finals, r, op.key).context, dot))
    if (lostOn.length === 0) continue
    const w = lostOn.length === replicas.length ? lossAllowed(op, op.node, diskLosses) : undefined
    if (w !== undefined) {
      allowedLosses.push({op, w})
      continue
    }
    problems.add(
      `key ${show(op.key)}: acknowledged ${what} (dot ${showDot(dot)}) is lost on ${lostOn.join(', ')}: the final context does not cover its dot, so it is neither kept nor superseded${whyNotAllowed(op, op.node, diskLosses, lostOn.length === replicas.length)}`,
    )
  }
  return {acked, byDot, allowedLosses}
}

/**
 * The distinct replicas a disk fault hit strictly after the write was invoked. Not after its
 * acknowledgement: the coordinator may persist, send the ack and lose its disk before the ack
 * reaches the client (the simulator found exactly that), and the write was durable only from its
 * invocation on, so a fault earlier than that cannot have taken it.
 */
function hitAfter(invoke: number, diskLosses: readonly DiskLoss[]): Set<string> {
  return new Set(diskLosses.filter((l) => l.at > invoke).map((l) => l.replica))
}

/**
 * The write's w if losing it everywhere is what its --w allows: it was acknowledged as durable on w
 * replicas (always its coordinator among them), and after it was invoked disk faults hit at least w
 * distinct replicas, the coordinator one of them. Otherwise undefined.
 */
function lossAllowed(op: HistoryOp, coordinator: string, diskLosses: readonly DiskLoss[]): number | undefined {
  const w = op.w
  if (w === undefined || !Number.isSafeInteger(w) || w < 1 || op.complete === null) return undefined
  const hit = hitAfter(op.invoke, diskLosses)
  return hit.size >= w && hit.has(coordinator) ? w : undefined
}

/** Why a loss was not excused, when disk faults or --w could have made it look allowed. */
function whyNotAllowed(
  op: HistoryOp,
  coordinator: string,
  diskLosses: readonly DiskLoss[],
  everywhere: boolean,
): string {
  if (diskLosses.length === 0) return ''
  if (!everywhere) return ' (it survives elsewhere, so this is not a loss its --w allows)'
  if (op.w === undefined || op.complete === null) return ' (its w is not recorded, so its loss is never excused)'
  const hit = [...hitAfter(op.invoke, diskLosses)].sort()
  if (hit.length === 0) return ` (w=${op.w}; disk faults after it was invoked hit no replica)`
  return ` (w=${op.w}; disk faults after it was invoked hit ${hit.join(', ')}${hit.includes(coordinator) ? '' : `, not its coordinator ${coordinator}`})`
}

/** "3 acknowledged w=1 writes lost with a wiped/corrupted coordinator (allowed): op#…", one line per w. */
function allowedLossNotes(losses: readonly AllowedLoss[]): string[] {
  const byW = new Map<number, HistoryOp[]>()
  for (const {op, w} of losses) byW.set(w, [...(byW.get(w) ?? []), op])
  return [...byW]
    .sort((a, b) => a[0] - b[0])
    .map(([w, ops]) => {
      const plural = ops.length === 1 ? 'write' : 'writes'
      const others = w === 1 ? '' : ` and ${w - 1} more wiped/corrupted ${w === 2 ? 'replica' : 'replicas'}`
      const ids = ops
        .slice(0, NOTE_OPS_MAX)
        .map((op) => `op#${op.id}`)
        .join(', ')
      const more = ops.length > NOTE_OPS_MAX ? `, … (${ops.length - NOTE_OPS_MAX} more)` : ''
      return `${ops.length} acknowledged w=${w} ${plural} lost with a wiped/corrupted coordinator${others} (allowed): ${ids}${more}`
    })
}

// ---- rules 3 and 4: one sibling set (a final state or a read result) ------------------------------

interface SiblingSet {
  /** Who holds the set, for messages: "read op#7 at n2" or "replica n1's final state". */
  readonly where: string
  readonly key: string
  readonly items: readonly ReadItem[]
  readonly puts: ReadonlyMap<string, HistoryOp>
  readonly dots: DotReader
  /** key + dot → the acknowledged write with that dot (from rule 2). */
  readonly ackedByDot: ReadonlyMap<string, HistoryOp>
  /** Pairs of ops already reported as sharing a dot, so each is reported once. */
  readonly reusedReported: Set<string>
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
      problems.add(
        `key ${show(set.key)}: ${set.where} holds ${show(item.value)} twice: two siblings for one write${write ? ` (op#${write.id})` : ''}`,
      )
      continue
    }
    seen.add(item.value)
    checkOrigin(set, item, write, problems)
    const dot = dotOf(set.dots, item, write)
    if (dot !== undefined && write !== undefined) checkDotNotReused(set, dot, write, problems)
    siblings.push({item, write, dot})
  }
  for (let i = 0; i < siblings.length; i++) {
    for (let j = i + 1; j < siblings.length; j++)
      checkPairConcurrent(set, siblings[i] as Sibling, siblings[j] as Sibling, problems)
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
    problems.add(
      `${prefix} from put op#${write.id}, which failed${write.error ? ` (${write.error})` : ''} and so must have had no effect`,
    )
  }
  if (set.readCompleted !== null && write.invoke > set.readCompleted) {
    problems.add(
      `${prefix}, but the read completed at ${set.readCompleted} and its put op#${write.id} was only invoked at ${write.invoke}`,
    )
  }
  // A version is immutable: every copy of it shows the clock its coordinator acknowledged.
  if (write.status === 'ok' && write.clock !== undefined && item.clock !== undefined) {
    const acked = clockToCanonicalJson(write.clock)
    const shown = clockToCanonicalJson(item.clock)
    if (acked !== shown)
      problems.add(`${prefix} with clock ${shown}, but put op#${write.id} was acknowledged with clock ${acked}`)
  }
}

/** The sibling's dot: its coordinator's actor's entry in its clock (DotReader), when that can be told. */
function dotOf(dots: DotReader, item: ReadItem, write: HistoryOp | undefined): Dot | undefined {
  if (item.clock === undefined || write?.node === undefined || !isCounterClock(item.clock)) return undefined
  // The read version is the write's own when its clock holds the write's reported dot.
  const found = dots.of(write.node, item.clock, write.status === 'ok' ? write.dot : undefined)
  return 'dot' in found ? found.dot : undefined
}

/**
 * A sibling whose dot an acknowledged write of another value carries: the coordinator reused a dot
 * (rule 2 catches this when both writes were acknowledged; here also when the second one was not).
 */
function checkDotNotReused(set: SiblingSet, dot: Dot, write: HistoryOp, problems: Problems): void {
  if (write.key !== set.key) return
  const acked = set.ackedByDot.get(dotKeyOf(set.key, dot))
  if (acked === undefined || acked.id === write.id || write.status === 'ok') return // both acked: rule 2 reported it
  const pair = `${acked.id}/${write.id}`
  if (set.reusedReported.has(pair)) return
  set.reusedReported.add(pair)
  problems.add(
    `key ${show(set.key)}: ${set.where} holds ${show(write.value ?? '')} from ${describeWrite(write)} with dot ${showDot(dot)}, the dot acknowledged for ${describeWrite(acked)}: a replica reused a dot`,
  )
}

/**
 * Rule 3: no sibling supersedes another. In a DVV store b supersedes a exactly when b's ctx covers
 * a's dot. The clock is ctx ⊔ {dot}, so for dots of different actors (replicas, or incarnations of
 * one replica) b's clock tells b's ctx at a's actor exactly: b supersedes a iff b.clock covers a.dot.
 * Two dots of the same actor are undecidable from clocks, and legitimately ordered: a put at n1 with
 * a stale context (say, read where the key was missing) gets a higher n1 counter than the sibling it
 * did not see, so its clock dominates that sibling's while both are rightly kept. compareClocks alone
 * would flag that case. Equal clocks are always wrong: same actor means same dot, different actors
 * means supersession.
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
    if (da.counter === db.counter)
      problems.add(`${prefix} ${showSibling(a)} and ${showSibling(b)} with one dot: one write cannot have two values`)
    return
  }
  const superseded = covers(cb, da)
    ? {older: a, newer: b, dot: da}
    : covers(ca, db)
      ? {older: b, newer: a, dot: db}
      : undefined
  if (superseded === undefined) return
  const {older, newer, dot} = superseded
  problems.add(
    `${prefix} ${showSibling(older)} and ${showSibling(newer)}, but the second supersedes the first (its clock covers dot ${showDot(dot)}), so the first should have been dropped`,
  )
}

/** The context is the join of every sibling's clock, so it must cover each live one. */
function checkContextCoversSiblings(replica: string, key: string, state: ObservedKeyState, problems: Problems): void {
  for (const item of state.values) {
    if (item.clock === undefined) continue
    const order = compareClocks(item.clock, state.context)
    if (order !== 'before' && order !== 'equal') {
      problems.add(
        `key ${show(key)}: replica ${replica}'s final context ${clockToCanonicalJson(state.context)} does not cover the clock of its sibling ${showItem(item)}`,
      )
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
