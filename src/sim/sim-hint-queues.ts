/**
 * The simulator's model of HintQueues (src/redis/hint-queues.ts) on BullMQ: one queue per
 * (sender, peer), kept in the broker. This is Redis's and BullMQ's behaviour, not a runner rule:
 * - a hint is stored only while the broker is up, and a broker outage wipes every queue;
 * - only the sender that produced a hint delivers it, and only while that sender runs: its worker
 *   calls the sender's ReplicaRunner.deliverHint (which publishes, waits for the ack, and times out);
 * - a peer's hints are delivered only while the sender's process believes the peer alive (a fresh
 *   process believes nobody alive until its core says so);
 * - a failed delivery (no ack in time, partitioned away) rate-limits that queue for RETRY_MS, as the
 *   worker's queue.rateLimit does; a sender that crashes mid-delivery loses nothing (the job's lock
 *   expires and it is retried).
 */
import type {HintSink} from '../runtime/ports.js'

/** HintQueues' RETRY_MS: how long a queue rests after a failed delivery. */
const RETRY_MS = 1000

interface StoredHint {
  readonly from: string
  readonly peer: string
  readonly msg: object
  /** The incarnation of the sender whose delivery is in flight (0: none). */
  deliveringBy: number
}

/** How the queues reach a sender's runner and ask the world about it. */
export interface HintWorld {
  /** The current tick. */
  now(): number
  brokerDown(): boolean
  /** Up and not paused. */
  isRunning(id: string): boolean
  /** Hands the hint to the sender's current ReplicaRunner.deliverHint. */
  deliver(from: string, peer: string, msg: object, done: (ok: boolean) => void): void
}

export class SimHintQueues {
  private hints = new Set<StoredHint>()
  /** Per sender process: the peers it believes alive. */
  private readonly alive = new Map<string, Set<string>>()
  /** Per queue ("from>peer"): resting until this tick after a failed delivery. */
  private readonly restUntil = new Map<string, number>()
  /** Per sender: its current incarnation (bumped at every start). */
  private readonly incarnation = new Map<string, number>()
  private readonly retryTicks: number
  /** Delivery attempts made (the run's summary). */
  attempts = 0

  constructor(
    private readonly world: HintWorld,
    tickMs: number,
  ) {
    this.retryTicks = Math.max(1, Math.ceil(RETRY_MS / tickMs))
  }

  /** A sender process starts (or restarts): it believes nobody alive, and its old deliveries are void. */
  senderStarted(from: string): HintSink {
    const inc = (this.incarnation.get(from) ?? 0) + 1
    this.incarnation.set(from, inc)
    const alive = new Set<string>()
    this.alive.set(from, alive)
    for (const h of this.hints) if (h.from === from) h.deliveringBy = 0
    return {
      add: (peer, msg) => {
        if (this.world.brokerDown()) return // BullMQ could not store it; anti-entropy repairs the peer
        this.hints.add({from, peer, msg, deliveringBy: 0})
      },
      peerAlive: (id, isAlive) => {
        if (isAlive) alive.add(id)
        else alive.delete(id)
      },
    }
  }

  /** The broker restarted empty: every queue is gone. */
  wipe(): void {
    this.hints.clear()
    this.restUntil.clear()
  }

  /** The workers' turn (once a tick): every waiting hint of a running sender to a peer it believes alive. */
  pump(): void {
    if (this.world.brokerDown()) return
    const now = this.world.now()
    for (const h of this.hints) {
      if (h.deliveringBy !== 0 || !this.world.isRunning(h.from)) continue
      if (!this.alive.get(h.from)?.has(h.peer)) continue
      const queue = `${h.from}>${h.peer}`
      if ((this.restUntil.get(queue) ?? -1) > now) continue
      const inc = this.incarnation.get(h.from) ?? 0
      h.deliveringBy = inc
      this.attempts++
      this.world.deliver(h.from, h.peer, h.msg, (ok) => {
        if (h.deliveringBy !== inc) return // the sender restarted, or the broker lost the queue meanwhile
        h.deliveringBy = 0
        if (ok) this.hints.delete(h)
        else this.restUntil.set(queue, this.world.now() + this.retryTicks)
      })
    }
  }
}
