/**
 * Opening connections to the broker. Replicas keep retrying forever (a broker restart must not kill
 * them); clients fail fast with REDIS_UNAVAILABLE naming the URL. Passwords never reach a log line.
 */
import {Redis, type RedisOptions} from 'ioredis'
import {KvError} from '../core/errors.js'

/** The URL with any password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@')
  }
}

/** Where a command's broker comes from: --redis, then $KV_REDIS_URL, then $REDIS_URL, then localhost. */
export function defaultRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.KV_REDIS_URL || env.REDIS_URL || 'redis://127.0.0.1:6379'
}

function tlsFor(url: string): RedisOptions {
  return url.startsWith('rediss://') ? {tls: {}} : {}
}

/**
 * A connection for a long-running replica: retries with capped backoff forever, never queues
 * commands while offline (a publish to a dead broker fails at once; the protocol recovers the loss).
 */
export function replicaConnection(url: string, name: string): Redis {
  return new Redis(url, {
    ...tlsFor(url),
    connectionName: name,
    lazyConnect: true,
    // Commands issued in one tick (a burst's publishes) go out in one socket write.
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 1000),
  })
}

/**
 * A connection for a short-lived client: one connect attempt within `timeoutMs`, then
 * REDIS_UNAVAILABLE. The returned connection does not retry later either.
 */
export async function clientConnection(url: string, name: string, timeoutMs = 3000): Promise<Redis> {
  const redis = new Redis(url, {
    ...tlsFor(url),
    connectionName: name,
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
  })
  redis.on('error', () => {}) // surfaced through connect() and command rejections instead
  try {
    await redis.connect()
    return redis
  } catch (error) {
    redis.disconnect()
    throw new KvError(
      'REDIS_UNAVAILABLE',
      `cannot reach the broker at ${redactUrl(url)} (${(error as Error).message}); start one (kv cluster up, or docker compose up redis) or pass --redis URL`,
    )
  }
}
