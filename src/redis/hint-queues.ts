/**
 * Hinted hand-off over BullMQ. When a peer does not ack a replication batch (or is down), the
 * coordinator enqueues the batch in a durable queue of its own for that peer, `hints-<peer>-from-<me>`.
 * Its worker delivers only while the peer is seen alive, and a job completes only when the peer acks. Only the coordinator that produced a hint delivers it, so a partition is never
 * bridged through Redis by some other replica.
 *
 * Each peer's queue is capped at `pendingMax` hints really pending (stored and not yet delivered): past
 * that, new hints for that peer are dropped (anti-entropy still repairs it) with a rate-limited warning,
 * and hints for other peers are unaffected.
 */
import {Queue, Worker, type Job} from 'bullmq'
import type {Redis} from 'ioredis'
import type {ClusterNames} from './channel-names.js'
import {brokerConnection} from './connect.js'
import type {Log} from './redis-transport.js'

/** Sends one hint to its peer and resolves when the peer acked it (rejects on timeout). */
export type DeliverHint = (peer: string, msg: object) => Promise<void>

/** Default cap on the hints pending for one peer (stored, not yet acked by it). */
export const HINTS_PENDING_MAX = 50_000
const RETRY_MS = 1000
/** At most one "dropped hints" warning per peer per this long (the next one carries the count). */
const DROP_LOG_INTERVAL_MS = 10_000
/** While a peer is at its cap, its count is re-read from BullMQ at most this often. */
const RESYNC_INTERVAL_MS = 1000
/** The job states that hold a hint not yet delivered (each a LLEN or ZCARD: cheap and bounded). */
const PENDING_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children'] as const

/** Tuning for tests; run-replica.ts uses the defaults. */
export interface HintQueueLimits {
  /** Cap on the hints pending for one peer (default HINTS_PENDING_MAX). */
  readonly pendingMax?: number
  /** The clock used to rate-limit the drop warnings (default Date.now). */
  readonly now?: () => number
}

/**
 * One peer's pending count and drop bookkeeping.
 *
 * Why a local count, corrected from BullMQ's: add() must decide synchronously (the driver does not
 * await it), so it cannot ask Redis each time. The local count is exact while this process and the
 * broker live: +1 on add, -1 when the worker completes a job (removeOnComplete) or fails it for good,
 * or when the add itself fails. It drifts only when the queue changes behind our back (jobs left by an
 * earlier run of this replica, a broker restart that lost the queue), so it is re-read from BullMQ's
 * own per-state counts (O(1) each) when the queue is first used and, at most once per
 * RESYNC_INTERVAL_MS, while the peer is at its cap: drift can never turn the cap into a lifetime limit.
 */
interface PeerHints {
  /** Hints believed pending; may dip below 0 briefly (completions of jobs the resync has not counted). */
  pending: number
  /** Hints dropped for this peer in this process's life. */
  dropped: number
  /** Dropped since the last warning line. */
  droppedUnlogged: number
  lastLogAtMs: number
  lastResyncAtMs: number
  resyncing: boolean
}

export class HintQueues {
  private readonly connection: Redis
  private readonly queues = new Map<string, Queue>()
  private readonly workers = new Map<string, Worker>()
  private readonly alive = new Set<string>()
  private readonly peers = new Map<string, PeerHints>()
  private readonly pendingMax: number
  private readonly now: () => number

  constructor(
    url: string,
    private readonly names: ClusterNames,
    private readonly selfId: string,
    private readonly deliver: DeliverHint,
    private readonly log: Log,
    limits: HintQueueLimits = {},
  ) {
    this.pendingMax = limits.pendingMax ?? HINTS_PENDING_MAX
    this.now = limits.now ?? Date.now
    // BullMQ's workers need maxRetriesPerRequest null; over Sentinel this connection (and the blocking
    // ones BullMQ duplicates from it) asks the Sentinels again after a failover, like the transport's.
    this.connection = brokerConnection(url, {maxRetriesPerRequest: null, lazyConnect: false, enableOfflineQueue: true})
    this.connection.on('error', () => {})
  }

  private queueName(peer: string): string {
    return `${this.names.hintQueue(peer)}-from-${this.selfId}`
  }

  private queue(peer: string): Queue {
    let q = this.queues.get(peer)
    if (!q) {
      q = new Queue(this.queueName(peer), {connection: this.connection, prefix: this.names.queuePrefix})
      q.on('error', () => {})
      this.queues.set(peer, q)
      this.resync(peer) // hints left by an earlier run count against the cap too
    }
    return q
  }

  private peerHints(peer: string): PeerHints {
    let h = this.peers.get(peer)
    if (!h) {
      h = {
        pending: 0,
        dropped: 0,
        droppedUnlogged: 0,
        lastLogAtMs: Number.NEGATIVE_INFINITY,
        lastResyncAtMs: Number.NEGATIVE_INFINITY,
        resyncing: false,
      }
      this.peers.set(peer, h)
    }
    return h
  }

  /** Hints stored for `peer` and not yet delivered, as this process counts them (tests, status). */
  pendingFor(peer: string): number {
    return Math.max(0, this.peers.get(peer)?.pending ?? 0)
  }

  /** Hints for `peer` dropped at the cap in this process's life. */
  droppedFor(peer: string): number {
    return this.peers.get(peer)?.dropped ?? 0
  }

  /** Store a hint for `peer` (called by the driver for every `hint` effect). */
  add(peer: string, msg: object): void {
    const queue = this.queue(peer)
    const h = this.peerHints(peer)
    if (h.pending >= this.pendingMax) {
      // Anti-entropy still repairs the peer; its queue must not grow without bound.
      h.dropped++
      h.droppedUnlogged++
      this.logDrops(peer, h)
      if (this.now() - h.lastResyncAtMs >= RESYNC_INTERVAL_MS) this.resync(peer)
      return
    }
    if (h.droppedUnlogged > 0) this.logDrops(peer, h)
    h.pending++
    queue
      .add('hint', msg, {
        attempts: 1_000_000,
        backoff: {type: 'fixed', delay: 1000},
        removeOnComplete: true,
        removeOnFail: 100,
      })
      .catch(() => {
        h.pending--
        this.log('warn', `could not store a hint for ${peer} (broker down?); anti-entropy will repair it`)
      })
    this.ensureWorker(peer)
  }

  /** One warning per peer per DROP_LOG_INTERVAL_MS, counting every drop since the previous one. */
  private logDrops(peer: string, h: PeerHints): void {
    const now = this.now()
    if (now - h.lastLogAtMs < DROP_LOG_INTERVAL_MS) return
    const atCap = h.pending >= this.pendingMax
    this.log(
      'warn',
      `dropped ${h.droppedUnlogged} hint(s) for ${peer}: ${this.pendingFor(peer)} pending, the cap is ${this.pendingMax}` +
        `${atCap ? '' : '; storing hints again'} (anti-entropy will repair ${peer}; ${h.dropped} dropped in all)`,
    )
    h.lastLogAtMs = now
    h.droppedUnlogged = 0
  }

  /**
   * Re-reads `peer`'s pending count from BullMQ. Local changes made while the read is in flight are
   * applied on top of it. Adds share the read's connection, so they are ordered with it; a completion
   * racing the read may be counted twice or not at all, an error of at most one round trip's worth of
   * completions that the next resync corrects.
   */
  private resync(peer: string): void {
    const h = this.peerHints(peer)
    const queue = this.queues.get(peer)
    if (h.resyncing || !queue) return
    h.resyncing = true
    h.lastResyncAtMs = this.now()
    const before = h.pending
    queue
      .getJobCounts(...PENDING_STATES)
      .then((counts) => {
        const stored = Object.values(counts).reduce((sum, n) => sum + n, 0)
        h.pending = stored + (h.pending - before)
      })
      .catch(() => {}) // broker down: keep the local count; the next resync corrects it
      .finally(() => (h.resyncing = false))
  }

  /** Liveness changes from the core: a peer's hints are delivered only while it is seen alive. */
  peerAlive(peer: string, alive: boolean): void {
    if (alive) this.alive.add(peer)
    else this.alive.delete(peer)
    if (alive) this.ensureWorker(peer)
  }

  /** Start workers for every peer that may have hints left from an earlier run. */
  resumeFor(peers: string[]): void {
    for (const p of peers) if (p !== this.selfId) this.ensureWorker(p)
  }

  /**
   * One worker per peer queue. While the peer is down (or does not ack), the queue is rate-limited
   * for a second and the job goes back to waiting without spending an attempt: BullMQ's documented
   * pattern for a destination that is temporarily unavailable.
   */
  private ensureWorker(peer: string): void {
    if (this.workers.has(peer)) return
    const queue = this.queue(peer)
    const worker = new Worker(
      this.queueName(peer),
      async (job: Job) => {
        try {
          if (!this.alive.has(peer)) throw new Error(`${peer} is not alive`)
          await this.deliver(peer, job.data as object)
        } catch {
          await queue.rateLimit(RETRY_MS)
          throw Worker.RateLimitError()
        }
      },
      {
        connection: this.connection,
        prefix: this.names.queuePrefix,
        concurrency: 8,
        limiter: {max: 2000, duration: 1000},
      },
    )
    worker.on('error', () => {})
    const h = this.peerHints(peer)
    worker.on('completed', () => h.pending--)
    // Our processor only ever throws RateLimitError (no 'failed' event); a failure for good would
    // come from BullMQ itself (attempts used up, a job stalled too often).
    worker.on('failed', (job) => {
      if (job && job.finishedOn !== undefined && job.attemptsMade >= (job.opts.attempts ?? 1)) h.pending--
    })
    this.workers.set(peer, worker)
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.workers.values()].map((w) => w.close(true)))
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()))
    this.connection.disconnect()
  }
}
