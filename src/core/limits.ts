/**
 * Every bound the system enforces, in one place. Inputs beyond them are refused with BAD_REQUEST
 * (client input) or dropped and counted (messages read from Redis).
 */
export const LIMITS = {
  /** Keys are 1..1024 UTF-8 bytes. */
  keyBytesMax: 1024,
  /** Values are at most 1 MiB of UTF-8. */
  valueBytesMax: 1024 * 1024,
  /**
   * Any message read from Redis larger than this is dropped unread. A key state of a few 1 MiB
   * siblings must still fit, and Redis disconnects a subscriber whose buffer passes 32 MiB.
   */
  messageBytesMax: 8 * 1024 * 1024,
  /** A write that would leave a key with more siblings than this is refused: resolve with --context. */
  siblingsPerKeyMax: 8,
  /** Replication and anti-entropy batches are cut at this many payload bytes (one entry always fits). */
  batchBytesMax: 1024 * 1024,
  /** ...or this many entries. */
  batchEntriesMax: 256,
  /** Replica ids: short, printable, no separators used in channel names. */
  idPattern: /^[A-Za-z0-9_-]{1,64}$/,
  /**
   * Actors in vector clocks and dots: a replica id, or `<id>.<tag>` for a later incarnation of a
   * replica that lost data (src/eventual/actor.ts).
   */
  actorPattern: /^[A-Za-z0-9_-]{1,64}(\.[a-z0-9]{1,13})?$/,
  /** Cluster names follow the same rule. */
  clusterPattern: /^[A-Za-z0-9_.-]{1,64}$/,
  /** A client request waits at most this long, whatever --timeout says. */
  requestTimeoutMsMax: 120_000,
  /** Members a cluster may have (bounds heartbeats, clocks and fan-out). */
  membersMax: 64,
  /** A --context token (both modes' tokens are far smaller; this bounds what a client may send). */
  contextBytesMax: 64 * 1024,
} as const

/*
 * The key, value and id rules and the words for breaking them. The client (validate-input.ts, before
 * anything is sent) and every replica (on each request) both ask these, so a user reads the same
 * message whichever side refused.
 */

/** Why a key is refused (empty or over LIMITS.keyBytesMax UTF-8 bytes), or null. */
export function checkKey(key: string): string | null {
  if (key.length === 0) return `the key is empty; keys are 1 to ${LIMITS.keyBytesMax} bytes of UTF-8`
  const bytes = utf8Bytes(key)
  if (bytes > LIMITS.keyBytesMax)
    return `the key is ${bytes} bytes, over the limit of ${LIMITS.keyBytesMax} bytes; use a shorter key`
  return null
}

/** Why a value is refused (over LIMITS.valueBytesMax UTF-8 bytes, 1 MiB), or null. */
export function checkValue(value: string): string | null {
  const bytes = utf8Bytes(value)
  if (bytes > LIMITS.valueBytesMax) {
    return `the value is ${bytes} bytes, over the limit of ${LIMITS.valueBytesMax} bytes (1 MiB); store a smaller value`
  }
  return null
}

/** Why a replica id is refused (outside LIMITS.idPattern), or null; `what` names it in the message (e.g. '--node'). */
export function checkId(id: string, what = 'replica id'): string | null {
  if (LIMITS.idPattern.test(id)) return null
  return `${what} ${JSON.stringify(id)} is not valid; ids are 1 to 64 letters, digits, '_' or '-'`
}

/** UTF-8 length without allocating a Buffer (the cores may not import node:buffer). */
export function utf8Bytes(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4
      i++
    } else n += 3
  }
  return n
}
