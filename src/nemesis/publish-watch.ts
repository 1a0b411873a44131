/**
 * A ClientBroker decorator that tells the nemesis whether an operation's request may have reached a
 * replica. KvClient fails with REDIS_UNAVAILABLE on several paths, some before anything is published
 * (registry lookup, an already lost connection) and some after (a publish that was written to the
 * socket when the connection dropped, or a reply that never came because the connection died), and
 * the error alone does not say which. Watching the broker's own publish calls does: nothing
 * published, or every publish answered "0 receivers", means no replica can ever act on it.
 */
import type {KvError} from '../core/errors.js'
import type {ClientBroker} from '../client/client-broker.js'

/** Wraps one worker's broker; the worker calls begin() before each operation. */
export class PublishWatch implements ClientBroker {
  private inFlight = 0
  private reached = false

  constructor(private readonly inner: ClientBroker) {}

  /** Forget the previous operation's publishes. */
  begin(): void {
    this.reached = false
  }

  /**
   * True when a publish of the current operation reached a subscriber, failed (it may have been
   * written before the connection dropped), or has not settled yet.
   */
  get mayHaveDelivered(): boolean {
    return this.reached || this.inFlight > 0
  }

  async publish(channel: string, message: string): Promise<number> {
    this.inFlight++
    try {
      const receivers = await this.inner.publish(channel, message)
      if (receivers > 0) this.reached = true
      return receivers
    } catch (error) {
      this.reached = true
      throw error
    } finally {
      this.inFlight--
    }
  }

  subscribe(channel: string): Promise<void> {
    return this.inner.subscribe(channel)
  }

  onMessage(handler: (channel: string, message: string) => void): void {
    this.inner.onMessage(handler)
  }

  onLost(handler: (error: KvError) => void): void {
    this.inner.onLost(handler)
  }

  get(key: string): Promise<string | null> {
    return this.inner.get(key)
  }

  hgetall(key: string): Promise<Record<string, string>> {
    return this.inner.hgetall(key)
  }

  set(key: string, value: string): Promise<void> {
    return this.inner.set(key, value)
  }

  del(key: string): Promise<void> {
    return this.inner.del(key)
  }

  close(): Promise<void> {
    return this.inner.close()
  }
}
