/**
 * The opaque causal context a read returns and a put may pass back (--context). It is the join of
 * the clocks of every sibling the read saw, so a put with it supersedes exactly those siblings.
 *
 * A token names the key it was read from (by hash). Dot coverage is per key: a clock read from key
 * "a" says nothing about which writes of key "b" its holder saw, so a put on "b" carrying it would
 * supersede versions of "b" nobody read — silently losing acknowledged writes (found by the
 * eventual-history checker's fuzzing). Such a token is refused instead.
 */
import {hashString} from '../core/hash.js'
import {LIMITS} from '../core/limits.js'
import {isPlainRecord, isValidClock, normalizeClock} from './vector-clock.js'
import type {Clock} from './types.js'

const PREFIX = 'c2.'

/** Called by the eventual replica for every read and put reply: the token for `clock`, bound to `key`. */
export function encodeContext(key: string, clock: Clock): string {
  const json = JSON.stringify({k: hashString(key), c: normalizeClock(clock)})
  return PREFIX + btoa(json).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** What a token holds: the clock, or why it cannot be used for a put on `key`. */
export type DecodedContext = {ok: true; clock: Clock} | {ok: false; reason: 'malformed' | 'other-key'}

/** Called by the eventual replica for a put's --context, and by the nemesis to read final states. */
export function decodeContext(token: string, key: string): DecodedContext {
  if (!token.startsWith(PREFIX) || token.length > LIMITS.contextBytesMax) return {ok: false, reason: 'malformed'}
  let parsed: unknown
  try {
    parsed = JSON.parse(atob(token.slice(PREFIX.length).replace(/-/g, '+').replace(/_/g, '/')))
  } catch {
    return {ok: false, reason: 'malformed'}
  }
  if (
    !isPlainRecord(parsed) ||
    typeof parsed.k !== 'string' ||
    !isValidClock(parsed.c) ||
    Object.keys(parsed).length !== 2
  ) {
    return {ok: false, reason: 'malformed'}
  }
  if (parsed.k !== hashString(key)) return {ok: false, reason: 'other-key'}
  return {ok: true, clock: normalizeClock(parsed.c)}
}
