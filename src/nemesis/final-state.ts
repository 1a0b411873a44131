/**
 * What the replicas hold once the faults are healed and the run is quiet.
 *
 * Eventual mode: every key the history touched is read from every replica on its own (`--node` that
 * replica, r=1: no peer asked, no read repair), with the values' clocks and the decoded context,
 * and polled until all replicas agree or a deadline passes. checkEventual judges the result.
 *
 * Quorum mode: every key is read through every replica (a normal linearizable read) and each read is
 * added to the history, so the linearizability check also covers the state after recovery; a
 * replica that cannot serve within the deadline is reported (the cluster did not recover).
 */
import type {FinalStates, ObservedKeyState} from '../check/history.js'
import {KvError} from '../core/errors.js'
import {decodeContext} from '../eventual/context-token.js'
import {clockToCanonicalJson} from '../eventual/vector-clock.js'
import {delay} from '../cluster/process-helpers.js'
import {readItems} from './client-worker.js'
import type {HistoryRecorder} from './history-recorder.js'
import {outcomeOfError} from './op-outcome.js'
import type {ReconnectingClient} from './reconnecting-client.js'

const READ_TIMEOUT_MS = 3000
const POLL_INTERVAL_MS = 500

/** The eventual collection: the last states read, and whether every replica agreed on them. */
export interface FinalCollection {
  readonly finals: FinalStates
  readonly converged: boolean
  readonly rounds: number
  /** Replicas that could not be read in the last round (left out of `finals`). */
  readonly unreadable: readonly string[]
  /** Context tokens that did not decode (a replica bug; the state uses an empty context). */
  readonly badContexts: readonly string[]
}

/** Called once after an eventual run's quiet period; polls until agreement or `deadlineMs`. */
export async function collectFinalStates(
  conn: ReconnectingClient,
  ids: readonly string[],
  keys: readonly string[],
  deadlineMs: number,
): Promise<FinalCollection> {
  const deadline = Date.now() + deadlineMs
  let rounds = 0
  for (;;) {
    rounds++
    const round = await readRound(conn, ids, keys)
    const unreadable = ids.filter((id) => !round.states.has(id))
    const converged = unreadable.length === 0 && allAgree([...round.states.values()])
    if (converged || Date.now() >= deadline)
      return {finals: round.states, converged, rounds, unreadable, badContexts: round.badContexts}
    await delay(POLL_INTERVAL_MS)
  }
}

async function readRound(
  conn: ReconnectingClient,
  ids: readonly string[],
  keys: readonly string[],
): Promise<{states: Map<string, Map<string, ObservedKeyState>>; badContexts: string[]}> {
  const states = new Map<string, Map<string, ObservedKeyState>>()
  const badContexts: string[] = []
  const connected = await conn.get()
  if (!connected) return {states, badContexts}
  await Promise.all(
    ids.map(async (id) => {
      const byKey = new Map<string, ObservedKeyState>()
      try {
        for (const key of keys) {
          const result = await connected.client.read(key, {node: id, r: 1, timeoutMs: READ_TIMEOUT_MS})
          const context = decodeContext(result.context, key)
          if (!context.ok) badContexts.push(`${id} ${key}: ${result.context} (${context.reason})`)
          byKey.set(key, {values: readItems(result, 'eventual'), context: context.ok ? context.clock : {}})
        }
        states.set(id, byKey)
      } catch (error) {
        if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await conn.reset()
      }
    }),
  )
  return {states, badContexts}
}

function allAgree(replicaStates: readonly Map<string, ObservedKeyState>[]): boolean {
  const canonical = replicaStates.map(canonicalState)
  return canonical.every((c) => c === canonical[0])
}

/** One replica's keys as a string that is equal exactly when the observable states are. */
function canonicalState(byKey: Map<string, ObservedKeyState>): string {
  const keys = [...byKey.keys()].sort()
  return JSON.stringify(
    keys.map((key) => {
      const s = byKey.get(key) as ObservedKeyState
      const values = s.values.map((v) => JSON.stringify([v.value, clockToCanonicalJson(v.clock ?? {})])).sort()
      return [key, values, clockToCanonicalJson(s.context)]
    }),
  )
}

/**
 * Called once after a quorum run's quiet period: one final client per replica reads every key
 * through it, retrying until it answers or `deadlineMs` passes; every attempt goes into the history.
 * Returns the replicas that could not serve some key in time.
 */
export async function finalQuorumReads(
  conns: ReadonlyMap<string, ReconnectingClient>,
  keys: readonly string[],
  recorder: HistoryRecorder,
  deadlineMs: number,
): Promise<string[]> {
  const deadline = Date.now() + deadlineMs
  const stuck: string[] = []
  await Promise.all(
    [...conns].map(async ([id, conn]) => {
      for (const key of keys) {
        if (!(await readUntilServed(conn, id, key, recorder, deadline))) {
          stuck.push(`${id} could not serve a read of ${key}`)
          return
        }
      }
    }),
  )
  return stuck.sort()
}

async function readUntilServed(
  conn: ReconnectingClient,
  id: string,
  key: string,
  recorder: HistoryRecorder,
  deadline: number,
): Promise<boolean> {
  const client = `final-${id}`
  while (Date.now() < deadline) {
    const connected = await conn.get()
    if (!connected) {
      await delay(POLL_INTERVAL_MS)
      continue
    }
    const invoke = recorder.now()
    connected.watch.begin()
    try {
      const result = await connected.client.read(key, {node: id, timeoutMs: READ_TIMEOUT_MS})
      recorder.record({
        client,
        kind: 'read',
        key,
        invoke,
        complete: recorder.now(),
        status: 'ok',
        node: result.node,
        read: readItems(result, 'quorum'),
      })
      return true
    } catch (error) {
      const complete = recorder.now()
      const outcome = outcomeOfError(error, connected.watch.mayHaveDelivered)
      recorder.record(
        {
          client,
          kind: 'read',
          key,
          invoke,
          complete: outcome.status === 'fail' ? complete : null,
          ...outcome,
          node: id,
        },
        (error as Error).message,
      )
      if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await conn.reset()
      await delay(POLL_INTERVAL_MS)
    }
  }
  return false
}
