/**
 * Quorum mode: asks every replica for its status about once a second during the run and keeps
 * (node, term, role, leader) for the leader-per-term check. Silent replicas are simply not sampled.
 */
import type {KvClient} from '../client/kv-client.js'
import {KvError} from '../core/errors.js'
import {delay} from '../cluster/process-helpers.js'
import type {StatusSample} from './leader-check.js'
import type {ReconnectingClient} from './reconnecting-client.js'

const POLL_INTERVAL_MS = 1000
/** A replica that does not answer within this is skipped for this round. */
const STATUS_TIMEOUT_MS = 800

/** Runs until `stopped()`; every answer with a term is appended to `samples`. */
export async function pollStatus(
  conn: ReconnectingClient,
  ids: readonly string[],
  now: () => number,
  samples: StatusSample[],
  stopped: () => boolean,
): Promise<void> {
  while (!stopped()) {
    const started = now()
    const connected = await conn.get()
    if (connected) await Promise.all(ids.map((id) => sampleOne(connected.client, conn, id, now, samples)))
    await delay(Math.max(0, POLL_INTERVAL_MS - (now() - started)))
  }
}

async function sampleOne(
  client: KvClient,
  conn: ReconnectingClient,
  id: string,
  now: () => number,
  samples: StatusSample[],
): Promise<void> {
  try {
    const s = await client.nodeStatus(id, {timeoutMs: STATUS_TIMEOUT_MS})
    if (typeof s.term === 'number')
      samples.push({t: now(), node: id, term: s.term, role: s.role, leader: s.leader ?? null})
  } catch (error) {
    if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await conn.reset()
  }
}

/** Only samples this recent count when the fault injector asks who leads. */
const LEADER_FRESH_MS = 2500

/**
 * Called by the fault injector for leader-preferring faults: among the recent samples, the replica
 * claiming to lead the highest term; undefined when none did lately.
 */
export function currentLeader(samples: readonly StatusSample[], now: number): string | undefined {
  let best: StatusSample | undefined
  for (let i = samples.length - 1; i >= 0; i--) {
    const s = samples[i] as StatusSample
    if (s.t < now - LEADER_FRESH_MS) break
    if (s.role === 'leader' && (best === undefined || s.term > best.term)) best = s
  }
  return best?.node
}
