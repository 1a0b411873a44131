/**
 * Hinted hand-off over BullMQ. When a peer does not ack a replication batch (or is down), the
 * coordinator enqueues the batch in a durable queue of its own for that peer, `hints-<peer>-from-<me>`.
 * Its worker delivers only while the peer is seen alive, and a job completes only when the peer acks. Only the coordinator that produced a hint delivers it, so a partition is never
 * bridged through Redis by some other replica.
 */
import {Queue, Worker, type Job} from 'bullmq'
import {Redis} from 'ioredis'
import type {ClusterNames} from './channel-names.js'
import type {Log} from './redis-transport.js'

/** Sends one hint to its peer and resolves when the peer acked it (rejects on timeout). */
export type DeliverHint = (peer: string, msg: object) => Promise<void>

const PENDING_MAX = 50_000
const RETRY_MS = 1000

export class HintQueues {
  private readonly connection: Redis
  private readonly queues = new Map<string, Queue>()
  private readonly workers = new Map<string, Worker>()
  private readonly alive = new Set<string>()
  private enqueued = 0
  private skipped = 0

  constructor(
    url: string,
    private readonly names: ClusterNames,
    private readonly selfId: string,
    private readonly deliver: DeliverHint,
    private readonly log: Log,
  ) {
    this.connection = new Redis(url, {maxRetriesPerRequest: null, lazyConnect: false, enableOfflineQueue: true})
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
    }
    return q
  }

  /** Store a hint for `peer` (called by the driver for every `hint` effect). */
  add(peer: string, msg: object): void {
    if (this.enqueued - this.skipped > PENDING_MAX) {
      this.skipped++
      return // anti-entropy still repairs the peer; the queue must not grow without bound
    }
    this.enqueued++
    this.queue(peer)
      .add('hint', msg, {attempts: 1_000_000, backoff: {type: 'fixed', delay: 1000}, removeOnComplete: true, removeOnFail: 100})
      .catch(() => this.log('warn', `could not store a hint for ${peer} (broker down?); anti-entropy will repair it`))
    this.ensureWorker(peer)
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
      {connection: this.connection, prefix: this.names.queuePrefix, concurrency: 8, limiter: {max: 2000, duration: 1000}},
    )
    worker.on('error', () => {})
    worker.on('failed', () => {})
    this.workers.set(peer, worker)
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.workers.values()].map((w) => w.close(true)))
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()))
    this.connection.disconnect()
  }
}
