/**
 * The opaque causal context a read returns and a put may pass back (--context). It is the join of
 * the clocks of every sibling the read saw, so a put with it supersedes exactly those siblings.
 */
import {isValidClock, normalizeClock} from './vector-clock.js'
import type {Clock} from './types.js'

const PREFIX = 'c1.'

export function encodeContext(clock: Clock): string {
  const json = JSON.stringify(normalizeClock(clock))
  return PREFIX + btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** The clock inside a token, or null when the token is not one of ours. */
export function decodeContext(token: string): Clock | null {
  if (!token.startsWith(PREFIX) || token.length > 65536) return null
  try {
    const b64 = token.slice(PREFIX.length).replace(/-/g, '+').replace(/_/g, '/')
    const parsed: unknown = JSON.parse(atob(b64))
    return isValidClock(parsed) ? normalizeClock(parsed) : null
  } catch {
    return null
  }
}
