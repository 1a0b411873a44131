/**
 * Opening connections to the broker. Replicas keep retrying forever (a broker restart must not kill
 * them), except at start when the broker refuses them for good (a refused login, an untrusted TLS
 * certificate): retrying cannot fix that, so they stop with the reason. Clients fail fast with
 * REDIS_UNAVAILABLE naming the URL and, when the broker refused them, why. Passwords never reach a
 * log line or an error message.
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

/** Redis's answers to a login it refuses (ACL users: WRONGPASS; no login at all: NOAUTH; Redis 5: ERR invalid password). */
const LOGIN_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b|^ERR AUTH\b|invalid password|invalid username-password/i

/** Node's TLS verification failures (error codes, then wording for errors that lost their code). */
const TLS_UNTRUSTED_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])
const TLS_UNTRUSTED =
  /self[- ]signed certificate|unable to verify|unable to get (local )?issuer|certificate has expired|does not match certificate/i

/** The login name in `url`, as a phrase for messages: `user "kv-client"` or `the default user`. */
function loginOf(url: string): string {
  try {
    const name = decodeURIComponent(new URL(url).username)
    return name ? `user "${name}"` : 'the default user'
  } catch {
    return 'the default user'
  }
}

/** The password in `url` (decoded), so that no message ever repeats it, even if a server echoed it. */
function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ''
  }
}

function reasonOf(url: string, error: Error): string {
  const password = passwordOf(url)
  const text = error.message.replace(/\s+/g, ' ').trim()
  return password ? text.split(password).join('***') : text
}

/**
 * A failure that retrying cannot fix, as the REDIS_UNAVAILABLE error to show; undefined for anything
 * else (the broker is down, a network blip). Used by clientConnection and connectReplica below.
 */
export function brokerRefusal(url: string, error: Error): KvError | undefined {
  const reason = reasonOf(url, error)
  if (LOGIN_REFUSED.test(error.message)) {
    return new KvError(
      'REDIS_UNAVAILABLE',
      `the broker at ${redactUrl(url)} refused the login of ${loginOf(url)} (${reason}); check the user and password in --redis or $KV_REDIS_URL, and that the broker's ACL has that user enabled`,
    )
  }
  const code = (error as NodeJS.ErrnoException).code
  if ((code !== undefined && TLS_UNTRUSTED_CODES.has(code)) || TLS_UNTRUSTED.test(error.message)) {
    return new KvError(
      'REDIS_UNAVAILABLE',
      `the broker's TLS certificate at ${redactUrl(url)} is not trusted (${reason}); set NODE_EXTRA_CA_CERTS to the file of the CA that signed it, and connect by a host name or IP that the certificate names`,
    )
  }
  return undefined
}

/**
 * A connection for a long-running replica: retries with capped backoff forever, never queues
 * commands while offline (a publish to a dead broker fails at once; the protocol recovers the loss).
 * Open it with connectReplica.
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
 * Called once by a replica at start for each replicaConnection: resolves when the connection is
 * ready, retrying while the broker is down or unreachable (it may be starting too), and rejects with
 * brokerRefusal's REDIS_UNAVAILABLE, closing the connection, as soon as the broker refuses the login
 * or its TLS certificate is not trusted: those never heal by waiting, and a replica that retried them
 * forever would look like a slow start. Later reconnects retry forever as before.
 */
export async function connectReplica(conn: Redis, url: string): Promise<void> {
  if (conn.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => {
      const refusal = brokerRefusal(url, error)
      if (!refusal) return
      done()
      conn.disconnect()
      reject(refusal)
    }
    const onReady = (): void => {
      done()
      resolve()
    }
    const done = (): void => {
      conn.off('error', onError)
      conn.off('ready', onReady)
    }
    conn.on('error', onError)
    conn.on('ready', onReady)
    // lazyConnect + retryStrategy: connect() rejects on the first failure but ioredis keeps retrying.
    if (conn.status === 'wait') conn.connect().catch(() => {})
  })
}

/**
 * A connection for a short-lived client: one connect attempt within `timeoutMs`, then
 * REDIS_UNAVAILABLE (saying so when the broker refused the login or its certificate is not trusted).
 * The returned connection does not retry later either.
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
  // ioredis reports why a connect failed (WRONGPASS, a certificate error) only through 'error';
  // connect() itself rejects with "Connection is closed".
  let lastError: Error | undefined
  redis.on('error', (error: Error) => {
    lastError ??= error
  })
  try {
    await redis.connect()
    return redis
  } catch (error) {
    // Once ended, disconnect() would only arm ioredis's 2 s socket-close timer and hold the exit that long.
    if (redis.status !== 'end') redis.disconnect()
    const cause = lastError ?? (error as Error)
    throw (
      brokerRefusal(url, cause) ??
      new KvError(
        'REDIS_UNAVAILABLE',
        `cannot reach the broker at ${redactUrl(url)} (${reasonOf(url, cause)}); start one (kv cluster up, or docker compose up redis) or pass --redis URL`,
      )
    )
  }
}
