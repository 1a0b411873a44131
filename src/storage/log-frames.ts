/**
 * The log's on-disk frame, shared by the real log file (record-log.ts) and the simulator's disk, so
 * both decode (and judge damage) with the same code:
 *
 *   [payload length: u32 BE][CRC32 of seq+payload: u32 BE][seq: u64 BE as two u32][payload: UTF-8 JSON]
 *
 * `seq` numbers every record a data directory ever held, from 1, without gaps, across compactions
 * (a snapshot says up to which seq it covers). That is what lets recovery tell a log that continues
 * its snapshot from one that lost records in between.
 */
import {crc32} from 'node:zlib'

/** Largest payload of one frame: bigger records are refused, and a bigger length on disk is corruption. */
export const RECORD_BYTES_MAX = 64 * 1024 * 1024

export const FRAME_HEADER_BYTES = 16

/** One decoded frame. */
export interface Frame<R> {
  readonly seq: number
  readonly record: R
}

/** Where and why decoding stopped before the end of the data. */
export interface BadFrame {
  /** Byte offset of the first frame that could not be read. */
  readonly offset: number
  readonly reason: string
  /**
   * A well-formed frame (plausible length, matching CRC) starts somewhere after `offset`: the damage
   * is in the middle of the log, not a torn tail, and the records after it are lost to us.
   */
  readonly goodFrameAfter: boolean
}

export interface DecodedLog<R> {
  readonly frames: Frame<R>[]
  /** Length of the good prefix (where a repair truncates). */
  readonly goodBytes: number
  readonly bad: BadFrame | null
}

/** Encodes one record with its sequence number. Throws on undefined and on records over RECORD_BYTES_MAX. */
export function encodeFrame(seq: number, record: unknown): Buffer {
  // lib.d.ts says string, but undefined (and functions, symbols) stringify to undefined.
  const json = JSON.stringify(record) as string | undefined
  if (json === undefined) throw new TypeError('a log record must be a JSON value, not undefined')
  const payload = Buffer.from(json, 'utf8')
  if (payload.length > RECORD_BYTES_MAX) {
    throw new RangeError(`log record of ${payload.length} bytes exceeds the ${RECORD_BYTES_MAX}-byte limit`)
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  frame.writeUInt32BE(payload.length, 0)
  frame.writeUInt32BE(Math.floor(seq / 2 ** 32), 8)
  frame.writeUInt32BE(seq >>> 0, 12)
  payload.copy(frame, FRAME_HEADER_BYTES)
  frame.writeUInt32BE(crc32(payload, crc32(frame.subarray(8, 16))), 4)
  return frame
}

/**
 * Decodes the longest good prefix of `data`. A frame is good when its length is sane, its CRC
 * matches, its payload is JSON and its seq is the previous one plus 1 (the first may be any seq ≥ 1).
 * Never throws on content.
 */
export function decodeFrames<R>(data: Buffer): DecodedLog<R> {
  const frames: Frame<R>[] = []
  let offset = 0
  // `intactHere`: the frame at `offset` itself is whole (e.g. the wrong seq), so this is no torn tail.
  const stop = (reason: string, intactHere = false): DecodedLog<R> => ({
    frames,
    goodBytes: offset,
    bad: {offset, reason, goodFrameAfter: intactHere || findFrameAfter(data, offset + 1)},
  })
  while (offset < data.length) {
    const left = data.length - offset
    if (left < FRAME_HEADER_BYTES) return stop(`torn frame header: ${left} of ${FRAME_HEADER_BYTES} bytes`)
    const length = data.readUInt32BE(offset)
    if (length > RECORD_BYTES_MAX) return stop(`frame length ${length} exceeds the ${RECORD_BYTES_MAX}-byte limit`)
    if (left - FRAME_HEADER_BYTES < length) return stop(`torn payload: ${left - FRAME_HEADER_BYTES} of ${length} bytes`)
    if (!crcMatches(data, offset, length)) return stop('CRC32 mismatch')
    const seq = readSeq(data, offset)
    const expected = frames.length === 0 ? null : (frames.at(-1) as Frame<R>).seq + 1
    if (seq < 1 || (expected !== null && seq !== expected)) {
      return stop(
        `record seq ${seq} where ${expected ?? 'a seq of at least 1'} was expected (records are missing)`,
        true,
      )
    }
    let record: R
    try {
      record = JSON.parse(data.toString('utf8', offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length)) as R
    } catch {
      return stop('payload is not valid JSON')
    }
    frames.push({seq, record})
    offset += FRAME_HEADER_BYTES + length
  }
  return {frames, goodBytes: offset, bad: null}
}

function readSeq(data: Buffer, offset: number): number {
  return data.readUInt32BE(offset + 8) * 2 ** 32 + data.readUInt32BE(offset + 12)
}

function crcMatches(data: Buffer, offset: number, length: number): boolean {
  const seqAndPayload = data.subarray(offset + 8, offset + FRAME_HEADER_BYTES + length)
  return crc32(seqAndPayload) === data.readUInt32BE(offset + 4)
}

/**
 * True if a whole frame with a matching CRC starts at any offset from `from` on. A torn tail (a
 * crash mid-append) holds at most the beginning of one frame, so a good frame after the damage
 * means the damage is not a torn tail. A random 32-bit CRC match is possible but needs ~2^32 tries.
 */
function findFrameAfter(data: Buffer, from: number): boolean {
  for (let at = from; at + FRAME_HEADER_BYTES <= data.length; at++) {
    const length = data.readUInt32BE(at)
    if (length > RECORD_BYTES_MAX || at + FRAME_HEADER_BYTES + length > data.length) continue
    if (crcMatches(data, at, length)) return true
  }
  return false
}
