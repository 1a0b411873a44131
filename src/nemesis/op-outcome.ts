/**
 * How a failed client call becomes a history status (src/check/history.ts): `fail` only when the
 * operation certainly did not take effect, otherwise `unknown`. Decided per code path of src/client
 * and of the replicas that can produce each code:
 *
 * - TIMEOUT → unknown: no reply in time (the client's own timer), or a replica's TIMEOUT reply,
 *   which some paths send for writes that may still commit (write-outcomes.ts).
 * - NO_QUORUM → fail: the contract promises the write is never committed (quorum front desk and
 *   leader decide it before appending).
 * - BAD_REQUEST → fail: refused by validation, client-side before sending or replica-side before
 *   storing.
 * - UNAVAILABLE → fail, on every path: requireAlive found no alive key (nothing published); PUBLISH
 *   answered 0 receivers (nobody got it: notListening / noLiveReplica); or a replica replied
 *   UNAVAILABLE, which it only does before touching state (eventual: `--w` cannot be met, still
 *   catching up, too many reads; quorum: too many requests at the front desk, busy leader before
 *   appending; driver: shutting down, before the core sees the request).
 * - REDIS_UNAVAILABLE → fail only when the PublishWatch saw no publish that may have reached a
 *   subscriber (lookups failed, or the connection was already lost); otherwise unknown (a publish
 *   that failed mid-write, or the connection died while the reply was awaited).
 * - anything else (a bug in the client) → unknown, so the checker never trusts it.
 */
import {KvError} from '../core/errors.js'
import type {OpStatus} from '../check/history.js'

/** What the history records for an operation that threw. */
export interface FailedOutcome {
  readonly status: Exclude<OpStatus, 'ok'>
  readonly error: string
}

/** Called by the client worker when a put, delete or read threw. */
export function outcomeOfError(error: unknown, mayHaveDelivered: boolean): FailedOutcome {
  if (!(error instanceof KvError)) return {status: 'unknown', error: 'EXCEPTION'}
  switch (error.code) {
    case 'TIMEOUT':
      return {status: 'unknown', error: error.code}
    case 'NO_QUORUM':
    case 'BAD_REQUEST':
    case 'UNAVAILABLE':
    case 'UNAUTHENTICATED': // decided from the presence keys, before anything is sent
      return {status: 'fail', error: error.code}
    case 'REDIS_UNAVAILABLE':
      return {status: mayHaveDelivered ? 'unknown' : 'fail', error: error.code}
  }
}
