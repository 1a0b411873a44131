/**
 * A KvClient that is replaced when its broker connection dies. KvClient connections never retry (a
 * CLI command should fail fast), but the nemesis restarts the redis-server under its clients, so
 * each of its clients (workers, fault injector, status poller) reconnects by itself through this.
 */
import {connectRedisBroker} from '../client/client-broker.js'
import {KvClient} from '../client/kv-client.js'
import {PublishWatch} from './publish-watch.js'

/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 1000

/** The live client and the watch over its publishes (for the status mapping). */
export interface Connected {
  readonly client: KvClient
  readonly watch: PublishWatch
}

/** One logical client's connection; get() before each call, reset() after REDIS_UNAVAILABLE. */
export class ReconnectingClient {
  private current: Connected | undefined
  private lost = false

  constructor(
    private readonly redisUrl: string,
    private readonly cluster: string,
    private readonly timeoutMs: number,
    /** An authenticated cluster's secrets (signing one first): every request is signed with them. */
    private readonly secrets?: readonly Buffer[],
  ) {}

  /** The connected client, connecting first if needed; undefined while the broker is unreachable. */
  async get(): Promise<Connected | undefined> {
    if (this.current && this.lost) await this.reset()
    if (this.current) return this.current
    let broker
    try {
      broker = await connectRedisBroker(this.redisUrl, CONNECT_TIMEOUT_MS)
    } catch {
      return undefined
    }
    const watch = new PublishWatch(broker)
    try {
      const client = await KvClient.over(watch, {
        cluster: this.cluster,
        timeoutMs: this.timeoutMs,
        secrets: this.secrets,
      })
      this.lost = false
      watch.onLost(() => (this.lost = true))
      this.current = {client, watch}
      return this.current
    } catch {
      await broker.close().catch(() => {})
      return undefined
    }
  }

  /** Drops the connection (after REDIS_UNAVAILABLE: a KvClient never comes back by itself). */
  async reset(): Promise<void> {
    const old = this.current
    this.current = undefined
    await old?.client.close().catch(() => {})
  }

  async close(): Promise<void> {
    await this.reset()
  }
}
