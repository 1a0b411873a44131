/**
 * Schema check of eventual-mode peer messages read from Redis. Returns the typed message or null;
 * the driver counts and drops nulls. Data-bearing messages are checked deeply (sibling sets must be
 * well-formed and pairwise concurrent) because they are what can change a replica's store.
 */
import {LIMITS} from '../core/limits.js'
import {isId, isKey, isRecord, isToken} from '../core/guards.js'
import {isValidSiblings} from './siblings.js'
import type {EventualPeerMessage, KeyState} from './messages.js'

const BUCKET_HASH = /^[0-9a-f]{16}$/

function isKeyState(x: unknown): x is KeyState {
  return isRecord(x) && isKey(x.key) && isValidSiblings(x.siblings)
}

function isStringList(x: unknown, max: number, item: (y: unknown) => boolean): x is string[] {
  return Array.isArray(x) && x.length <= max && x.every(item)
}

export function asEventualPeerMessage(m: Record<string, unknown>): EventualPeerMessage | null {
  if (!isId(m.from)) return null
  switch (m.type) {
    case 'hb':
      if (m.mode !== 'eventual' && m.mode !== 'quorum') return null
      if (!isStringList(m.members, LIMITS.membersMax, isId)) return null
      if (m.inc !== undefined && !isToken(m.inc, 16)) return null
      return m as unknown as EventualPeerMessage
    case 'repl':
      if (m.batch !== undefined && !isToken(m.batch)) return null
      if (!Array.isArray(m.entries) || m.entries.length > LIMITS.batchEntriesMax * 4) return null
      if (!m.entries.every(isKeyState)) return null
      return m as unknown as EventualPeerMessage
    case 'repl.ack':
      return isToken(m.batch) ? (m as unknown as EventualPeerMessage) : null
    case 'read.req':
      return isToken(m.id) && isKey(m.key) ? (m as unknown as EventualPeerMessage) : null
    case 'read.resp':
      return isToken(m.id) && isKey(m.key) && isValidSiblings(m.siblings) ? (m as unknown as EventualPeerMessage) : null
    case 'read.reqs':
      if (!Array.isArray(m.reqs) || m.reqs.length === 0 || m.reqs.length > LIMITS.batchEntriesMax * 4) return null
      return m.reqs.every((r) => isRecord(r) && isToken(r.id) && isKey(r.key))
        ? (m as unknown as EventualPeerMessage)
        : null
    case 'read.resps':
      if (!Array.isArray(m.resps) || m.resps.length === 0 || m.resps.length > LIMITS.batchEntriesMax * 4) return null
      return m.resps.every((r) => isRecord(r) && isToken(r.id) && isKey(r.key) && isValidSiblings(r.siblings))
        ? (m as unknown as EventualPeerMessage)
        : null
    case 'ae.digest':
      if (m.askEarlierLife !== undefined && !isToken(m.askEarlierLife, 16)) return null
      return isToken(m.id) && isStringList(m.buckets, 4096, (b) => typeof b === 'string' && BUCKET_HASH.test(b))
        ? (m as unknown as EventualPeerMessage)
        : null
    case 'ae.keys':
      if (!isToken(m.id) || (m.earlierLife !== undefined && typeof m.earlierLife !== 'boolean')) return null
      if (
        !Array.isArray(m.buckets) ||
        m.buckets.length > 4096 ||
        !m.buckets.every((b) => Number.isSafeInteger(b) && b >= 0)
      )
        return null
      if (!Array.isArray(m.keys) || m.keys.length > 100_000) return null
      if (
        !m.keys.every(
          (p) =>
            Array.isArray(p) && p.length === 2 && isKey(p[0]) && typeof p[1] === 'string' && BUCKET_HASH.test(p[1]),
        )
      )
        return null
      return m as unknown as EventualPeerMessage
    case 'ae.pull':
      return isToken(m.id) && isStringList(m.keys, 100_000, isKey) ? (m as unknown as EventualPeerMessage) : null
    default:
      return null
  }
}
