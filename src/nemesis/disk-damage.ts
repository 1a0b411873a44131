/**
 * The nemesis's disk faults, applied to a killed replica's data directory before it restarts:
 * `wipe` deletes the directory; `corrupt` flips one byte of `log.bin` or `snapshot.json`.
 *
 * The flip must be corruption, not a crash: only the very end of a log may be torn by a crash, so a
 * byte is flipped inside the payload of a frame that is not the last one (the CRC covers the payload,
 * and the intact frames after it show the reader that this is no torn tail), and a snapshot's byte
 * lies in its body, after the header line that carries the body's CRC. Choosing the offset is pure
 * (and unit-tested); only applyWipe and applyCorrupt touch the disk.
 */
import {readFile, open, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {FRAME_HEADER_BYTES, RECORD_BYTES_MAX} from '../storage/log-frames.js'
import type {CorruptSpec} from './fault-plan.js'

export const LOG_FILE = 'log.bin'
export const SNAPSHOT_FILE = 'snapshot.json'

/** A log with fewer complete frames than this is left alone: there is no "middle" to damage. */
export const LOG_FRAMES_MIN = 3

/** One complete frame of log.bin: [start, payloadStart) is its header, [payloadStart, end) its payload. */
export interface FrameSpan {
  readonly start: number
  readonly payloadStart: number
  readonly end: number
}

/**
 * The complete frames at the start of a log.bin image (storage/log-frames.ts: a header that starts
 * with the payload length, then the payload), read by their length prefix; stops at the first frame
 * that is torn or claims an absurd length. CRCs are not checked: this finds where frames are, not
 * whether they are intact (a log the replica had already cut short is just shorter).
 */
export function logFrames(data: Uint8Array): FrameSpan[] {
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  const frames: FrameSpan[] = []
  let at = 0
  while (data.length - at >= FRAME_HEADER_BYTES) {
    const length = view.readUInt32BE(at)
    if (length > RECORD_BYTES_MAX || data.length - at - FRAME_HEADER_BYTES < length) break
    frames.push({start: at, payloadStart: at + FRAME_HEADER_BYTES, end: at + FRAME_HEADER_BYTES + length})
    at += FRAME_HEADER_BYTES + length
  }
  return frames
}

/**
 * The offset to damage in a log.bin image: a payload byte of one of the frames before the last
 * complete one (a torn partial frame after it is not counted either), `position` ∈ [0, 1) of the way
 * through those payload bytes taken end to end. Null when the log has fewer than LOG_FRAMES_MIN
 * complete frames. Called by applyCorrupt; the plan draws `position`.
 */
export function logFlipOffset(data: Uint8Array, position: number): number | null {
  const frames = logFrames(data)
  if (frames.length < LOG_FRAMES_MIN) return null
  const before = frames.slice(0, -1).filter((f) => f.end > f.payloadStart)
  const total = before.reduce((n, f) => n + (f.end - f.payloadStart), 0)
  if (total === 0) return null
  let skip = Math.min(total - 1, Math.floor(clamp01(position) * total))
  for (const f of before) {
    const size = f.end - f.payloadStart
    if (skip < size) return f.payloadStart + skip
    skip -= size
  }
  return null // unreachable: skip < total
}

/**
 * The offset to damage in a snapshot.json image: a byte of the body (after the first newline, which
 * ends the header line), `position` of the way through it. Null when there is no body.
 */
export function snapshotFlipOffset(data: Uint8Array, position: number): number | null {
  const newline = data.indexOf(0x0a)
  const bodyStart = newline < 0 ? 0 : newline + 1
  const size = data.length - bodyStart
  if (size <= 0) return null
  return bodyStart + Math.min(size - 1, Math.floor(clamp01(position) * size))
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0
}

/** Deletes a killed replica's data directory entirely; returns a line for the run's history. */
export async function applyWipe(dir: string): Promise<string> {
  const files = await Promise.all([LOG_FILE, SNAPSHOT_FILE].map(async (f) => `${f} ${await sizeOf(join(dir, f))}`))
  await rm(dir, {recursive: true, force: true})
  return `wiped ${dir} (had ${files.join(', ')})`
}

/**
 * Flips one byte of a killed replica's log.bin or snapshot.json, as `spec` asks, or of the other
 * file if that one cannot be damaged (missing, or too few log frames). Returns a line for the run's
 * history saying what was flipped, or that nothing could be (the fault is then a plain kill).
 */
export async function applyCorrupt(dir: string, spec: CorruptSpec): Promise<string> {
  const order: CorruptSpec['file'][] = spec.file === 'log' ? ['log', 'snapshot'] : ['snapshot', 'log']
  const skipped: string[] = []
  for (const file of order) {
    const name = file === 'log' ? LOG_FILE : SNAPSHOT_FILE
    const path = join(dir, name)
    const data = await readFile(path).catch(() => null)
    if (data === null) {
      skipped.push(`no ${name}`)
      continue
    }
    const offset = file === 'log' ? logFlipOffset(data, spec.position) : snapshotFlipOffset(data, spec.position)
    if (offset === null) {
      skipped.push(
        file === 'log'
          ? `${name} has ${logFrames(data).length} complete frame(s), fewer than ${LOG_FRAMES_MIN}`
          : `${name} has no body`,
      )
      continue
    }
    const was = data[offset] as number
    const now = was ^ spec.mask
    const fh = await open(path, 'r+')
    try {
      await fh.write(Buffer.of(now), 0, 1, offset)
      await fh.sync()
    } finally {
      await fh.close()
    }
    const where = file === 'log' ? `, ${logFrames(data).length} frames` : ''
    const also = skipped.length ? ` (${skipped.join('; ')})` : ''
    return `flipped byte ${offset} of ${path} (${data.length} bytes${where}) from 0x${hex(was)} to 0x${hex(now)}${also}`
  }
  return `nothing to corrupt in ${dir} (${skipped.join('; ')}): a plain kill`
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0')
}

async function sizeOf(path: string): Promise<string> {
  return stat(path).then(
    (s) => `${s.size} bytes`,
    () => 'missing',
  )
}
