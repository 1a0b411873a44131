/**
 * The boundary between Redis and the cores: size limit, JSON parse, and a schema check. Anything
 * that fails is counted and dropped by the caller; nothing here throws on input.
 */
import {LIMITS, utf8Bytes} from '../core/limits.js'
import {isId, isRecord, isToken} from '../core/guards.js'
import {isReplicaCount} from '../core/replica-count.js'
import type {ClientRequest} from '../core/client-messages.js'
import type {FaultRequest} from './control-messages.js'

export type Decoded = {ok: true; msg: Record<string, unknown> & {type: string}} | {ok: false; reason: string}

/** Parse a raw pub/sub payload into an object with a string `type`, or say why not. */
export function decodeEnvelope(raw: Buffer | string): Decoded {
  const size = typeof raw === 'string' ? utf8Bytes(raw) : raw.length
  if (size > LIMITS.messageBytesMax) return {ok: false, reason: `oversized message (${size} bytes)`}
  let parsed: unknown
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'))
  } catch {
    return {ok: false, reason: 'not JSON'}
  }
  if (!isRecord(parsed)) return {ok: false, reason: 'not an object'}
  if (typeof parsed.type !== 'string' || parsed.type.length > 32) return {ok: false, reason: 'no type'}
  return {ok: true, msg: parsed as Record<string, unknown> & {type: string}}
}

export function encodeMessage(msg: object): string {
  return JSON.stringify(msg)
}

function isTimeout(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0 && x <= LIMITS.requestTimeoutMsMax
}

/**
 * A client request, or null. Size limits on key and value are NOT checked here: an oversized value
 * must reach the core so the client gets BAD_REQUEST instead of a timeout.
 */
export function asClientRequest(m: Record<string, unknown>): ClientRequest | null {
  if (!isToken(m.id) || !isToken(m.replyTo, 512)) return null
  switch (m.type) {
    case 'client.put':
      if (typeof m.key !== 'string' || !(typeof m.value === 'string' || m.value === null)) return null
      if (m.context !== undefined && !isToken(m.context, LIMITS.contextBytesMax)) return null
      if (m.w !== undefined && !isReplicaCount(m.w)) return null
      if (!isTimeout(m.timeoutMs)) return null
      return m as unknown as ClientRequest
    case 'client.read':
      if (typeof m.key !== 'string') return null
      if (m.r !== undefined && !isReplicaCount(m.r)) return null
      if (!isTimeout(m.timeoutMs)) return null
      return m as unknown as ClientRequest
    case 'client.status':
      return m as unknown as ClientRequest
    default:
      return null
  }
}

export function asFaultRequest(m: Record<string, unknown>): FaultRequest | null {
  if (m.type !== 'fault' || !isToken(m.id) || !isToken(m.replyTo, 512)) return null
  if (m.partition === null) return m as unknown as FaultRequest
  if (!Array.isArray(m.partition) || m.partition.length > LIMITS.membersMax) return null
  for (const group of m.partition) {
    if (!Array.isArray(group) || group.length > LIMITS.membersMax || !group.every(isId)) return null
  }
  return m as unknown as FaultRequest
}
