/**
 * Linearizability of the quorum mode's client history (Wing & Gong / Lowe, as Porcupine does it).
 * The simulator and the real-process nemesis call `checkLinearizable` on each recorded history.
 *
 * Model: every key is an independent register that starts absent; the history is linearizable iff
 * each key's sub-history is (Porcupine's per-key partition), so keys are searched separately.
 * put v sets the register to v, delete sets it absent; an ok read must see exactly the register
 * ([] = absent, [{value: v}] = v). A read with two or more values is itself a violation.
 * Reads no order could explain (a value never written, or surely overwritten before the read: the
 * common stale read) are reported without searching: linearizability-screen.ts. Which operations
 * take part, and how unknown writes are bounded: linearizability-prepare.ts. The search:
 * linearizability-search.ts. Equal times: calls before returns, so operations touching at one
 * instant are concurrent (linearizability-entries.ts).
 */
import {combineVerdicts, type HistoryOp, type Verdict} from './history.js'
import {describeOp} from './linearizability-describe.js'
import {prepareKey, type PreparedKey} from './linearizability-prepare.js'
import {searchLinearization, type SearchBound, type SearchResult} from './linearizability-search.js'

export interface LinearizabilityOptions {
  /** Wall-clock bound on the whole search; past it the verdict is 'unknown'. Default 10_000. */
  timeLimitMs?: number
}

const DEFAULT_TIME_LIMIT_MS = 10_000
/** How many operations a problem lists before eliding the rest. */
const LIST_CAP = 8

/** The one clock the checker reads: a checker, not a protocol core, so wall time is fine here. */
const wallClockMs = (): number => performance.now()

/**
 * Checks that `history` is linearizable for a per-key register. `ok` when every key is, `violation`
 * when some key is not (each problem names the key and either the read no order explains and why,
 * or the longest linearizable prefix found and the operations that could not come next), `unknown`
 * when the time bound ran out first on some key and no violation was found.
 */
export function checkLinearizable(history: readonly HistoryOp[], opts: LinearizabilityOptions = {}): Verdict {
  const started = wallClockMs()
  const bound: SearchBound = {deadline: started + (opts.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS), now: wallClockMs}
  const byKey = new Map<string, HistoryOp[]>()
  for (const op of history) {
    const ops = byKey.get(op.key)
    if (ops === undefined) byKey.set(op.key, [op])
    else ops.push(op)
  }
  // A key whose search starts after the deadline still gets a few thousand steps before its first
  // look at the clock, so small keys are judged even when a big one used up the time.
  const perKey = [...byKey].map(([key, ops]) => checkKey(key, ops, bound))
  const combined = combineVerdicts(perKey)
  const ms = Math.round((wallClockMs() - started) * 100) / 100
  return {...combined, stats: {ops: 0, ignored: 0, keys: 0, states: 0, steps: 0, ...combined.stats, ms}}
}

function checkKey(key: string, history: readonly HistoryOp[], bound: SearchBound): Verdict {
  const prepared = prepareKey(key, history)
  const result = searchLinearization(prepared.ops, bound)
  const problems = [...prepared.problems]
  if (result.outcome === 'violation') problems.push(describeViolation(key, prepared, result))
  if (result.outcome === 'timeout') {
    problems.push(
      `key ${JSON.stringify(key)}: time bound reached after ${result.states} states; linearizability of its ${prepared.ops.length} ops not decided`,
    )
  }
  // A violation found is definite even when the search ran out of time.
  const violated = prepared.problems.length > 0 || result.outcome === 'violation'
  return {
    verdict: violated ? 'violation' : result.outcome === 'timeout' ? 'unknown' : 'ok',
    problems,
    stats: {ops: prepared.ops.length, ignored: prepared.ignored, keys: 1, states: result.states, steps: result.steps},
  }
}

function describeViolation(key: string, prepared: PreparedKey, result: SearchResult): string {
  const name = (i: number): string => describeOp(prepared.sources[i] as HistoryOp)
  const {prefix, stuck} = result
  const shown = prefix.slice(-LIST_CAP).map(name)
  const elided = prefix.length - shown.length
  const prefixText =
    prefix.length === 0
      ? 'none'
      : `${prefix.length} op${prefix.length === 1 ? '' : 's'} (${elided > 0 ? `… ${elided} earlier, then ` : ''}${shown.join('; ')})`
  const leaving = stateName(result.stateAfterPrefix, prepared.values)
  const awaited =
    result.awaitedReads.length === 0
      ? ''
      : `; the writes among them would overwrite ${leaving}, which these reads have yet to see: ${capped(result.awaitedReads.map(name))}`
  return (
    `key ${JSON.stringify(key)}: not linearizable. Longest linearizable prefix: ${prefixText}, ` +
    `leaving ${leaving}. None of these could be linearized next: ${capped(stuck.map(name))}${awaited}`
  )
}

function capped(items: readonly string[]): string {
  const more = items.length > LIST_CAP ? ` (+${items.length - LIST_CAP} more)` : ''
  return `${items.slice(0, LIST_CAP).join('; ')}${more}`
}

function stateName(state: number, values: readonly (string | null)[]): string {
  const v = values[state]
  return v === null || v === undefined ? 'absent' : JSON.stringify(v)
}
