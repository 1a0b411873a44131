/**
 * The signed envelope every message of an authenticated cluster travels in, and the MAC over it.
 * Pure functions: no state, no clock, no randomness (the caller brings its keys, counters and epochs).
 *
 *   k1|KID|FROM|INC|SEQ|EP|TO|TAG|BODY
 *
 * - KID: which cluster key made the MAC (8 chars; two keys are accepted during a rotation);
 * - FROM, INC, SEQ: the sender's id, the random incarnation of its process and a counter that goes
 *   up by one per message: (FROM, INC, SEQ) names each message once, which is what replay windows track;
 * - EP: the sender's own current receive epoch ("-" for clients), so that receivers learn it;
 * - TO: the receivers' epochs the sender knows, `id=epoch,…` ("-" for none): a receiver accepts only
 *   messages that name one of its own last two epochs (freshness without shared clocks);
 * - TAG: base64url HMAC-SHA-256 over the LABEL (the channel the message was meant for, which the
 *   receiver supplies from where the message arrived), the seven header fields and the BODY;
 * - BODY: the message's JSON, unchanged.
 *
 * The receiver finds the fields with indexOf on the raw bytes and checks the tag in constant time
 * (timingSafeEqual) before anything parses the body.
 */
import {createHmac, timingSafeEqual} from 'node:crypto'

export const ENVELOPE_VERSION = 'k1'
const SEP = 0x7c // '|'
const FIELDS_BEFORE_BODY = 8 // version, kid, from, inc, seq, ep, to, tag
/** The header never needs more than this (64 members × an id and an epoch each, and the rest). */
export const HEADER_BYTES_MAX = 8192
/** base64url of 32 bytes, unpadded: 43 characters. */
const TAG = /^[A-Za-z0-9_-]{43}$/

/** A key of one cluster: derived from a secret and the cluster's name (keys.ts). */
export interface ClusterKey {
  readonly id: string
  readonly key: Buffer
}

/** What a sealed message says about itself (only trusted once `verifyTag` said so). */
export interface Envelope {
  readonly kid: string
  readonly from: string
  readonly inc: string
  readonly seq: number
  /** The sender's receive epoch, or null for a client. */
  readonly ep: string | null
  /** Receiver id → the epoch of it the sender named. */
  readonly to: string
  readonly tag: Buffer
  /** Bytes covered by the tag after the label: from the start through the `|` after TO. */
  readonly signedHeader: Buffer
  readonly body: Buffer
}

export interface SealFields {
  readonly from: string
  readonly inc: string
  readonly seq: number
  readonly ep: string | null
  /** Receiver epochs to name (already encoded with encodeStamps), or '' for none. */
  readonly to: string
}

/** Receivers' epochs as the TO field carries them. */
export function encodeStamps(stamps: Iterable<readonly [string, string]>): string {
  let out = ''
  for (const [id, ep] of stamps) out += out ? `,${id}=${ep}` : `${id}=${ep}`
  return out
}

/** The epoch that TO names for `id`, or null. */
export function stampFor(to: string, id: string): string | null {
  if (to === '-') return null
  const needle = `${id}=`
  let at = 0
  while (at < to.length) {
    const end = to.indexOf(',', at)
    const item = end === -1 ? to.slice(at) : to.slice(at, end)
    if (item.startsWith(needle)) return item.slice(needle.length)
    if (end === -1) break
    at = end + 1
  }
  return null
}

/** The whole wire string: header, tag over label + header + body, body. */
export function seal(key: ClusterKey, label: string, f: SealFields, body: string): string {
  const header = `${ENVELOPE_VERSION}|${key.id}|${f.from}|${f.inc}|${f.seq}|${f.ep ?? '-'}|${f.to || '-'}|`
  const tag = createHmac('sha256', key.key).update(label).update('\n').update(header).update(body).digest('base64url')
  return `${header}${tag}|${body}`
}

/** True when the raw message looks like an envelope (it may still be forged). */
export function looksSealed(raw: Buffer | string): boolean {
  return typeof raw === 'string'
    ? raw.startsWith(`${ENVELOPE_VERSION}|`)
    : raw.length > 3 && raw[0] === 0x6b && raw[1] === 0x31 && raw[2] === SEP
}

/** Splits an envelope into its fields, or null when the header is malformed. Trusts nothing yet. */
export function parseEnvelope(raw: Buffer | string): Envelope | null {
  const buf = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw
  // The header is ASCII: find its end (the eighth '|'), decode it once and split it.
  let end = -1
  for (let i = 0; i < FIELDS_BEFORE_BODY; i++) {
    end = buf.indexOf(SEP, end + 1)
    if (end === -1 || end > HEADER_BYTES_MAX) return null
  }
  const fields = buf.toString('latin1', 0, end).split('|')
  if (fields.length !== FIELDS_BEFORE_BODY || fields[0] !== ENVELOPE_VERSION) return null
  const [, kid = '', from = '', inc = '', seqText = '', ep = '', to = '', tagText = ''] = fields
  if (!TOKEN.test(kid) || !TOKEN.test(from) || !TOKEN.test(inc) || !(ep === '-' || TOKEN.test(ep))) return null
  if (!/^[0-9]{1,15}$/.test(seqText) || !(to === '-' || STAMPS.test(to)) || !TAG.test(tagText)) return null
  // Node's decoder also takes '+' and '/' and ignores the last character's two spare bits: only the
  // one canonical spelling of a tag counts, so a message has exactly one valid form.
  const tag = Buffer.from(tagText, 'base64url')
  if (tag.length !== 32 || tag.toString('base64url') !== tagText) return null
  return {
    kid,
    from,
    inc,
    seq: Number(seqText),
    ep: ep === '-' ? null : ep,
    to,
    tag,
    signedHeader: buf.subarray(0, end - tagText.length),
    body: buf.subarray(end + 1),
  }
}

const TOKEN = /^[A-Za-z0-9_.-]{1,96}$/
const STAMPS = /^[A-Za-z0-9_-]{1,64}=[A-Za-z0-9_-]{1,32}(,[A-Za-z0-9_-]{1,64}=[A-Za-z0-9_-]{1,32})*$/

/** Whether `env` was sealed with `key` for `label`; constant time in the tag comparison. */
export function verifyTag(key: ClusterKey, label: string, env: Envelope): boolean {
  const expected = createHmac('sha256', key.key)
    .update(label)
    .update('\n')
    .update(env.signedHeader)
    .update(env.body)
    .digest()
  return timingSafeEqual(expected, env.tag)
}
