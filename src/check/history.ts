/**
 * The client history the checkers judge. The simulator and the real-process nemesis both record
 * this one shape, so the same checkers judge a seeded run and a run over real Redis.
 *
 * Every put writes a value unique in its history, so a value read names the write that produced it.
 * A delete writes null. Times are milliseconds on one clock (virtual in the simulator, monotonic
 * in the nemesis); only their order matters.
 */
import type {Clock, Dot} from '../eventual/types.js'

export type OpKind = 'put' | 'delete' | 'read'

/**
 * - ok: the reply came back and says the operation took effect (a read: what it saw).
 * - fail: it certainly did not take effect (NO_QUORUM, BAD_REQUEST, UNAVAILABLE before sending).
 * - unknown: no reply, or TIMEOUT: a write may or may not have taken effect, now or later.
 */
export type OpStatus = 'ok' | 'fail' | 'unknown'

/** One value a read returned; eventual reads carry the version's clock (ctx ⊔ dot). */
export interface ReadItem {
  readonly value: string
  readonly clock?: Clock
}

export interface HistoryOp {
  /** Unique within the history. */
  readonly id: number
  /** Which client issued it; a client issues one operation at a time. */
  readonly client: string
  readonly kind: OpKind
  readonly key: string
  /** put: the value written; delete: null; read: absent. */
  readonly value?: string | null
  /** When the client sent the request. */
  readonly invoke: number
  /** When the reply arrived; null when none did (status unknown). */
  readonly complete: number | null
  readonly status: OpStatus
  /** The error code of a fail or unknown outcome (TIMEOUT, NO_QUORUM, …). */
  readonly error?: string
  /** Which replica the request went to. */
  readonly node?: string
  /** read ok: the values seen ([] = not found). */
  readonly read?: readonly ReadItem[]
  /**
   * eventual put/delete ok: the new version's clock. Its dot is (actor, clock[actor]) where actor is
   * `node` itself or, after `node` lost data, a later incarnation `<node>.<tag>` (eventual/actor.ts).
   */
  readonly clock?: Clock
  /** eventual put/delete ok: the new version's dot as the replica reported it, when it did. */
  readonly dot?: Dot
  /**
   * eventual put/delete ok: how many replicas held the write durably when it was acknowledged (at
   * least its --w). Absent when the recorder does not know: the checker then never excuses its loss.
   */
  readonly w?: number
}

/**
 * A replica lost what its disk held (its data directory wiped, or a byte of its log or snapshot
 * corrupted), at `at` on the history's clock: the time it was killed for it, or earlier. Anything it
 * held durably and had not yet replicated may be gone. The nemesis records these as wipe and corrupt
 * faults; a simulator with disk faults can pass its own.
 */
export interface DiskLoss {
  readonly replica: string
  readonly at: number
  /** What happened, for messages ('wipe', 'corrupt', …). */
  readonly kind?: string
}

/**
 * One key's state on one replica at the end of an eventual run, in the form a client can observe:
 * the live siblings with their clocks, and the context (join of every sibling's clock, tombstones
 * included). A write is preserved or causally dominated exactly when the context covers its dot.
 */
export interface ObservedKeyState {
  readonly values: readonly ReadItem[]
  readonly context: Clock
}

/** replica id → key → state. A key a replica does not hold is absent (or has no values and {}). */
export type FinalStates = ReadonlyMap<string, ReadonlyMap<string, ObservedKeyState>>

/** A checker's answer. `unknown` only when a search bound ran out (never for a violation found). */
export interface Verdict {
  readonly verdict: 'ok' | 'violation' | 'unknown'
  /** Human-readable reasons, each naming the key and the operations involved. */
  readonly problems: readonly string[]
  /** Counts worth printing (operations checked, keys, states explored, …). */
  readonly stats: Readonly<Record<string, number>>
  /** Things the guarantees allow but a reader should know (e.g. writes lost as their --w permits); not problems. */
  readonly notes?: readonly string[]
}

/** Several verdicts as one: a violation wins, then unknown; problems, notes and stats are concatenated/summed. */
export function combineVerdicts(vs: readonly Verdict[]): Verdict {
  const verdict = vs.some((v) => v.verdict === 'violation')
    ? 'violation'
    : vs.some((v) => v.verdict === 'unknown')
      ? 'unknown'
      : 'ok'
  const stats: Record<string, number> = {}
  for (const v of vs) for (const [k, n] of Object.entries(v.stats)) stats[k] = (stats[k] ?? 0) + n
  const notes = vs.flatMap((v) => v.notes ?? [])
  return {verdict, problems: vs.flatMap((v) => v.problems), stats, ...(notes.length > 0 ? {notes} : {})}
}
