/**
 * The few broker operations a client needs, behind an interface so the client's logic (correlation,
 * node choice, status assembly) runs against Redis in production and against an in-memory fake in
 * unit tests. The Redis implementation keeps publishing and subscribing on separate connections.
 */
import type {Redis} from 'ioredis'
import {KvError} from '../core/errors.js'
import {LIMITS} from '../core/limits.js'
import {clientConnection, redactUrl} from '../redis/connect.js'

/** Implemented by the Redis broker below and by the unit tests' in-memory fake; used by KvClient. */
export interface ClientBroker {
  /** PUBLISH; resolves to the number of subscribers that received the message. */
  publish(channel: string, message: string): Promise<number>
  /** SUBSCRIBE on the subscriber connection; resolves once Redis confirms it. */
  subscribe(channel: string): Promise<void>
  /** Every message arriving on a subscribed channel goes to this one handler. */
  onMessage(handler: (channel: string, message: string) => void): void
  /** Called once if the broker connection is lost; pending waits fail at once instead of timing out. */
  onLost(handler: (error: KvError) => void): void
  /** GET; null when the key does not exist. */
  get(key: string): Promise<string | null>
  hgetall(key: string): Promise<Record<string, string>>
  set(key: string, value: string): Promise<void>
  del(key: string): Promise<void>
  close(): Promise<void>
}

/** Called by KvClient.connect: two fresh connections, REDIS_UNAVAILABLE naming the URL if either fails. */
export async function connectRedisBroker(url: string, connectTimeoutMs: number): Promise<ClientBroker> {
  const pub = await clientConnection(url, 'kv-client-pub', connectTimeoutMs)
  let sub: Redis
  try {
    sub = await clientConnection(url, 'kv-client-sub', connectTimeoutMs)
  } catch (error) {
    pub.disconnect()
    throw error
  }
  return new RedisClientBroker(url, pub, sub)
}

class RedisClientBroker implements ClientBroker {
  private closing = false
  private lostHandlers: Array<(error: KvError) => void> = []

  constructor(
    private readonly url: string,
    private readonly pub: Redis,
    private readonly sub: Redis,
  ) {
    const lost = (): void => {
      if (this.closing) return
      this.closing = true
      const error = this.lostError('the connection closed')
      for (const handler of this.lostHandlers) handler(error)
    }
    pub.on('end', lost)
    sub.on('end', lost)
  }

  async publish(channel: string, message: string): Promise<number> {
    return this.guard(() => this.pub.publish(channel, message))
  }

  async subscribe(channel: string): Promise<void> {
    await this.guard(() => this.sub.subscribe(channel))
  }

  onMessage(handler: (channel: string, message: string) => void): void {
    this.sub.on('message', (channel: string, message: string) => {
      if (message.length > LIMITS.messageBytesMax) return // bounded: never parse an oversized message
      handler(channel, message)
    })
  }

  onLost(handler: (error: KvError) => void): void {
    this.lostHandlers.push(handler)
  }

  async get(key: string): Promise<string | null> {
    return this.guard(() => this.pub.get(key))
  }

  async hgetall(key: string): Promise<Record<string, string>> {
    return this.guard(() => this.pub.hgetall(key))
  }

  async set(key: string, value: string): Promise<void> {
    await this.guard(() => this.pub.set(key, value))
  }

  async del(key: string): Promise<void> {
    await this.guard(() => this.pub.del(key))
  }

  async close(): Promise<void> {
    this.closing = true
    await Promise.allSettled([this.sub.quit(), this.pub.quit()])
    this.sub.disconnect()
    this.pub.disconnect()
  }

  private async guard<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command()
    } catch (error) {
      // A reply error is a real answer from a live broker, not a lost one. An ACL refusal is the
      // user's to fix (wrong user, or a cluster its ACL does not cover), so it says so.
      if ((error as Error).name === 'ReplyError') {
        if ((error as Error).message.startsWith('NOPERM'))
          throw new KvError(
            'REDIS_UNAVAILABLE',
            `the broker at ${redactUrl(this.url)} does not allow this user that (${(error as Error).message}); check --cluster, or the user's ACL (deploy/redis-acl/README.md)`,
          )
        throw error
      }
      throw this.lostError((error as Error).message)
    }
  }

  private lostError(reason: string): KvError {
    return new KvError(
      'REDIS_UNAVAILABLE',
      `lost the broker at ${redactUrl(this.url)} (${reason}); check that it is running, then retry`,
    )
  }
}
