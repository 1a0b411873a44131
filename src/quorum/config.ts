/**
 * Settings of the quorum replica. Time is counted in ticks; the driver ticks every `tickMs`.
 */
import type {Rng} from '../core/rng.js'

export interface QuorumConfig {
  readonly id: string
  /** The fixed membership (--peers, which includes `id`). Majorities are counted over it. */
  readonly peers: readonly string[]
  /** The only randomness: election timeouts, read replica picks, request-id nonces. */
  readonly rng: Rng
  readonly tickMs: number
  /** The leader sends APPEND (a heartbeat when empty) to every follower this often. */
  readonly heartbeatTicks: number
  /**
   * Base election timeout: a follower that has not heard its leader for a random time in
   * [electionTimeoutTicks, 2 × electionTimeoutTicks) starts an election, and a leader that has not
   * heard a majority for this long steps down.
   */
  readonly electionTimeoutTicks: number
  /** A member not heard from for this long counts as unreachable (NO_QUORUM decisions). */
  readonly suspectTicks: number
  /** A read round that has not been answered in full after this long is decided or redone. */
  readonly readRoundTicks: number
  /**
   * Applied entries kept in memory for followers that lag; one further behind gets a snapshot.
   */
  readonly logRetainEntries: number
  /**
   * Entries per APPEND and reads per READ_STATES (default LIMITS.batchEntriesMax); the simulator
   * shrinks it to 1–3 on half its seeds, so batching runs at its limits under faults.
   */
  readonly batchEntriesMax?: number
}

/** Defaults for a real cluster over Redis: heartbeats every 100 ms, elections after 1–2 s of silence. */
export const DEFAULT_QUORUM_TIMING = {
  tickMs: 50,
  heartbeatTicks: 2,
  electionTimeoutTicks: 20,
  suspectTicks: 40,
  readRoundTicks: 4,
  logRetainEntries: 10_000,
} as const
