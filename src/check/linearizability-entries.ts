/**
 * Porcupine's doubly-linked list of call and return events for one key's sub-history
 * (porcupine `checker.go`: makeLinkedEntries, lift, unlift), kept in typed arrays so lifting and
 * unlifting allocate nothing. Built by the linearizability search, once per key.
 *
 * Time ties: at equal times calls sort before returns, as Porcupine does. Two events recorded at the
 * same instant (the simulator's integer ticks) cannot be ordered, so an operation that completes at t
 * and one invoked at t are treated as concurrent. This is the lenient choice: it never turns a tie
 * into a real-time order the history does not prove.
 */
import {invariant, outOfRange} from '../core/invariant.js'

/** No entry: past the end of the list. */
export const NIL = -1
/** The sentinel before the first entry; its `next` is the earliest event not yet linearized. */
export const HEAD = 0

/** An operation's interval. `ret` is +Infinity for a write that may take effect at any later time. */
export interface TimedOp {
  readonly call: number
  readonly ret: number
}

/** Entry 0 is HEAD; entries 1..2n are the events in time order. */
export interface EntryList {
  readonly next: Int32Array
  readonly prev: Int32Array
  /** A call entry's return entry; NIL for a return entry (and HEAD). */
  readonly match: Int32Array
  /** The operation (index into the key's ops) an entry belongs to; NIL for HEAD. */
  readonly opOf: Int32Array
}

interface TimedEvent {
  readonly time: number
  readonly isReturn: boolean
  readonly op: number
}

function byTimeCallsFirst(a: TimedEvent, b: TimedEvent): number {
  // No subtraction: Infinity - Infinity is NaN.
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.isReturn !== b.isReturn) return a.isReturn ? 1 : -1
  return a.op - b.op
}

/** Links the call and return events of `ops` in time order behind HEAD. */
export function buildEntryList(ops: readonly TimedOp[]): EntryList {
  const events: TimedEvent[] = []
  ops.forEach((op, i) => {
    invariant(op.call <= op.ret, `operation ${i} returns (${op.ret}) before it is called (${op.call})`)
    events.push({time: op.call, isReturn: false, op: i}, {time: op.ret, isReturn: true, op: i})
  })
  events.sort(byTimeCallsFirst)
  const size = events.length + 1
  const list: EntryList = {
    next: new Int32Array(size),
    prev: new Int32Array(size),
    match: new Int32Array(size).fill(NIL),
    opOf: new Int32Array(size).fill(NIL),
  }
  const returnEntryOf = new Int32Array(ops.length)
  events.forEach((ev, k) => {
    if (ev.isReturn) returnEntryOf[ev.op] = k + 1
  })
  for (let e = 0; e < size; e++) {
    list.prev[e] = e - 1
    list.next[e] = e + 1 < size ? e + 1 : NIL
  }
  events.forEach((ev, k) => {
    list.opOf[k + 1] = ev.op
    if (!ev.isReturn) list.match[k + 1] = returnEntryOf[ev.op] ?? outOfRange(ev.op)
  })
  return list
}

/** Unlinks a call entry and its return entry (the operation is now linearized). */
export function lift(list: EntryList, call: number): void {
  const {next, prev} = list
  // A call always has its return somewhere after it, so next[call] is never NIL.
  const beforeCall = prev[call] ?? outOfRange(call)
  const afterCall = next[call] ?? outOfRange(call)
  next[beforeCall] = afterCall
  prev[afterCall] = beforeCall
  // Read after the call is unlinked: if the return came right after the call, prev[ret] just changed.
  const ret = list.match[call] ?? outOfRange(call)
  const beforeRet = prev[ret] ?? outOfRange(ret)
  const afterRet = next[ret] ?? outOfRange(ret)
  next[beforeRet] = afterRet
  if (afterRet !== NIL) prev[afterRet] = beforeRet
}

/** Undoes `lift` of the same entry; lifts must be undone in reverse order. */
export function unlift(list: EntryList, call: number): void {
  const {next, prev} = list
  const ret = list.match[call] ?? outOfRange(call)
  next[prev[ret] ?? outOfRange(ret)] = ret
  const afterRet = next[ret] ?? outOfRange(ret)
  if (afterRet !== NIL) prev[afterRet] = ret
  next[prev[call] ?? outOfRange(call)] = call
  prev[next[call] ?? outOfRange(call)] = call
}
