/**
 * The ports a ReplicaRunner drives (TigerBeetle's MessageBus/Storage/Time, etcd's Ready consumer):
 * everything the runner needs from the world, and nothing more. Two worlds implement them: Redis
 * plus the disk plus Node's timers (src/redis/redis-replica-host.ts, src/storage/durable-disk.ts), and
 * the seeded simulator (src/sim). All of them are callback-based and never block, so the simulator
 * can complete a callback at once, later, or never (a crash), deterministically.
 */
import type {Destination} from '../core/machine.js'

/** Carries an encoded message. The runner has already applied the partition filter. */
export interface Transport {
  /** Fire and forget: pub/sub is at-most-once and the protocols recover what is lost. */
  send(to: Destination, payload: string): void
}

/**
 * The replica's disk. Operations complete in call order (an append called before a compact is
 * durable before the compact runs; one called after lands after it). A failed disk never calls
 * back: the real adapter stops the process, because it can no longer promise durability.
 */
export interface DiskPort<R, S> {
  /** Makes `records` durable; `onDurable` runs once they are (one group-committed fsync). */
  append(records: readonly R[], onDurable: () => void): void
  /** Replaces the snapshot with `state` (which includes every record appended before) and empties the log. */
  compact(state: S, onDone: () => void): void
  /** The core caught up after lost data: clear the disk's "recovering" mark once the compaction before it is done. */
  markRecovered(onDone: () => void): void
  /** Durable records in the log since the last snapshot: what a restart would replay. */
  readonly recordsSinceSnapshot: number
}

/** Runs `fn` once the current burst of inbound work is handled (setImmediate, or the simulator's step end). */
export interface BurstScheduler {
  afterBurst(fn: () => void): void
}

/**
 * Where `hint` effects go: a durable queue per peer whose worker calls ReplicaRunner.deliverHint
 * while the peer is believed alive, and retries until the peer acks (HintQueues over BullMQ, or the
 * simulator's model of it).
 */
export interface HintSink {
  add(peer: string, msg: object): void
  peerAlive(id: string, alive: boolean): void
}

export type LogLevel = 'info' | 'warn'

/** One line of the replica's log (stderr in real life, the trace in the simulator). */
export type Log = (level: LogLevel, text: string) => void
