/**
 * Turns one key's client history into the operations the linearizability search steps, after
 * screening out (and reporting) the reads no order could explain (linearizability-screen.ts).
 * Called by `checkLinearizable`, once per key.
 *
 * - fail operations did not take effect and unknown reads tell nothing: both are left out.
 * - An unknown write returns at +Infinity (Porcupine/Jepsen): it can be linearized anywhere after its
 *   call, including after everything, which is the same as never.
 * Two exact reductions keep unknown writes from blowing up the search (Porcupine has neither):
 * - An unknown write whose resulting state no ok read on the key saw is left out. In any
 *   linearization it is followed directly by another write or by the end (a read after it would see
 *   its state), so removing it changes no read; and without it, one can always put it last.
 * - A put that is the only write of its value on the key must be linearized before every read that
 *   saw that value, so its return time becomes at most the earliest such read's return. A seen
 *   unknown write thus gets a finite interval instead of staying concurrent with everything after it.
 */
import {invariant} from '../core/invariant.js'
import type {HistoryOp} from './history.js'
import {describeOp} from './linearizability-describe.js'
import {NIL} from './linearizability-entries.js'
import {screenReads, type Timed} from './linearizability-screen.js'
import {ABSENT, type SearchOp} from './linearizability-search.js'

/** One key's operations, ready for the search, plus what was learned on the way. */
export interface PreparedKey {
  readonly ops: readonly SearchOp[]
  /** The history operation behind each of `ops`. */
  readonly sources: readonly HistoryOp[]
  /** State number → the value it stands for (index 0: absent). */
  readonly values: readonly (string | null)[]
  /** Violations found without searching. */
  readonly problems: readonly string[]
  /** History operations left out of the search. */
  readonly ignored: number
}

export function prepareKey(key: string, history: readonly HistoryOp[]): PreparedKey {
  const values: (string | null)[] = [null]
  const stateOf = new Map<string, number>()
  const intern = (v: string | null | undefined): number => {
    if (v === null || v === undefined) return ABSENT
    let s = stateOf.get(v)
    if (s === undefined) {
      s = values.length
      values.push(v)
      stateOf.set(v, s)
    }
    return s
  }
  const problems: string[] = []
  const problem = (text: string): void => void problems.push(`key ${JSON.stringify(key)}: ${text}`)

  const writes: Timed[] = []
  const candidateReads: Timed[] = []
  const failedValues = new Set<string>()
  for (const op of history) {
    if (op.status === 'ok')
      invariant(
        op.complete !== null && op.invoke <= op.complete,
        `op #${op.id} is ok but completes at ${op.complete}, invoked at ${op.invoke}`,
      )
    const ret = op.status === 'ok' ? (op.complete as number) : Infinity
    if (op.kind !== 'read') {
      if (op.status !== 'fail') writes.push({op, ret, state: op.kind === 'put' ? intern(op.value) : ABSENT})
      else if (typeof op.value === 'string') failedValues.add(op.value)
      continue
    }
    if (op.status !== 'ok') continue
    invariant(op.read !== undefined, `ok read #${op.id} has no read values`)
    if (op.read.length > 1) {
      const seen = op.read.map((r) => JSON.stringify(r.value)).join(', ')
      problem(`${describeOp(op)} returned ${op.read.length} values (${seen}); a quorum read returns at most one`)
    } else candidateReads.push({op, ret, state: intern(op.read[0]?.value)})
  }

  const writersOf = new Map<number, Timed[]>()
  for (const w of writes) {
    const same = writersOf.get(w.state)
    if (same === undefined) writersOf.set(w.state, [w])
    else same.push(w)
  }
  const reads = screenReads({reads: candidateReads, writes, writersOf, values, failedValues}, problem)

  const firstSeenAt = new Map<number, number>()
  for (const r of reads) firstSeenAt.set(r.state, Math.min(r.ret, firstSeenAt.get(r.state) ?? Infinity))
  const ops: SearchOp[] = []
  const sources: HistoryOp[] = []
  for (const w of writes) {
    const seenAt = firstSeenAt.get(w.state)
    if (w.op.status === 'unknown' && seenAt === undefined) continue
    const unique = w.state !== ABSENT && writersOf.get(w.state)?.length === 1
    // seenAt >= invoke holds for a unique write: screenReads left out reads that ended before it.
    const ret = unique && seenAt !== undefined ? Math.min(w.ret, seenAt) : w.ret
    ops.push({call: w.op.invoke, ret, writes: w.state, sees: NIL})
    sources.push(w.op)
  }
  for (const r of reads) {
    ops.push({call: r.op.invoke, ret: r.ret, writes: NIL, sees: r.state})
    sources.push(r.op)
  }
  return {ops, sources, values, problems, ignored: history.length - ops.length}
}
