/**
 * One snapshot of a replica's state in one file, replaced atomically (write temp, fsync, rename,
 * fsync the directory), so a crash leaves either the old snapshot or the new one, never a mix.
 *
 * Format 3 (written): written and read in bounded pieces, so that neither a compaction nor a start
 * ever holds the whole encoded state, or one parse tree of all of it, in memory (a million keys are
 * ~200 MB of JSON; one JSON.parse of that built a second copy of the store beside the core's own).
 * - a header line `{"format":3,"lastSeq":N,"keys":B,"headLength":N,"headCrc":N}\n`;
 * - the head: `headLength` bytes of JSON, the state without its `keys` (`keys: B` says whether the
 *   state had a `keys` array, which follows in chunks); `headCrc` is the CRC32 of `<lastSeq>\n` + head;
 * - chunks: each a 12-byte prefix (u32 BE body length > 0, u32 key count > 0, u32 CRC32 of the
 *   prefix's first 8 bytes + body) and a body: a JSON array of up to KEYS_PER_CHUNK [key, value] pairs;
 * - a 28-byte trailer: u32 0 (where a chunk's length would be), u32 chunk count, u64 key count,
 *   u64 lastSeq, u32 CRC32 of those 24 bytes continuing a CRC over the head's CRC and every chunk's
 *   CRC in order; then the end of the file.
 * So a torn file (it ends before the trailer), a flipped byte anywhere, a reordered, dropped or
 * repeated chunk and a changed lastSeq or key count all read as 'bad', never as a shorter state.
 *
 * Format 2 (still read, so a replica upgraded in place keeps its snapshot): a header line
 * `{"format":2,"crc32":N,"length":N,"lastSeq":N}\n`, then `length` bytes of JSON, the CRC32 covering
 * `<lastSeq>\n` and the body. Format 1 and unknown formats are 'bad'.
 *
 * `lastSeq` is the seq of the last log record the state includes (see log-frames.ts), so recovery can
 * tell whether the log continues it.
 *
 * Reading is synchronous (readSync): the core's restore() is synchronous and consumes `keys` as it
 * goes, the simulator is synchronous, and a replica reads its snapshot once, before it serves.
 */
import {closeSync, openSync, readSync} from 'node:fs'
import {open, readFile, rename, rm, stat} from 'node:fs/promises'
import {dirname} from 'node:path'
import {crc32} from 'node:zlib'

/** The format this module writes (it reads SNAPSHOT_FORMAT_V2 too). */
export const SNAPSHOT_FORMAT = 3
/** The previous, single-JSON-document format: still read, never written. */
export const SNAPSHOT_FORMAT_V2 = 2

/**
 * Largest format-2 body, and largest format-3 head. V8 cannot hold a much longer string, so a header
 * claiming more is corrupt.
 */
export const SNAPSHOT_BYTES_MAX = 1024 * 1024 * 1024

/** Keys per chunk: small enough that a chunk's parse tree is tiny, large enough that prefixes cost nothing. */
export const KEYS_PER_CHUNK = 1024
/** A chunk is closed early once its body reaches this many bytes (large values). */
const CHUNK_TARGET_BYTES = 1024 * 1024
/** Largest chunk body (one key's state may be large); a prefix claiming more is corrupt. */
export const CHUNK_BYTES_MAX = 64 * 1024 * 1024

/** A header line longer than this means the file is not a snapshot we wrote. */
const HEADER_BYTES_MAX = 256
const PREFIX_BYTES = 12
const TRAILER_BYTES = 28
/** Bytes gathered before one write() while streaming a snapshot out, and read ahead while reading. */
const IO_BYTES = 1024 * 1024

interface HeaderV2 {
  format: 2
  crc32: number
  length: number
  lastSeq: number
}

interface HeaderV3 {
  format: 3
  lastSeq: number
  keys: boolean
  headLength: number
  headCrc: number
}

/** What reading a snapshot found: nothing, a good state, or a file that cannot be used (and why). */
export type SnapshotRead<S> =
  | {readonly kind: 'missing'}
  | {readonly kind: 'ok'; readonly state: S; readonly lastSeq: number}
  | {readonly kind: 'bad'; readonly reason: string}

/** Why some bytes are not a valid snapshot; thrown inside this module, returned as {kind: 'bad'}. */
class BadSnapshot extends Error {}

// ---- writing ---------------------------------------------------------------------------------

/**
 * The snapshot file's bytes for `state`, as a sequence of buffers produced on demand. DurableStore.compact
 * calls it when compact is called and consumes it later, in the log's queue: everything but `keys`
 * is serialised now, and `keys` (an array of [key, value] pairs, or any iterable of them) is copied
 * now as a list of references, so the snapshot holds the state as passed even if the caller goes on
 * adding, replacing or removing keys. The pairs and their values must not be mutated in place
 * (both cores replace a key's value, never edit it). Throws at once on null/undefined (readSnapshot
 * uses null for "no snapshot") and on a head over SNAPSHOT_BYTES_MAX; a value that cannot be
 * serialised, or a chunk over CHUNK_BYTES_MAX, throws while the buffers are produced.
 */
export function snapshotChunks(state: unknown, lastSeq: number): Iterable<Buffer> {
  if (state === null || state === undefined) throw new TypeError('snapshot state must be a JSON value other than null')
  invariantSeq(lastSeq)
  const streamed = isStreamable(state)
  const keys = streamed ? Array.from(state.keys) : []
  const rest = streamed ? {...state, keys: undefined} : state
  // JSON.stringify gives undefined for undefined, a function or a symbol, whatever its type says.
  const headJson = JSON.stringify(rest) as string | undefined
  if (headJson === undefined) throw new TypeError('snapshot state must be a JSON value other than null')
  const head = Buffer.from(headJson, 'utf8')
  if (head.length > SNAPSHOT_BYTES_MAX) {
    throw new RangeError(`snapshot head of ${head.length} bytes exceeds the ${SNAPSHOT_BYTES_MAX}-byte limit`)
  }
  const headCrc = crc32(head, crc32(`${lastSeq}\n`))
  const header: HeaderV3 = {format: 3, lastSeq, keys: streamed, headLength: head.length, headCrc}
  return {
    *[Symbol.iterator]() {
      yield Buffer.concat([Buffer.from(JSON.stringify(header) + '\n', 'utf8'), head])
      let chain = crc32(u32(headCrc))
      let chunks = 0
      for (let from = 0; from < keys.length;) {
        const parts: string[] = []
        let bytes = 0
        for (; from < keys.length && parts.length < KEYS_PER_CHUNK && bytes < CHUNK_TARGET_BYTES; from++) {
          const part = encodePair(keys[from])
          parts.push(part)
          bytes += part.length + 1
        }
        const body = Buffer.from('[' + parts.join(',') + ']', 'utf8')
        if (body.length > CHUNK_BYTES_MAX) {
          throw new RangeError(`a snapshot chunk of ${body.length} bytes exceeds the ${CHUNK_BYTES_MAX}-byte limit`)
        }
        const prefix = Buffer.alloc(PREFIX_BYTES)
        prefix.writeUInt32BE(body.length, 0)
        prefix.writeUInt32BE(parts.length, 4)
        const crc = crc32(body, crc32(prefix.subarray(0, 8)))
        prefix.writeUInt32BE(crc, 8)
        chain = crc32(u32(crc), chain)
        chunks++
        yield prefix
        yield body
      }
      yield trailer(chunks, keys.length, lastSeq, chain)
    },
  }
}

/** All of snapshotChunks in one buffer: the simulator's disk, and tests. */
export function encodeSnapshot(state: unknown, lastSeq: number): Buffer {
  return Buffer.concat([...snapshotChunks(state, lastSeq)])
}

/**
 * Atomically replaces the snapshot at `path` with `chunks`, written as they are produced (at most
 * IO_BYTES gathered per write), so a big state is never encoded whole; resolves once the new file
 * and its directory entry are durable. If producing or writing fails, the previous snapshot stays
 * and the temp file is removed. Only one writer per path at a time (they share `path.tmp`):
 * DurableStore guarantees that by running compactions through the log's queue.
 */
export async function writeSnapshotChunks(path: string, chunks: Iterable<Uint8Array>): Promise<void> {
  const tmp = path + '.tmp'
  try {
    const fh = await open(tmp, 'w')
    try {
      let pending: Uint8Array[] = []
      let pendingBytes = 0
      const flush = async () => {
        const buf = Buffer.concat(pending, pendingBytes)
        pending = []
        pendingBytes = 0
        for (let at = 0; at < buf.length;) at += (await fh.write(buf, at, buf.length - at)).bytesWritten
      }
      for (const chunk of chunks) {
        pending.push(chunk)
        pendingBytes += chunk.length
        if (pendingBytes >= IO_BYTES) await flush()
      }
      await flush()
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

/** Atomically replaces the snapshot at `path` with already-encoded bytes; see writeSnapshotChunks. */
export async function writeEncodedSnapshot(path: string, bytes: Uint8Array): Promise<void> {
  await writeSnapshotChunks(path, [bytes])
}

/** Serialises and atomically writes a snapshot; see snapshotChunks and writeSnapshotChunks. */
export async function writeSnapshot(path: string, state: unknown, lastSeq: number): Promise<void> {
  await writeSnapshotChunks(path, snapshotChunks(state, lastSeq))
}

// ---- reading ---------------------------------------------------------------------------------

/**
 * Reads the snapshot at `path`; DurableStore.open calls it at startup, before anything writes.
 * It never throws on content, only on real I/O errors: the recovery policy decides what a missing or
 * bad snapshot means. A leftover `path.tmp` (a crash mid-write) is removed: the rename never
 * happened, so the previous snapshot is still the current one.
 *
 * A format-3 file is verified whole (every chunk's CRC and the trailer) in one pass that reads it
 * IO_BYTES at a time and parses only the head; the state's `keys` is then an iterable that reads the
 * file again, chunk by chunk, parsing one chunk at a time (checking each CRC again) as the core's
 * restore() consumes it. Iterating it after the file was replaced throws.
 */
export async function readSnapshot<S>(path: string): Promise<SnapshotRead<S>> {
  await rm(path + '.tmp', {force: true})
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {kind: 'missing'}
    throw e
  }
  let found: HeaderV2 | {header: HeaderV3; head: unknown; chain: number}
  try {
    found = verifyFile(new FileSource(fd))
  } catch (e) {
    if (e instanceof BadSnapshot) return {kind: 'bad', reason: e.message}
    throw e
  } finally {
    closeSync(fd)
  }
  if ('format' in found) {
    const {size} = await stat(path)
    if (size > HEADER_BYTES_MAX + SNAPSHOT_BYTES_MAX)
      return {kind: 'bad', reason: `file is ${size} bytes, larger than any snapshot`}
    return decodeSnapshot<S>(await readFile(path))
  }
  const {header, head, chain} = found
  const state = header.keys ? {...(head as object), keys: lazyKeys(path, header, chain)} : head
  return {kind: 'ok', state: state as S, lastSeq: header.lastSeq}
}

/** A format-2 file's header (read whole afterwards), or a format-3 file checked end to end with its head. */
function verifyFile(src: ByteSource): HeaderV2 | {header: HeaderV3; head: unknown; chain: number} {
  const header = readHeader(src)
  if (header.format === 2) return header
  const head = readHead(src, header)
  let chain = 0
  for (const frame of frames(src, header)) chain = frame.chain
  return {header, head, chain}
}

/**
 * Decodes a snapshot file's bytes (the simulator's disk, and tests), with the same code readSnapshot
 * runs; `keys` comes back as an array. Never throws on content.
 */
export function decodeSnapshot<S>(data: Buffer): SnapshotRead<S> {
  try {
    const src = new BufferSource(data)
    const header = readHeader(src)
    if (header.format === 2) return decodeV2<S>(data, header)
    const head = readHead(src, header)
    // Without keys, frames() throws at any chunk: this only checks the trailer.
    const keys: unknown[] = []
    for (const {body, count, index} of frames(src, header)) {
      const pairs = parseChunk(body, count)
      if (pairs === null) throw new BadSnapshot(`chunk ${index} is not a JSON array of ${count} [key, value] pairs`)
      for (const p of pairs) keys.push(p)
    }
    const state = header.keys ? {...(head as object), keys} : head
    return {kind: 'ok', state: state as S, lastSeq: header.lastSeq}
  } catch (e) {
    if (e instanceof BadSnapshot) return {kind: 'bad', reason: e.message}
    throw e
  }
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

/**
 * The keys of a verified format-3 file: each iteration opens it, and yields the pairs of one parsed
 * chunk at a time. `verified` is the chain CRC the verifying pass saw, so a file replaced since (a
 * compaction ran before the state was consumed) throws instead of mixing two snapshots.
 */
function lazyKeys(path: string, header: HeaderV3, verified: number): Iterable<unknown> {
  return {
    *[Symbol.iterator]() {
      const fd = openSync(path, 'r')
      try {
        const src = new FileSource(fd)
        let chain = 0
        try {
          const again = readHeader(src)
          if (again.format !== 3 || again.headCrc !== header.headCrc) throw new BadSnapshot('its header changed')
          readHead(src, again)
          for (const {body, count, index, chain: c} of frames(src, again)) {
            chain = c
            const pairs = parseChunk(body, count)
            if (pairs === null)
              throw new BadSnapshot(`chunk ${index} is not a JSON array of ${count} [key, value] pairs`)
            yield* pairs
          }
        } catch (e) {
          if (e instanceof BadSnapshot) {
            throw new Error(`snapshot ${path} changed or broke after it was verified (${e.message})`, {cause: e})
          }
          throw e
        }
        if (chain !== verified) throw new Error(`snapshot ${path} was replaced after it was verified`)
      } finally {
        closeSync(fd)
      }
    },
  }
}

// ---- the format, shared by every reader ------------------------------------------------------

/** Reads and checks the header line (either format). */
function readHeader(src: ByteSource): HeaderV2 | HeaderV3 {
  const first = src.peek(HEADER_BYTES_MAX + 1)
  const newline = first.indexOf(0x0a)
  if (newline < 0) throw new BadSnapshot(first.length === 0 ? 'file is empty' : 'no header line')
  let header: unknown
  try {
    header = JSON.parse(first.subarray(0, newline).toString('utf8'))
  } catch {
    throw new BadSnapshot('header is not JSON')
  }
  src.read(newline + 1)
  if (typeof header === 'object' && header !== null && (header as {format?: unknown}).format === 3) {
    if (!isHeaderV3(header)) throw new BadSnapshot('header is not {format, lastSeq, keys, headLength, headCrc}')
    return header
  }
  if (!isHeaderV2(header)) throw new BadSnapshot('header is not {format, crc32, length, lastSeq}')
  if (header.format !== SNAPSHOT_FORMAT_V2) {
    throw new BadSnapshot(
      `unknown format ${header.format} (this build reads ${SNAPSHOT_FORMAT_V2} and ${SNAPSHOT_FORMAT})`,
    )
  }
  return {...header, format: 2}
}

/** Reads, checks and parses a format-3 head. */
function readHead(src: ByteSource, header: HeaderV3): unknown {
  const head = src.read(header.headLength)
  if (head.length !== header.headLength)
    throw new BadSnapshot(`head is ${head.length} bytes but the header says ${header.headLength} (torn write?)`)
  if (crc32(head, crc32(`${header.lastSeq}\n`)) !== header.headCrc)
    throw new BadSnapshot('head CRC32 mismatch (the head or its lastSeq is damaged)')
  let parsed: unknown
  try {
    parsed = JSON.parse(head.toString('utf8'))
  } catch {
    throw new BadSnapshot('head is not valid JSON')
  }
  if (header.keys && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)))
    throw new BadSnapshot('head of a snapshot with keys is not an object')
  return parsed
}

interface Frame {
  /** Valid until the next read from the source. */
  readonly body: Buffer
  readonly count: number
  /** 0-based chunk number. */
  readonly index: number
  /** The trailer's running CRC after this chunk. */
  readonly chain: number
}

/**
 * Walks a format-3 file's chunks after the head, checking each CRC, then checks the trailer against
 * what it saw and that nothing follows it. Throws BadSnapshot at the first damage.
 */
function* frames(src: ByteSource, header: HeaderV3): Generator<Frame> {
  let chain = crc32(u32(header.headCrc))
  let index = 0
  let keys = 0
  let end: Buffer
  for (;;) {
    const prefix = src.read(PREFIX_BYTES)
    if (prefix.length < PREFIX_BYTES) throw new BadSnapshot(`file ends inside chunk ${index}'s prefix (torn write?)`)
    const length = prefix.readUInt32BE(0)
    if (length === 0) {
      // The trailer's first 12 bytes; copied, since the next read may reuse the source's buffer.
      end = Buffer.from(prefix)
      break
    }
    const count = prefix.readUInt32BE(4)
    if (!header.keys) throw new BadSnapshot('a chunk of keys in a snapshot without keys')
    if (length > CHUNK_BYTES_MAX) throw new BadSnapshot(`chunk ${index} claims ${length} bytes, more than any chunk`)
    if (count === 0) throw new BadSnapshot(`chunk ${index} claims no keys`)
    const crcBefore = crc32(prefix.subarray(0, 8))
    const crc = prefix.readUInt32BE(8)
    const body = src.read(length)
    if (body.length < length) throw new BadSnapshot(`file ends inside chunk ${index} (torn write?)`)
    if (crc32(body, crcBefore) !== crc) throw new BadSnapshot(`chunk ${index} CRC32 mismatch`)
    chain = crc32(u32(crc), chain)
    keys += count
    yield {body, count, index, chain}
    index++
  }
  const rest = src.read(TRAILER_BYTES - PREFIX_BYTES)
  if (rest.length < TRAILER_BYTES - PREFIX_BYTES) throw new BadSnapshot('file ends inside the trailer (torn write?)')
  const expected = trailer(index, keys, header.lastSeq, chain)
  const found = Buffer.concat([end, rest])
  if (!found.equals(expected)) {
    const crcOk = crc32(found.subarray(0, TRAILER_BYTES - 4), chain) === found.readUInt32BE(TRAILER_BYTES - 4)
    throw new BadSnapshot(
      crcOk
        ? `trailer says ${found.readUInt32BE(4)} chunk(s) of ${readU64(found, 8)} key(s) up to seq ${readU64(found, 16)}, ` +
            `but the file holds ${index} of ${keys} up to seq ${header.lastSeq}`
        : 'trailer CRC32 mismatch (the trailer is damaged, or chunks were lost, reordered or repeated)',
    )
  }
  if (src.read(1).length > 0) throw new BadSnapshot('bytes after the trailer')
}

function trailer(chunks: number, keys: number, lastSeq: number, chain: number): Buffer {
  const t = Buffer.alloc(TRAILER_BYTES)
  t.writeUInt32BE(chunks, 4)
  writeU64(t, keys, 8)
  writeU64(t, lastSeq, 16)
  t.writeUInt32BE(crc32(t.subarray(0, TRAILER_BYTES - 4), chain), TRAILER_BYTES - 4)
  return t
}

/** A chunk body's pairs, or null if it is not a JSON array of `count` [string, value] pairs. */
function parseChunk(body: Buffer, count: number): unknown[] | null {
  let pairs: unknown
  try {
    pairs = JSON.parse(body.toString('utf8'))
  } catch {
    return null
  }
  if (!Array.isArray(pairs) || pairs.length !== count) return null
  for (const p of pairs as unknown[]) if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') return null
  return pairs as unknown[]
}

function decodeV2<S>(data: Buffer, header: HeaderV2): SnapshotRead<S> {
  const body = data.subarray(data.indexOf(0x0a) + 1)
  if (body.length !== header.length)
    return {kind: 'bad', reason: `body is ${body.length} bytes but the header says ${header.length} (torn write?)`}
  if (crc32(body, crc32(`${header.lastSeq}\n`)) !== header.crc32)
    return {kind: 'bad', reason: 'CRC32 mismatch (the body or its lastSeq is damaged)'}
  try {
    return {kind: 'ok', state: JSON.parse(body.toString('utf8')) as S, lastSeq: header.lastSeq}
  } catch {
    return {kind: 'bad', reason: 'body is not valid JSON'}
  }
}

function encodePair(pair: unknown): string {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string')
    throw new TypeError('snapshot keys must be [key, value] pairs with a string key')
  const json = JSON.stringify(pair) as string | undefined
  if (json === undefined) throw new TypeError('snapshot keys must be [key, value] pairs with a string key')
  return json
}

/** A state whose `keys` goes out in chunks: an object with an array (or iterable) of pairs. */
function isStreamable(state: unknown): state is {keys: Iterable<unknown>} {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return false
  const keys = (state as {keys?: unknown}).keys
  return Array.isArray(keys) || (typeof keys === 'object' && keys !== null && Symbol.iterator in keys)
}

function invariantSeq(lastSeq: number): void {
  if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) throw new RangeError(`lastSeq ${lastSeq} is not a seq`)
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

function writeU64(b: Buffer, n: number, at: number): void {
  b.writeUInt32BE(Math.floor(n / 2 ** 32), at)
  b.writeUInt32BE(n % 2 ** 32, at + 4)
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 2 ** 32 + b.readUInt32BE(at + 4)
}

/** A format-2 header's shape, with any format number (the caller checks it is 2). */
function isHeaderV2(x: unknown): x is Omit<HeaderV2, 'format'> & {format: number} {
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

function isHeaderV3(x: object): x is HeaderV3 {
  const h = x as Record<string, unknown>
  return (
    typeof h.keys === 'boolean' &&
    Number.isInteger(h.headCrc) &&
    (h.headCrc as number) >= 0 &&
    Number.isInteger(h.headLength) &&
    (h.headLength as number) >= 0 &&
    (h.headLength as number) <= SNAPSHOT_BYTES_MAX &&
    Number.isSafeInteger(h.lastSeq) &&
    (h.lastSeq as number) >= 0
  )
}

// ---- byte sources --------------------------------------------------------------------------

/**
 * Sequential reads over a file or a buffer. A returned buffer is valid until the next call; it is
 * shorter than asked only at the end of the data.
 */
interface ByteSource {
  /** Up to `n` bytes from the current position, without consuming them. */
  peek(n: number): Buffer
  /** Up to `n` bytes from the current position, consumed. */
  read(n: number): Buffer
}

class BufferSource implements ByteSource {
  private at = 0
  constructor(private readonly data: Buffer) {}
  peek(n: number): Buffer {
    return this.data.subarray(this.at, this.at + n)
  }
  read(n: number): Buffer {
    const b = this.data.subarray(this.at, this.at + n)
    this.at += b.length
    return b
  }
}

/** Reads a file descriptor IO_BYTES at a time (bigger reads for bigger chunks). */
class FileSource implements ByteSource {
  private buf = Buffer.allocUnsafe(IO_BYTES)
  private start = 0
  private end = 0
  private position = 0
  private eof = false

  constructor(private readonly fd: number) {}

  peek(n: number): Buffer {
    this.fill(n)
    return this.buf.subarray(this.start, Math.min(this.end, this.start + n))
  }

  read(n: number): Buffer {
    const b = this.peek(n)
    this.start += b.length
    return b
  }

  /** Makes `n` bytes available from `start` unless the file ends first. */
  private fill(n: number): void {
    if (this.end - this.start >= n || this.eof) return
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, IO_BYTES))
      this.buf.copy(bigger, 0, this.start, this.end)
      this.buf = bigger
    } else {
      this.buf.copy(this.buf, 0, this.start, this.end)
    }
    this.end -= this.start
    this.start = 0
    while (this.end < n && !this.eof) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, this.position)
      if (got === 0) this.eof = true
      this.end += got
      this.position += got
    }
  }
}
