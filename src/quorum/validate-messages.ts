/**
 * Schema check of quorum-mode peer messages read from Redis. Returns the typed message or null; the
 * driver counts and drops nulls. Everything a replica may persist or apply (entries, snapshot keys)
 * is checked deeply, because a malformed entry in the log would be replicated forever.
 */
import {isErrorCode} from '../core/errors.js'
import {LIMITS, utf8Bytes} from '../core/limits.js'
import {isId, isKey, isRecord, isToken} from '../core/guards.js'
import type {QuorumPeerMessage} from './messages.js'
import type {LogEntry} from './types.js'

/** Entries in one APPEND and keys in one INSTALL_SNAPSHOT chunk, whatever the sender's settings. */
const ENTRIES_PER_MESSAGE_MAX = LIMITS.batchEntriesMax * 4
const KEYS_PER_CHUNK_MAX = 100_000
const ERROR_MESSAGE_CHARS_MAX = 4096

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0
}

function isValue(x: unknown): boolean {
  return x === null || (typeof x === 'string' && utf8Bytes(x) <= LIMITS.valueBytesMax)
}

function isVersion(x: unknown): boolean {
  return isRecord(x) && isCount(x.term) && isCount(x.index) && x.index >= 1
}

/** Reads one READ_STATES (or its reply) may carry; the desk sends at most LIMITS.batchEntriesMax. */
const READ_STATES_MAX = 1024

function isKeyVersion(x: unknown): boolean {
  return isRecord(x) && isValue(x.value) && isVersion(x.version)
}

function isEntry(x: unknown): x is LogEntry {
  if (!isRecord(x) || !isCount(x.term) || !isCount(x.index) || x.index < 1) return false
  return x.cmd === null || (isRecord(x.cmd) && isKey(x.cmd.key) && isValue(x.cmd.value))
}

/** Entries must be consecutive and never go down in term, or Log Matching means nothing. */
function isEntryRun(x: unknown, prevIndex: number): boolean {
  if (!Array.isArray(x) || x.length > ENTRIES_PER_MESSAGE_MAX || !x.every(isEntry)) return false
  let expectedIndex = prevIndex + 1
  let lastTerm = 0
  for (const e of x) {
    if (e.index !== expectedIndex++ || e.term < lastTerm) return false
    lastTerm = e.term
  }
  return true
}

function isKeyChunk(x: unknown): boolean {
  return (
    Array.isArray(x) &&
    x.length <= KEYS_PER_CHUNK_MAX &&
    x.every((p) => Array.isArray(p) && p.length === 2 && isKey(p[0]) && isKeyVersion(p[1]))
  )
}

function isError(x: unknown): boolean {
  return (
    isRecord(x) && isErrorCode(x.code) && typeof x.message === 'string' && x.message.length <= ERROR_MESSAGE_CHARS_MAX
  )
}

/** Called by the replica driver for every non-client message it reads in quorum mode. */
export function asQuorumPeerMessage(m: Record<string, unknown>): QuorumPeerMessage | null {
  if (!isId(m.from) || !isCount(m.term)) return null
  const ok = (() => {
    switch (m.type) {
      case 'ELECTION':
        return isCount(m.lastLogIndex) && isCount(m.lastLogTerm)
      case 'STATE':
        return isCount(m.lastLogIndex) && typeof m.learner === 'boolean'
      case 'OK':
      case 'COORDINATOR':
        return true
      case 'VOTE':
        return typeof m.granted === 'boolean'
      case 'APPEND':
        if (!isCount(m.prevIndex) || !isCount(m.prevTerm) || !isCount(m.leaderCommit) || !isCount(m.seq)) return false
        if (
          m.alive !== undefined &&
          !(Array.isArray(m.alive) && m.alive.length <= LIMITS.membersMax && m.alive.every(isId))
        )
          return false
        if (!isEntryRun(m.entries, m.prevIndex)) return false
        // A leader sends only entries of its term or older, never older than the one they follow.
        return (m.entries as {term: number}[]).every(
          (e) => e.term <= (m.term as number) && e.term >= (m.prevTerm as number),
        )
      case 'APPEND_ACK':
        return typeof m.success === 'boolean' && isCount(m.matchIndex) && isCount(m.seq)
      case 'COMMIT':
        return isCount(m.commitIndex)
      case 'FORWARD':
        return isToken(m.fid) && isKey(m.key) && isValue(m.value) && isCount(m.timeoutTicks) && m.timeoutTicks >= 1
      case 'FORWARD_REPLY':
        if (!isToken(m.fid)) return false
        if (m.ok === true) return isId(m.leader) && isVersion(m.version)
        return m.ok === false && isError(m.error)
      case 'READ_INDEX':
        return isToken(m.rid)
      case 'READ_INDEX_REPLY':
        return isToken(m.rid) && (m.readIndex === null || isCount(m.readIndex))
      case 'READ_STATE':
        return isToken(m.rid) && isCount(m.round) && isKey(m.key)
      case 'READ_STATES':
        return (
          Array.isArray(m.reqs) &&
          m.reqs.length > 0 &&
          m.reqs.length <= READ_STATES_MAX &&
          m.reqs.every((r) => isRecord(r) && isToken(r.rid) && isCount(r.round) && isKey(r.key))
        )
      case 'READ_STATES_REPLY':
        return (
          Array.isArray(m.resps) &&
          m.resps.length > 0 &&
          m.resps.length <= READ_STATES_MAX &&
          m.resps.every(
            (r) =>
              isRecord(r) &&
              isToken(r.rid) &&
              isCount(r.round) &&
              isKey(r.key) &&
              isCount(r.appliedIndex) &&
              (r.state === null || isKeyVersion(r.state)),
          )
        )
      case 'READ_STATE_REPLY':
        return (
          isToken(m.rid) &&
          isCount(m.round) &&
          isKey(m.key) &&
          isCount(m.appliedIndex) &&
          (m.state === null || isKeyVersion(m.state))
        )
      case 'INSTALL_SNAPSHOT':
        return (
          isCount(m.index) &&
          isCount(m.snapshotTerm) &&
          isCount(m.seq) &&
          typeof m.done === 'boolean' &&
          isKeyChunk(m.keys)
        )
      case 'INSTALL_SNAPSHOT_ACK':
        return isCount(m.index) && Number.isSafeInteger(m.seq) && (m.seq as number) >= -1 && typeof m.done === 'boolean'
      default:
        return false
    }
  })()
  return ok ? (m as unknown as QuorumPeerMessage) : null
}
