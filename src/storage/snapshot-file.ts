/**
 * One snapshot of a replica's state in one file, replaced atomically (write temp, fsync, rename,
 * fsync the directory), so a crash leaves either the old snapshot or the new one, never a mix.
 *
 * Format: a header line `{"format":2,"crc32":N,"length":N,"lastSeq":N}\n`, then `length` bytes of UTF-8
 * JSON; `crc32` is the CRC32 of `<lastSeq>\n` followed by the body. The header lets a reader tell a torn or bit-flipped file from a good one
 * instead of trusting whatever JSON.parse happens to accept; `lastSeq` is the seq of the last log
 * record the state includes (see log-frames.ts), so recovery can tell whether the log continues it.
 */
import {open, readFile, rename, rm, stat} from 'node:fs/promises'
import {dirname} from 'node:path'
import {crc32} from 'node:zlib'

/** The only format this module writes and reads. */
export const SNAPSHOT_FORMAT = 2

/**
 * Largest snapshot body. V8 cannot hold a much longer string, so a bigger state could not be
 * serialised anyway, and a header claiming more is corrupt.
 */
export const SNAPSHOT_BYTES_MAX = 1024 * 1024 * 1024

/** A header line longer than this means the file is not a snapshot we wrote. */
const HEADER_BYTES_MAX = 256

interface SnapshotHeader {
  format: number
  crc32: number
  length: number
  lastSeq: number
}

/** What reading a snapshot found: nothing, a good state, or a file that cannot be used (and why). */
export type SnapshotRead<S> =
  | {readonly kind: 'missing'}
  | {readonly kind: 'ok'; readonly state: S; readonly lastSeq: number}
  | {readonly kind: 'bad'; readonly reason: string}

/**
 * Serialises `state` into the snapshot file format. DurableStore.compact calls it at call time, so
 * the snapshot holds the state as passed even if the caller mutates it while the write is queued.
 * Throws on null/undefined (readSnapshot uses null for "no snapshot") and on oversized states.
 */
export function encodeSnapshot(state: unknown, lastSeq: number): Buffer {
  const json = state === null ? undefined : JSON.stringify(state)
  if (json === undefined) throw new TypeError('snapshot state must be a JSON value other than null')
  const body = Buffer.from(json, 'utf8')
  if (body.length > SNAPSHOT_BYTES_MAX) {
    throw new RangeError(`snapshot of ${body.length} bytes exceeds the ${SNAPSHOT_BYTES_MAX}-byte limit`)
  }
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT,
    crc32: snapshotCrc(body, lastSeq),
    length: body.length,
    lastSeq,
  }
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n', 'utf8'), body])
}

/**
 * Atomically replaces the snapshot at `path` with already-encoded bytes; resolves once the new file
 * and its directory entry are durable. Only one writer per path at a time (they share `path.tmp`):
 * DurableStore guarantees that by running compactions through the log's queue.
 */
export async function writeEncodedSnapshot(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = path + '.tmp'
  try {
    const fh = await open(tmp, 'w')
    try {
      await fh.writeFile(bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (e) {
    // Leave the previous snapshot as it was; the half-written temp file is useless.
    await rm(tmp, {force: true})
    throw e
  }
  // Without this the rename itself may not survive a power cut.
  await syncDirectory(dirname(path))
}

/** Serialises and atomically writes a snapshot; see encodeSnapshot and writeEncodedSnapshot. */
export async function writeSnapshot(path: string, state: unknown, lastSeq: number): Promise<void> {
  await writeEncodedSnapshot(path, encodeSnapshot(state, lastSeq))
}

/**
 * Reads the snapshot at `path`; DurableStore.open calls it at startup, before anything writes.
 * It never throws on content, only on real I/O errors: the recovery policy decides what a missing or
 * bad snapshot means. A leftover `path.tmp` (a crash mid-write) is removed: the rename never
 * happened, so the previous snapshot is still the current one.
 */
export async function readSnapshot<S>(path: string): Promise<SnapshotRead<S>> {
  await rm(path + '.tmp', {force: true})
  let data: Buffer
  try {
    const {size} = await stat(path)
    if (size > HEADER_BYTES_MAX + SNAPSHOT_BYTES_MAX)
      return {kind: 'bad', reason: `file is ${size} bytes, larger than any snapshot`}
    data = await readFile(path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {kind: 'missing'}
    throw e
  }
  return decodeSnapshot<S>(data)
}

/**
 * fsyncs a directory so that entries created or renamed in it are durable. Used after the snapshot
 * rename and by RecordLog.open, whose freshly created log file must not vanish in a power cut.
 */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Decodes a snapshot file's bytes (the real file's or the simulator's); never throws on content. */
export function decodeSnapshot<S>(data: Buffer): SnapshotRead<S> {
  const found = decodeBody(data)
  return typeof found === 'string'
    ? {kind: 'bad', reason: found}
    : {kind: 'ok', state: found.state as S, lastSeq: found.lastSeq}
}

/** The parsed state, or a string saying why the bytes are not a valid snapshot. */
function decodeBody(data: Buffer): {state: unknown; lastSeq: number} | string {
  const newline = data.subarray(0, HEADER_BYTES_MAX + 1).indexOf(0x0a)
  if (newline < 0) return data.length === 0 ? 'file is empty' : 'no header line'
  let header: unknown
  try {
    header = JSON.parse(data.subarray(0, newline).toString('utf8'))
  } catch {
    return 'header is not JSON'
  }
  if (!isHeader(header)) return 'header is not {format, crc32, length, lastSeq}'
  if (header.format !== SNAPSHOT_FORMAT) return `unknown format ${header.format} (this build reads ${SNAPSHOT_FORMAT})`
  const body = data.subarray(newline + 1)
  if (body.length !== header.length)
    return `body is ${body.length} bytes but the header says ${header.length} (torn write?)`
  if (snapshotCrc(body, header.lastSeq) !== header.crc32) return 'CRC32 mismatch (the body or its lastSeq is damaged)'
  try {
    return {state: JSON.parse(body.toString('utf8')), lastSeq: header.lastSeq}
  } catch {
    return 'body is not valid JSON'
  }
}

/** The CRC covers lastSeq too: a flipped digit there would silently skip log records. */
function snapshotCrc(body: Buffer, lastSeq: number): number {
  return crc32(body, crc32(`${lastSeq}\n`))
}

function isHeader(x: unknown): x is SnapshotHeader {
  if (typeof x !== 'object' || x === null) return false
  const h = x as Record<string, unknown>
  return (
    Number.isInteger(h.format) &&
    Number.isInteger(h.crc32) &&
    (h.crc32 as number) >= 0 &&
    Number.isInteger(h.length) &&
    (h.length as number) >= 0 &&
    (h.length as number) <= SNAPSHOT_BYTES_MAX &&
    Number.isSafeInteger(h.lastSeq) &&
    (h.lastSeq as number) >= 0
  )
}
