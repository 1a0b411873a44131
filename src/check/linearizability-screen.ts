/**
 * Reads no order of the operations could explain, found without searching: the value was never
 * written (or only by a failed put), the read ended before any put of it began, or some write surely
 * fell between the only put of the value and the read (a stale read, the commonest violation).
 * Called by prepareKey; the reads it reports are left out of the search, which then looks for other
 * problems. Finding a stale read here also spares the search from proving it the exponential way.
 */
import {describeOp} from './linearizability-describe.js'
import {ABSENT} from './linearizability-search.js'
import type {HistoryOp} from './history.js'

/** An operation that takes part: a write that may take effect, or an ok read with at most one value. */
export interface Timed {
  readonly op: HistoryOp
  /** complete, or +Infinity when no reply says the write took effect. */
  readonly ret: number
  /** The state a write leaves, or the state a read saw. */
  readonly state: number
}

export interface ScreenInput {
  readonly reads: readonly Timed[]
  readonly writes: readonly Timed[]
  /** write state → its writes */
  readonly writersOf: ReadonlyMap<number, readonly Timed[]>
  readonly values: readonly (string | null)[]
  readonly failedValues: ReadonlySet<string>
}

/** Returns the reads to keep; calls `problem` for each one it leaves out. */
export function screenReads(input: ScreenInput, problem: (text: string) => void): Timed[] {
  const {writersOf, values, failedValues} = input
  const explicable = input.reads.filter((r) => {
    if (r.state === ABSENT) return true
    const writers = writersOf.get(r.state) ?? []
    const value = JSON.stringify(values[r.state])
    if (writers.length === 0) {
      problem(
        `${describeOp(r.op)} saw ${value}, which ${failedValues.has(values[r.state] as string) ? 'only a failed put' : 'no put'} on this key wrote`,
      )
      return false
    }
    if (writers.every((w) => w.op.invoke > r.ret)) {
      problem(
        `${describeOp(r.op)} saw ${value} before any put of it was invoked (${writers.map((w) => describeOp(w.op)).join('; ')})`,
      )
      return false
    }
    return true
  })
  // The only put of a value must take effect before every read of it, so by the earliest return among them.
  const firstSeenAt = new Map<number, number>()
  for (const r of explicable) firstSeenAt.set(r.state, Math.min(r.ret, firstSeenAt.get(r.state) ?? Infinity))
  const surelyBetween = writeSurelyBetween(input.writes)
  return explicable.filter((r) => {
    const writers = writersOf.get(r.state) ?? []
    const [w] = writers
    if (r.state === ABSENT || writers.length !== 1 || w === undefined) return true
    const tookEffectBy = Math.min(w.ret, firstSeenAt.get(r.state) ?? Infinity)
    const x = surelyBetween(tookEffectBy, r.op.invoke)
    if (x === undefined) return true
    problem(
      `${describeOp(r.op)} is stale: ${describeOp(x.op)} overwrote ${JSON.stringify(values[r.state])} after the only put of it ` +
        `(${describeOp(w.op)}) took effect (by ${tookEffectBy}) and before this read was invoked`,
    )
    return false
  })
}

/**
 * For the ok writes: one invoked strictly after `after` and completed strictly before `before`, if
 * any. Such a write comes after anything that took effect by `after` and before anything invoked at
 * `before`, in every linearization. Writes sorted by invoke plus a suffix minimum of completes: O(log n).
 */
function writeSurelyBetween(writes: readonly Timed[]): (after: number, before: number) => Timed | undefined {
  const sorted = writes.filter((w) => w.op.status === 'ok').sort((a, b) => a.op.invoke - b.op.invoke)
  const earliestEnd: Timed[] = new Array<Timed>(sorted.length)
  for (let i = sorted.length - 1; i >= 0; i--) {
    const w = sorted[i] as Timed
    const later = earliestEnd[i + 1]
    earliestEnd[i] = later !== undefined && later.ret < w.ret ? later : w
  }
  return (after, before) => {
    let lo = 0
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((sorted[mid] as Timed).op.invoke > after) hi = mid
      else lo = mid + 1
    }
    const x = earliestEnd[lo]
    return x !== undefined && x.ret < before ? x : undefined
  }
}
