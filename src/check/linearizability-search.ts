/**
 * The Wing & Gong / Lowe search over one key's sub-history, as Porcupine's `checkSingle` does it:
 * depth-first over the linked call/return entries, an explicit stack of (entry, state before it),
 * and a cache of (linearized set, register state) pairs already explored, which is what keeps the
 * search tractable when many operations are concurrent. Three exact prunings of our own on top, each
 * proved where it is defined: firstMatchingRead, stateAwaited, lastWasUnbounded.
 * Called by `checkLinearizable`, once per key.
 *
 * The model is a register whose states are small integers (0 = absent, k ≥ 1 = the k-th distinct
 * value), interned by the caller, so a step is one comparison.
 */
import {outOfRange} from '../core/invariant.js'
import {Rng} from '../core/rng.js'
import {HEAD, NIL, buildEntryList, lift, unlift, type TimedOp} from './linearizability-entries.js'

/** The register state of a key that was never written (or was deleted). */
export const ABSENT = 0

/** One operation of the key, as the search steps it. */
export interface SearchOp extends TimedOp {
  /** put/delete: the state it leaves; read: NIL. */
  readonly writes: number
  /** read: the state it saw; put/delete: NIL. */
  readonly sees: number
}

/** When to give up. `now` is read every CLOCK_CHECK_STEPS steps, never per step. */
export interface SearchBound {
  readonly deadline: number
  readonly now: () => number
}

export interface SearchResult {
  readonly outcome: 'ok' | 'violation' | 'timeout'
  readonly steps: number
  /** Distinct (linearized set, state) pairs explored: the cache size. A state here is a tag (see CacheEntry). */
  readonly states: number
  /**
   * violation/timeout: the longest linearizable prefix found (op indexes in order), the state after
   * it, and the operations pending at that point none of which could be linearized next.
   * ok: a linearization of all but the unbounded writes left over (they go last), no stuck ops.
   */
  readonly prefix: readonly number[]
  readonly stateAfterPrefix: number
  readonly stuck: readonly number[]
  /** Reads still to see stateAfterPrefix, which kept the writes among `stuck` from going next. */
  readonly awaitedReads: readonly number[]
}

const CLOCK_CHECK_STEPS = 4096
const TWO_32 = 2 ** 32

interface CacheEntry {
  readonly bits: Uint32Array
  /** The register state, times two, plus one if the last op linearized is an unbounded write. */
  readonly tag: number
}

/**
 * Zobrist hashing of the linearized set: each op owns two random 32-bit words and the set's hash is
 * the XOR of its members', so adding or removing an op updates the hash in O(1). Buckets still compare
 * the whole bitset, so a hash collision costs time, never correctness. Fixed seed: deterministic.
 */
function zobristWords(n: number): Uint32Array {
  const rng = new Rng(0x5eed)
  const words = new Uint32Array(2 * n)
  for (let i = 0; i < words.length; i++) words[i] = rng.nextUint32()
  return words
}

function cacheKey(lo: number, hi: number, tag: number): number {
  const mixedLo = (lo ^ Math.imul(tag + 1, 0x9e3779b1)) >>> 0
  return (hi & 0x1fffff) * TWO_32 + mixedLo // 53 bits: an exact Map key
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let w = 0; w < a.length; w++) if (a[w] !== b[w]) return false
  return true
}

/** Searches for a linearization of `ops` (one key, initial state ABSENT) within `bound`. */
export function searchLinearization(ops: readonly SearchOp[], bound: SearchBound): SearchResult {
  const n = ops.length
  const list = buildEntryList(ops)
  const {next, match, opOf} = list
  const zobrist = zobristWords(n)
  const bits = new Uint32Array(Math.ceil(n / 32))
  const cache = new Map<number, CacheEntry[]>()
  let cacheSize = 0
  // calls[d] is the call entry linearized at depth d; states[d] the state before it.
  const calls = new Int32Array(n)
  const states = new Int32Array(n)
  let depth = 0
  let hashLo = 0
  let hashHi = 0
  let state = ABSENT
  let steps = 0
  let best: Omit<SearchResult, 'outcome' | 'steps' | 'states'> | undefined
  // Per state: how many writes produce it, and how many reads that saw it are not linearized yet.
  const stateCount = 1 + ops.reduce((m, op) => Math.max(m, op.writes, op.sees), ABSENT)
  const writersOf = new Int32Array(stateCount)
  const unlinearizedReadsOf = new Int32Array(stateCount)
  for (const op of ops) {
    if (op.writes !== NIL) writersOf[op.writes] = (writersOf[op.writes] ?? outOfRange(op.writes)) + 1
    else unlinearizedReadsOf[op.sees] = (unlinearizedReadsOf[op.sees] ?? outOfRange(op.sees)) + 1
  }
  // Writes that may take effect at any later time (unknown outcome, return +Infinity).
  const unbounded = Uint8Array.from(ops, (op) => (op.writes !== NIL && op.ret === Infinity ? 1 : 0))
  let boundedLeft = unbounded.reduce((left, u) => left - u, n)

  // Entries, depths and ops are in range by construction (buildEntryList and the arrays above are
  // sized for them); these accessors crash otherwise. Closures, not a shared helper: the loads stay
  // monomorphic, which the search's speed depends on.
  const nextOf = (e: number): number => next[e] ?? outOfRange(e)
  const opIndexOf = (e: number): number => opOf[e] ?? outOfRange(e)
  const opOfEntry = (e: number): SearchOp => {
    const i = opIndexOf(e)
    return ops[i] ?? outOfRange(i)
  }
  const callAt = (d: number): number => calls[d] ?? outOfRange(d)

  const prefixOps = (): number[] => Array.from(calls.subarray(0, depth), opIndexOf)
  const finish = (outcome: SearchResult['outcome']): SearchResult => ({
    outcome,
    steps,
    states: cacheSize,
    prefix: best?.prefix ?? [],
    stateAfterPrefix: best?.stateAfterPrefix ?? ABSENT,
    stuck: best?.stuck ?? [],
    awaitedReads: best?.awaitedReads ?? [],
  })

  /** Adds op i to the linearized set, or takes it out. */
  const flip = (i: number, adding: boolean): void => {
    bits[i >>> 5] = (bits[i >>> 5] ?? outOfRange(i >>> 5)) ^ (1 << (i & 31))
    hashLo ^= zobrist[2 * i] ?? outOfRange(2 * i)
    hashHi ^= zobrist[2 * i + 1] ?? outOfRange(2 * i + 1)
    const op = ops[i] ?? outOfRange(i)
    if (op.writes === NIL)
      unlinearizedReadsOf[op.sees] = (unlinearizedReadsOf[op.sees] ?? outOfRange(op.sees)) + (adding ? -1 : 1)
    if (unbounded[i] === 0) boundedLeft += adding ? -1 : 1
  }
  /**
   * Pruning (ours, not Porcupine's): the state written by the only write of its value can never come
   * back once overwritten, so while reads that saw it are still to be linearized, no write may go next.
   */
  const stateAwaited = (): boolean =>
    state !== ABSENT && writersOf[state] === 1 && (unlinearizedReadsOf[state] ?? outOfRange(state)) > 0
  /**
   * Pruning (ours): an unbounded write followed directly by another write (or by nothing) could as
   * well go last, i.e. never take effect, which the search also tries. So right after one, only a read
   * may go next; and once only unbounded writes are left, they all go last and the search is done.
   */
  const lastWasUnbounded = (): boolean => depth > 0 && unbounded[opIndexOf(callAt(depth - 1))] === 1
  /** Linearizes the op of call entry `e` next, leaving `newState`, unless that was explored before. */
  const descend = (e: number, newState: number): boolean => {
    const i = opIndexOf(e)
    flip(i, true)
    // The cached state also says whether this op is an unbounded write: that changes which ops
    // lastWasUnbounded lets go next, so the two nodes have different subtrees.
    const tag = 2 * newState + (unbounded[i] ?? outOfRange(i))
    const key = cacheKey(hashLo, hashHi, tag)
    const bucket = cache.get(key)
    if (bucket !== undefined && bucket.some((c) => c.tag === tag && sameBits(c.bits, bits))) {
      // Explored before from this very (set, tag), and the search is still running: it failed.
      flip(i, false)
      return false
    }
    const seen: CacheEntry = {bits: bits.slice(), tag}
    if (bucket === undefined) cache.set(key, [seen])
    else bucket.push(seen)
    cacheSize++
    calls[depth] = e
    states[depth] = state
    depth++
    state = newState
    lift(list, e)
    return true
  }
  /** Undoes the last descend; returns its call entry. */
  const ascend = (): number => {
    depth--
    const e = callAt(depth)
    state = states[depth] ?? outOfRange(depth)
    flip(opIndexOf(e), false)
    unlift(list, e)
    return e
  }
  /**
   * Backtracks out of a node none of whose candidates worked. A node entered by a read is dead
   * too (see firstMatchingRead), so those are unwound at once. NIL: nothing left to try.
   */
  const backtrack = (): number => {
    for (;;) {
      if (depth === 0) return NIL
      const e = ascend()
      if (opOfEntry(e).writes !== NIL) return nextOf(e)
    }
  }
  /**
   * A pending read that sees the current state, or NIL. Partial-order reduction (ours, not
   * Porcupine's): such a read can go first in any linearization of the rest (it changes no state and
   * nothing pending must precede it, or its call would come after a return), so it is the only
   * candidate worth trying here; and if that fails, this node fails.
   */
  const firstMatchingRead = (): number => {
    for (let e = nextOf(HEAD); match[e] !== NIL; e = nextOf(e)) {
      const op = opOfEntry(e)
      if (op.writes === NIL && op.sees === state) return e
    }
    return NIL
  }

  let entry = nextOf(HEAD)
  let arrived = true // at a node not yet looked at for a matching read
  while (boundedLeft > 0) {
    if (++steps % CLOCK_CHECK_STEPS === 0 && bound.now() > bound.deadline) return finish('timeout')
    if (arrived) {
      arrived = false
      const read = firstMatchingRead()
      if (read !== NIL) {
        if (descend(read, state)) {
          arrived = true
          continue
        }
        entry = backtrack()
        if (entry === NIL) return finish('violation')
        continue
      }
      entry = nextOf(HEAD)
    }
    if (match[entry] !== NIL) {
      // A call entry. Reads here cannot match (firstMatchingRead found none); try writes.
      const writes = opOfEntry(entry).writes
      if (writes !== NIL && !stateAwaited() && !lastWasUnbounded() && descend(entry, writes)) {
        arrived = true
        entry = nextOf(HEAD)
      } else entry = nextOf(entry)
      continue
    }
    // A return entry: its op had to be linearized by now and no pending call could go next.
    if ((best === undefined || depth > best.prefix.length) && !lastWasUnbounded()) {
      const stuck: number[] = []
      for (let e = nextOf(HEAD); e !== entry; e = nextOf(e)) stuck.push(opIndexOf(e))
      const awaitedReads: number[] = []
      if (stateAwaited()) {
        ops.forEach((op, i) => {
          if (
            op.writes === NIL &&
            op.sees === state &&
            ((bits[i >>> 5] ?? outOfRange(i >>> 5)) & (1 << (i & 31))) === 0
          )
            awaitedReads.push(i)
        })
      }
      best = {prefix: prefixOps(), stateAfterPrefix: state, stuck, awaitedReads}
    }
    entry = backtrack()
    if (entry === NIL) return finish('violation')
  }
  best = {prefix: prefixOps(), stateAfterPrefix: state, stuck: [], awaitedReads: []}
  return finish('ok')
}
