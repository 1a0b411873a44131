/**
 * Test helpers for the linearizability checker: a generator of histories that are linearizable by
 * construction (a real register applied at a random point inside each operation's interval), and a
 * brute-force reference checker (every order allowed by real time, no cache, no linked list) that
 * small histories are compared against.
 */
import type {HistoryOp, OpKind, OpStatus, ReadItem} from '../../src/check/history.js'
import {Rng} from '../../src/core/rng.js'

type Mutable<T> = {-readonly [K in keyof T]: T[K]}
export type DraftOp = Mutable<HistoryOp>

export interface GenOptions {
  readonly ops: number
  readonly keys: number
  readonly clients: number
  /** Longest time between invoke and complete (0 is allowed: both at one tick). */
  readonly maxLatency: number
  /** Share of writes that fail (never take effect) and that stay unknown (take effect later, or never). */
  readonly failRate: number
  readonly unknownWriteRate: number
  readonly unknownReadRate: number
  /** Share of operations that are deletes (default 0.1); puts are 0.4, the rest reads. */
  readonly deleteShare?: number
}

/**
 * A history of `o.ops` operations that is linearizable: each op that takes effect does so at a random
 * instant inside [invoke, complete] (an unknown write: at some instant after invoke, possibly after its
 * client moved on, or never), and every ok read returns the register at its instant. Clients issue one
 * op at a time; the next may be invoked at the very tick the previous completed (a time tie).
 */
export function linearizableHistory(rng: Rng, o: GenOptions): DraftOp[] {
  const clientFreeAt = new Array<number>(o.clients).fill(0)
  const drafts: {op: DraftOp; at: number | null}[] = []
  for (let id = 0; id < o.ops; id++) {
    const c = rng.int(o.clients)
    const invoke = clientFreeAt[c]! + rng.int(3)
    const latency = rng.int(o.maxLatency + 1)
    clientFreeAt[c] = invoke + latency
    const roll = rng.next()
    const kind: OpKind = roll < 0.4 ? 'put' : roll < 0.4 + (o.deleteShare ?? 0.1) ? 'delete' : 'read'
    const op: DraftOp = {
      id,
      client: `c${c}`,
      kind,
      key: `k${rng.int(o.keys)}`,
      invoke,
      complete: invoke + latency,
      status: 'ok',
    }
    if (kind === 'put') op.value = `v${id}`
    if (kind === 'delete') op.value = null
    let at: number | null = invoke + rng.next() * latency
    const fate = rng.next()
    if (kind !== 'read' && fate < o.failRate) {
      setOutcome(op, 'fail', 'NO_QUORUM')
      at = null
    } else if (kind !== 'read' && fate < o.failRate + o.unknownWriteRate) {
      setOutcome(op, 'unknown', 'TIMEOUT')
      op.complete = null
      at = rng.next() < 0.5 ? null : invoke + rng.next() * (4 * o.maxLatency + 1)
    } else if (kind === 'read' && fate < o.unknownReadRate) {
      setOutcome(op, 'unknown', 'TIMEOUT')
      op.complete = null
      at = null
    }
    drafts.push({op, at})
  }
  const register = new Map<string, string | null>()
  const effective = drafts.filter((d) => d.at !== null).sort((a, b) => (a.at as number) - (b.at as number))
  for (const {op} of effective) {
    if (op.kind === 'read') {
      const v = register.get(op.key) ?? null
      op.read = v === null ? [] : [{value: v}]
    } else register.set(op.key, op.value ?? null)
  }
  return drafts.map((d) => d.op)
}

function setOutcome(op: DraftOp, status: OpStatus, error: string): void {
  op.status = status
  op.error = error
}

function seenValue(read: readonly ReadItem[] | undefined): string | null | undefined {
  if (read === undefined || read.length > 1) return undefined // matches no state
  return read[0]?.value ?? null
}

/**
 * Reference answer for a small single-key history: tries every order of the operations that took
 * effect or might have, where op j must precede op i when j returned strictly before i was invoked.
 * Unknown writes return at +Infinity (so may also go last, i.e. never take effect).
 */
export function bruteForceLinearizable(history: readonly HistoryOp[]): boolean {
  const ops = history
    .filter((op) => op.status !== 'fail' && !(op.kind === 'read' && op.status === 'unknown'))
    .map((op) => ({op, ret: op.status === 'ok' ? (op.complete as number) : Infinity}))
  const placed = new Array<boolean>(ops.length).fill(false)
  const search = (count: number, state: string | null): boolean => {
    if (count === ops.length) return true
    for (let i = 0; i < ops.length; i++) {
      if (placed[i]) continue
      const {op} = ops[i]!
      if (ops.some((o, j) => !placed[j] && j !== i && o.ret < op.invoke)) continue
      let next = state
      if (op.kind === 'read') {
        if (seenValue(op.read) !== state) continue
      } else next = op.kind === 'put' ? (op.value ?? null) : null
      placed[i] = true
      const found = search(count + 1, next)
      placed[i] = false
      if (found) return true
    }
    return false
  }
  return search(0, null)
}
