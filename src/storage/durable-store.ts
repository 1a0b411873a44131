/**
 * A replica's disk: the latest snapshot plus the log of records appended since, in one directory
 * (`snapshot.json`, `log.bin`, `LOCK`, and `RECOVERING` while the replica catches up after lost
 * data). Both replication modes use it, with their own S and R.
 *
 * Crash safety, which every change here must keep true:
 * - append resolves only once its records are fsynced, so an acknowledged record survives a crash.
 * - compact(state) runs in the log's queue: after every earlier append is durable it writes the
 *   snapshot (temp + fsync + rename), then truncates the log; appends called meanwhile are queued
 *   behind the truncate. The caller guarantees `state` includes every record appended before it
 *   called compact, so nothing durable exists only in the truncated part.
 * - A crash after the snapshot rename but before the truncate leaves records in the log that the
 *   snapshot already includes; their seq is at or below the snapshot's lastSeq, so recovery skips
 *   them. (Record application is idempotent anyway: eventual mode merges versions, quorum mode
 *   writes log entries by index and keeps max(commit index).)
 * - Damage other than a torn tail is data loss (recovery-policy.ts). open() then writes the
 *   RECOVERING marker (fsynced) before it returns, so a crash during the catch-up cannot make the
 *   replica forget that it is not whole; markRecovered() removes it once the core says it caught up.
 */
import {link, mkdir, open, readFile, rename, rm, unlink, writeFile} from 'node:fs/promises'
import {dirname, join, resolve} from 'node:path'
import {KvError} from '../core/errors.js'
import type {RecoveryFacts} from '../core/recovery-facts.js'
import {RecordLog} from './record-log.js'
import {planRecovery} from './recovery-policy.js'
import {readSnapshot, snapshotChunks, syncDirectory, writeSnapshotChunks} from './snapshot-file.js'

/** What DurableStore.open found on disk: replay `records` in order over `snapshot` (null: start empty). */
export interface Recovered<S, R> {
  snapshot: S | null
  records: R[]
  /** Repairs that lost nothing acknowledged (torn log tail, stale lock); the driver logs them. */
  warnings: string[]
  /** Lost data, or an empty directory: the core must know (see RecoveryFacts). */
  facts: RecoveryFacts
}

const SNAPSHOT_FILE = 'snapshot.json'
const LOG_FILE = 'log.bin'
const LOCK_FILE = 'LOCK'
const MARKER_FILE = 'RECOVERING'

/** Rounds of "find a stale lock, move it aside, retry" before giving up on a contended directory. */
const LOCK_ATTEMPTS_MAX = 5

/** Directories (absolute) this process has open; the pid in LOCK cannot tell two of our opens apart. */
const openDirs = new Set<string>()

/**
 * Durable storage for one replica. The replica driver opens it at start, replays `recovered`,
 * appends each batch of records before acknowledging it, compacts now and then (e.g. when
 * `logBytes` or `recordsSinceSnapshot` grows past its budget, and on clean shutdown) and closes it
 * on exit.
 */
export class DurableStore<S, R> {
  private closing: Promise<void> | null = null

  private constructor(
    readonly dir: string,
    private readonly log: RecordLog<R>,
  ) {}

  /**
   * Locks `dir` (creating it if missing) and reads what is in it. Throws a KvError UNAVAILABLE if
   * another live process, or another open store in this process, holds the directory; takes over a
   * lock left by a dead process. Never throws on corrupt content: it cuts the log to its good prefix,
   * and reports lost data in `recovered.facts.loss` (with the RECOVERING marker written first).
   */
  static async open<S, R>(dir: string): Promise<{store: DurableStore<S, R>; recovered: Recovered<S, R>}> {
    const abs = resolve(dir)
    if (openDirs.has(abs)) {
      throw new KvError(
        'UNAVAILABLE',
        `data directory ${abs} is already open in this process (pid ${process.pid}); close that store first or use another --data-dir`,
      )
    }
    // Claimed before the first await, so two concurrent opens in this process cannot both pass.
    openDirs.add(abs)
    try {
      await mkdir(abs, {recursive: true})
      const lockWarnings = await acquireLock(abs)
      try {
        const markerPath = join(abs, MARKER_FILE)
        const marker = await readFile(markerPath, 'utf8').catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
          throw e
        })
        const snapshot = await readSnapshot<S>(join(abs, SNAPSHOT_FILE))
        const opened = await RecordLog.open<R>(join(abs, LOG_FILE))
        const plan = planRecovery<S, R>({
          snapshot,
          log: opened.existed ? opened.decoded : null,
          marker,
          files: {snapshot: join(abs, SNAPSHOT_FILE), log: join(abs, LOG_FILE), marker: markerPath},
        })
        try {
          if (plan.facts.loss && marker === null) await writeMarker(markerPath, plan.facts.loss.what)
          if (plan.truncateLog !== null) await opened.log.truncateTo(plan.truncateLog.bytes, plan.truncateLog.records)
          opened.log.setNextSeq(plan.nextSeq)
        } catch (e) {
          await opened.log.close()
          throw e
        }
        return {
          store: new DurableStore<S, R>(abs, opened.log),
          recovered: {
            snapshot: plan.snapshot,
            records: plan.records,
            warnings: [...lockWarnings, ...plan.warnings],
            facts: plan.facts,
          },
        }
      } catch (e) {
        await releaseLock(abs)
        throw e
      }
    } catch (e) {
      openDirs.delete(abs)
      throw e
    }
  }

  /** Appends records in call order; resolves once they are durable. Concurrent calls share fsyncs. */
  append(records: readonly R[]): Promise<void> {
    return this.log.append(records)
  }

  /**
   * Replaces the snapshot with `state` and empties the log; resolves once both are durable. `state`
   * must include every record whose append was called before this call (see the header). It is
   * captured now (snapshotChunks: everything but `keys` serialised, `keys` copied as references to
   * values the caller never mutates in place), so the caller may keep changing its state; the file
   * is encoded and written in bounded chunks when the log's queue reaches it, so a big state is never
   * held encoded in memory. Appends called meanwhile land after the reset. If writing the snapshot
   * fails, the old snapshot and the log are left intact and this rejects.
   */
  async compact(state: S): Promise<void> {
    const chunks = snapshotChunks(state, this.log.lastSeq)
    await this.log.reset(() => writeSnapshotChunks(join(this.dir, SNAPSHOT_FILE), chunks))
  }

  /**
   * The replica caught up after lost data: removes the RECOVERING marker (durably). The caller
   * compacts first, so that the state it caught up to is what a later start finds.
   */
  async markRecovered(): Promise<void> {
    await rm(join(this.dir, MARKER_FILE), {force: true})
    await syncDirectory(this.dir)
  }

  /** Durable size of the log; the driver compacts when it grows past its budget. */
  get logBytes(): number {
    return this.log.bytes
  }

  /** Records in the log, i.e. what recovery would replay over the snapshot. */
  get recordsSinceSnapshot(): number {
    return this.log.recordCount
  }

  /** Finishes queued appends and compactions, closes the log and releases the lock. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.log.close()
      } finally {
        await releaseLock(this.dir)
        openDirs.delete(this.dir)
      }
    })()
    return this.closing
  }
}

/** Writes the RECOVERING marker and makes it durable before the replica does anything else. */
async function writeMarker(path: string, what: string): Promise<void> {
  const fh = await open(path, 'w')
  try {
    await fh.writeFile(`${new Date().toISOString()} ${what}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await syncDirectory(dirname(path))
}

/**
 * Creates `dir/LOCK` holding our pid. The pid is written to a private file first and hard-linked
 * into place, because link() fails atomically if LOCK exists and a reader never sees it half-written.
 * Returns a warning if a stale lock was taken over.
 */
async function acquireLock(dir: string): Promise<string[]> {
  const lockPath = join(dir, LOCK_FILE)
  const mine = join(dir, `${LOCK_FILE}.${process.pid}.tmp`)
  const aside = join(dir, `${LOCK_FILE}.${process.pid}.stale`)
  await writeFile(mine, `${process.pid}\n`)
  try {
    const warnings: string[] = []
    for (let attempt = 0; attempt < LOCK_ATTEMPTS_MAX; attempt++) {
      try {
        await link(mine, lockPath)
        await syncDirectory(dir)
        return warnings
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      }
      const holder = await readLock(lockPath)
      if (holder === undefined) continue // released between our link and our read
      // Our own pid here means a previous process that had it: any open store of ours was refused above.
      if (holder !== null && holder !== process.pid && isAlive(holder)) throw lockedBy(dir, holder)
      // Stale. Move it aside instead of unlinking it: if another process took the lock over since we
      // read it, we move their live lock, see that, and put it back rather than deleting it.
      try {
        await rename(lockPath, aside)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw e
      }
      const moved = await readLock(aside)
      if (moved !== holder) {
        await link(aside, lockPath).catch(() => undefined)
        await rm(aside, {force: true})
        continue
      }
      await rm(aside, {force: true})
      warnings.push(
        `took over stale lock ${lockPath} from ${holder === null ? 'an unreadable owner' : `dead process ${holder}`}`,
      )
    }
    throw new KvError(
      'UNAVAILABLE',
      `could not lock data directory ${dir}: ${LOCK_FILE} kept changing; is another replica starting there?`,
    )
  } finally {
    await rm(mine, {force: true})
  }
}

/** Removes LOCK if it is still ours. Called by close, and by open when it fails after locking. */
async function releaseLock(dir: string): Promise<void> {
  const lockPath = join(dir, LOCK_FILE)
  if ((await readLock(lockPath)) === process.pid) await unlink(lockPath)
}

/** The pid in a lock file; null if its content is not a pid; undefined if the file is gone. */
async function readLock(path: string): Promise<number | null | undefined> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
  const pid = Number(text.trim())
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null
}

function isAlive(pid: number): boolean {
  try {
    // Signal 0 checks existence without signalling; EPERM means it exists under another user.
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function lockedBy(dir: string, pid: number): KvError {
  return new KvError(
    'UNAVAILABLE',
    `data directory ${dir} is locked by running process ${pid} (${join(dir, LOCK_FILE)}); stop that replica or use ` +
      `another --data-dir. If pid ${pid} is not a kv replica, delete the ${LOCK_FILE} file.`,
  )
}
