/**
 * An append-only file of JSON records, each in a checksummed, numbered frame (log-frames.ts).
 *
 * Opening reads every frame and says where decoding stopped; it changes nothing. The caller
 * (DurableStore, through the recovery policy) decides whether that was a torn tail or lost data and
 * then cuts the file with truncateTo: appending after garbage would hide every later record from
 * the next reader.
 *
 * Appends, resets and close run one at a time through a FIFO queue. Appends that arrive while a
 * write+fsync is in flight are group-committed: they join one batch, written by one write call and
 * made durable by one fdatasync, which is where the throughput comes from.
 */
import {access, mkdir, open, type FileHandle} from 'node:fs/promises'
import {dirname} from 'node:path'
import {decodeFrames, encodeFrame, type DecodedLog} from './log-frames.js'
import {syncDirectory} from './snapshot-file.js'

export {RECORD_BYTES_MAX} from './log-frames.js'

/**
 * A queued batch stops taking new appends at this size, so one write stays bounded. A single
 * append larger than this still goes out whole, in one write.
 */
const BATCH_BYTES_MAX = 16 * 1024 * 1024

interface Waiter {
  resolve: () => void
  reject: (e: unknown) => void
}

type Op =
  | {kind: 'append'; frames: Buffer[]; bytes: number; records: number; waiters: Waiter[]}
  | {kind: 'reset'; beforeTruncate: (() => Promise<void>) | undefined; waiter: Waiter}
  | {kind: 'close'; waiter: Waiter}

/**
 * The log file behind DurableStore; generic over the record type R (any JSON value but undefined).
 * Create it with RecordLog.open, which also returns the records already in the file.
 */
export class RecordLog<R> {
  private readonly queue: Op[] = []
  private draining = false
  private closing: Promise<void> | null = null
  /** Set by the first failed write, fsync or truncate; the file's state is then unknown. */
  private failure: Error | null = null
  private sizeBytes: number
  private count: number
  private syncCount = 0
  /** The seq the next appended record gets (assigned at call time, so it matches call order). */
  private seq = 1

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    sizeBytes: number,
    count: number,
  ) {
    this.sizeBytes = sizeBytes
    this.count = count
  }

  /**
   * Opens (creating it and its parent directories if missing) the log at `path` and decodes every
   * frame up to the first bad one. `existed` says whether the file was there before. Called once at
   * replica start, before setNextSeq/truncateTo; throws only on real I/O errors, never on content.
   */
  static async open<R>(path: string): Promise<{log: RecordLog<R>; decoded: DecodedLog<R>; existed: boolean}> {
    await mkdir(dirname(path), {recursive: true})
    const existed = await access(path).then(
      () => true,
      () => false,
    )
    // 'a+': reads start at 0, and every write lands at the end of the file, even after a truncate.
    const fh = await open(path, 'a+')
    try {
      await syncDirectory(dirname(path))
      const data = await fh.readFile()
      const decoded = decodeFrames<R>(data)
      return {log: new RecordLog<R>(path, fh, data.length, decoded.frames.length), decoded, existed}
    } catch (e) {
      await fh.close()
      throw e
    }
  }

  /** Cuts the file to its first `bytes` bytes (the good prefix) durably. Only before the first append. */
  async truncateTo(bytes: number, records: number): Promise<void> {
    await this.fh.truncate(bytes)
    await this.fh.sync()
    this.sizeBytes = bytes
    this.count = records
  }

  /** Where numbering continues after open (see RecoveryPlan.nextSeq). */
  setNextSeq(seq: number): void {
    this.seq = seq
  }

  /** The seq of the last record whose append was called (0 if none ever was). */
  get lastSeq(): number {
    return this.seq - 1
  }

  /** Bytes in the file, counting only what is durable. */
  get bytes(): number {
    return this.sizeBytes
  }

  /** Records in the file (read at open plus appended since), back to 0 after reset. */
  get recordCount(): number {
    return this.count
  }

  /** fdatasync/fsync calls made so far; tests read it to prove group commit. */
  get syncs(): number {
    return this.syncCount
  }

  /**
   * Appends `records` in order; resolves once they are durable (written and fdatasync'ed). Callers
   * (DurableStore.append) may call it concurrently: calls are written in call order, and those that
   * queue behind an in-flight fsync share the next one. Rejects without writing anything if a record
   * is not serialisable or over RECORD_BYTES_MAX; rejects every call after a failed write or fsync.
   */
  async append(records: readonly R[]): Promise<void> {
    const first = this.seq
    const frames = records.map((r, i) => encodeFrame(first + i, r))
    this.seq += records.length
    const bytes = frames.reduce((n, f) => n + f.length, 0)
    return new Promise<void>((resolve, reject) => {
      if (this.closing !== null) return reject(new Error(`log ${this.path} is closed`))
      const last = this.queue.at(-1)
      if (last?.kind === 'append' && last.bytes + bytes <= BATCH_BYTES_MAX) {
        last.frames.push(...frames)
        last.bytes += bytes
        last.records += records.length
        last.waiters.push({resolve, reject})
      } else {
        this.queue.push({kind: 'append', frames, bytes, records: records.length, waiters: [{resolve, reject}]})
      }
      this.kick()
    })
  }

  /**
   * Empties the file and fsyncs it, after every earlier append is durable and before any later one
   * is written. DurableStore.compact passes `beforeTruncate` to write the snapshot inside that window;
   * if it throws, the log is left as it was and reset rejects with its error.
   */
  reset(beforeTruncate?: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closing !== null) return reject(new Error(`log ${this.path} is closed`))
      this.queue.push({kind: 'reset', beforeTruncate, waiter: {resolve, reject}})
      this.kick()
    })
  }

  /** Finishes every queued operation, then closes the file. Later calls are refused. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve, reject) => {
      this.queue.push({kind: 'close', waiter: {resolve, reject}})
      this.kick()
    })
    return this.closing
  }

  private kick(): void {
    if (this.draining) return
    this.draining = true
    void this.drain()
  }

  /** The only code that touches the file after open; one op at a time, in queue order. */
  private async drain(): Promise<void> {
    for (let op = this.queue.shift(); op !== undefined; op = this.queue.shift()) {
      if (op.kind === 'append') await this.runAppend(op)
      else if (op.kind === 'reset') await this.runReset(op)
      else await settle([op.waiter], this.fh.close())
    }
    this.draining = false
  }

  private async runAppend(op: Extract<Op, {kind: 'append'}>): Promise<void> {
    if (this.failure !== null) return void settle(op.waiters, Promise.reject(this.failure))
    if (op.bytes === 0) return void settle(op.waiters, Promise.resolve())
    await settle(
      op.waiters,
      this.guard(async () => {
        await writeAll(this.fh, Buffer.concat(op.frames, op.bytes))
        // fdatasync also flushes the file size, which is all the metadata a reader needs.
        await this.sync(() => this.fh.datasync())
        this.sizeBytes += op.bytes
        this.count += op.records
      }),
    )
  }

  private async runReset(op: Extract<Op, {kind: 'reset'}>): Promise<void> {
    if (this.failure !== null) return void settle([op.waiter], Promise.reject(this.failure))
    try {
      await op.beforeTruncate?.()
    } catch (e) {
      op.waiter.reject(e)
      return
    }
    await settle(
      [op.waiter],
      this.guard(async () => {
        await this.fh.truncate(0)
        await this.sync(() => this.fh.sync())
        this.sizeBytes = 0
        this.count = 0
      }),
    )
  }

  /** Every fsync of the log goes through here, so `syncs` counts real calls. */
  private async sync(call: () => Promise<void>): Promise<void> {
    await call()
    this.syncCount++
  }

  /**
   * Runs a file mutation; if it fails, poisons the log. After a failed write or fsync the kernel may
   * have dropped dirty pages and cleared the error, so retrying could report success for lost data.
   */
  private async guard(mutate: () => Promise<void>): Promise<void> {
    try {
      await mutate()
    } catch (e) {
      this.failure = new Error(
        `log ${this.path} failed (${(e as Error).message}); it refuses further writes until reopened`,
        {cause: e},
      )
      throw this.failure
    }
  }
}

async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  // One write call in practice; the loop only covers a short write, which regular files rarely do.
  for (let at = 0; at < buf.length;) {
    const {bytesWritten} = await fh.write(buf, at, buf.length - at)
    at += bytesWritten
  }
}

/** Resolves or rejects every waiter with the outcome of `work`; never throws itself. */
async function settle(waiters: readonly Waiter[], work: Promise<void>): Promise<void> {
  try {
    await work
    for (const w of waiters) w.resolve()
  } catch (e) {
    for (const w of waiters) w.reject(e)
  }
}
