/**
 * The replica's connection to the broker: one subscriber connection, one publisher connection
 * (a subscribed connection cannot publish). ioredis reconnects and resubscribes by itself; what was
 * published meanwhile is lost (pub/sub is at-most-once) and the protocols recover it.
 */
import type {Redis} from 'ioredis'
import type {Destination} from '../core/machine.js'
import type {Log, Transport} from '../runtime/ports.js'
import {connectReplica, redactUrl, replicaConnection} from './connect.js'
import type {ClusterNames} from './channel-names.js'

export type {Log} from '../runtime/ports.js'

/** A subscribe refused while the connection looked ready is retried this soon. */
const SUBSCRIBE_RETRY_MS = 100

export class RedisTransport implements Transport {
  private readonly sub: Redis
  private readonly pub: Redis
  private wasUp = false
  private publishFailures = 0

  constructor(
    readonly url: string,
    readonly names: ClusterNames,
    readonly selfId: string,
    private readonly log: Log,
  ) {
    this.sub = replicaConnection(url, `kv-${names.cluster}-${selfId}-sub`)
    this.pub = replicaConnection(url, `kv-${names.cluster}-${selfId}-pub`)
    for (const [role, conn] of [
      ['sub', this.sub],
      ['pub', this.pub],
    ] as const) {
      conn.on('error', () => {}) // reported through 'close'/'ready' below, never thrown
      conn.on('ready', () => {
        if (role === 'pub') {
          if (this.wasUp) this.log('info', `broker ${redactUrl(url)} is back`)
          this.wasUp = true
        }
      })
      conn.on('close', () => {
        if (role === 'pub' && this.wasUp) this.log('warn', `lost the broker ${redactUrl(url)}; retrying`)
      })
    }
  }

  /**
   * Connects both connections, retrying until the broker answers; rejects with REDIS_UNAVAILABLE when
   * the broker refuses the login or its TLS certificate (retrying cannot fix those).
   */
  async connect(): Promise<void> {
    await Promise.all([connectReplica(this.sub, this.url), connectReplica(this.pub, this.url)])
  }

  /**
   * Subscribes to `channels`, retrying until the broker takes it: the broker may go away between
   * connect() and here (a replica restarting during a broker restart exited on that in the nemesis).
   * Once subscribed, ioredis resubscribes by itself after a reconnect.
   */
  async subscribe(channels: string[], onMessage: (channel: string, raw: Buffer) => void): Promise<void> {
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => onMessage(channel.toString(), message))
    for (;;) {
      try {
        await this.sub.subscribe(...channels)
        return
      } catch {
        await new Promise<void>((resolve) => {
          if (this.sub.status === 'ready') setTimeout(resolve, SUBSCRIBE_RETRY_MS)
          else this.sub.once('ready', () => resolve())
        })
      }
    }
  }

  /** Fire-and-forget publish; failures (broker down) are counted, the protocols resend what matters. */
  publish(channel: string, payload: string): void {
    this.pub.publish(channel, payload).catch(() => {
      this.publishFailures++
    })
  }

  /** The runner's port: a destination becomes its cluster-namespaced channel (names from channel-names.ts). */
  send(to: Destination, payload: string): void {
    this.publish(channelOf(this.names, to), payload)
  }

  /** Publish and learn how many subscribers got it (0 = nobody listening). */
  async publishCounted(channel: string, payload: string): Promise<number> {
    try {
      return await this.pub.publish(channel, payload)
    } catch {
      this.publishFailures++
      return 0
    }
  }

  get failures(): number {
    return this.publishFailures
  }

  /** Commands on the publisher connection (registry, presence); they fail fast while the broker is down. */
  get commands(): Redis {
    return this.pub
  }

  get connected(): boolean {
    return this.pub.status === 'ready' && this.sub.status === 'ready'
  }

  /**
   * Unsubscribes first, then closes: every message Redis delivered before the UNSUBSCRIBE's answer
   * is handled while the publisher can still answer it (a client asking a stopping replica is told
   * UNAVAILABLE and tries another, instead of waiting for its timeout); after it, a PUBLISH finds no
   * receiver and the client moves on at once.
   */
  async close(): Promise<void> {
    await this.sub.unsubscribe().catch(() => {})
    await new Promise<void>((resolve) => setImmediate(resolve)) // replies of the last messages are queued
    await Promise.allSettled([this.sub.quit(), this.pub.quit()])
    this.sub.disconnect()
    this.pub.disconnect()
  }
}

function channelOf(names: ClusterNames, to: Destination): string {
  switch (to.kind) {
    case 'node':
      return names.inbox(to.id)
    case 'client':
      return to.channel
    case 'topic':
      return {
        members: names.membersTopic,
        replication: names.replicationTopic,
        election: names.electionTopic,
        commit: names.commitTopic,
      }[to.topic]
  }
}
