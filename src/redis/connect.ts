/**
 * Opening connections to the broker. Replicas keep retrying forever (a broker restart must not kill
 * them), except at start when the broker refuses them for good (a refused login, an untrusted TLS
 * certificate): retrying cannot fix that, so they stop with the reason. Clients fail fast with
 * REDIS_UNAVAILABLE naming the URL and, when the broker refused them, why. Passwords never reach a
 * log line or an error message.
 *
 * Every connection is made by brokerConnection from the URL's form (broker-url.ts). Over Sentinel
 * (`redis+sentinel://…/MASTER`) ioredis asks the Sentinels where the master is on every (re)connect
 * and checks with INFO that the server it reached is still a master, so after a failover a
 * replica's connections land on the promoted replica by themselves: the subscriber resubscribes
 * (ioredis's autoResubscribe), the publisher fails fast meanwhile (no offline queue) and the
 * protocols recover what was lost in the switch. The URL's login is for the master only: the
 * Sentinels are asked without one, because Sentinel's own `requirepass`/ACL is separate from the
 * data nodes' users, and sending a data user to Sentinels that do not have it would fail every
 * lookup. Sentinels that require a login are not supported (their refusal says so).
 */
import {Redis, type RedisOptions} from 'ioredis'
import {KvError} from '../core/errors.js'
import {type BrokerLogin, parseBrokerUrl, redactUrl} from './broker-url.js'

export {redactUrl} from './broker-url.js'

/** Where a command's broker comes from: --redis, then $KV_REDIS_URL, then $REDIS_URL, then localhost. */
export function defaultRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.KV_REDIS_URL || env.REDIS_URL || 'redis://127.0.0.1:6379'
}

/**
 * A new ioredis connection to the broker `url` names, with `options` (retries, timeouts, queueing)
 * on top. The one place kv makes a broker connection: the replica's, the client's, and the BullMQ
 * hint queues' (hint-queues.ts). Throws BAD_REQUEST for a URL kv cannot use.
 */
export function brokerConnection(url: string, options: RedisOptions): Redis {
  const address = parseBrokerUrl(url)
  if (address.kind === 'redis') return new Redis(url, {...(address.tls ? {tls: {}} : {}), ...options})
  return new Redis({
    sentinels: address.sentinels.map(({host, port}) => ({host, port})),
    name: address.masterName,
    role: 'master',
    ...address.login,
    // A Sentinel that accepts the connection but never answers must not hold a lookup forever.
    sentinelCommandTimeout: options.connectTimeout ?? SENTINEL_COMMAND_TIMEOUT_MS,
    ...options,
  })
}

/** How long one question to one Sentinel may take when the caller set no connectTimeout. */
const SENTINEL_COMMAND_TIMEOUT_MS = 2000

/** ioredis's "every Sentinel failed" error (its wording; the cause is in the last 'sentinelError'). */
const ALL_SENTINELS_FAILED = /All sentinels are unreachable/i
/** A Sentinel's answer when it does not know the master name (Redis 7: an error; older: a null reply). */
const UNKNOWN_MASTER = /No such master with that name|successfully, but got an invalid reply: null/i
/** A Sentinel that wants a login (kv sends none to Sentinels). */
const SENTINEL_LOGIN = /\b(NOAUTH|WRONGPASS)\b/
/** ioredis's 'sentinelError' for one Sentinel that failed. */
const SENTINEL_FAILED = /^failed to connect to sentinel (\S+) because (.*)$/

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

/** The login `url` carries; none when kv cannot use the URL (its own error says so elsewhere). */
function credentialsOf(url: string): BrokerLogin {
  try {
    return parseBrokerUrl(url).login
  } catch {
    return {}
  }
}

/** The login name in `url`, as a phrase for messages: `user "kv-client"` or `the default user`. */
function loginOf(url: string): string {
  const name = credentialsOf(url).username
  return name ? `user "${name}"` : 'the default user'
}

/** The password in `url` (decoded), so that no message ever repeats it, even if a server echoed it. */
function passwordOf(url: string): string {
  return credentialsOf(url).password ?? ''
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
  const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 1000)
  return brokerConnection(url, {
    connectionName: name,
    lazyConnect: true,
    // Commands issued in one tick (a burst's publishes) go out in one socket write.
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: backoff,
    // Over Sentinel: when no Sentinel answers, ask them all again on the same backoff, forever.
    sentinelRetryStrategy: backoff,
  })
}

/**
 * Called once by a replica at start for each replicaConnection: resolves when the connection is
 * ready, retrying while the broker is down or unreachable (it may be starting too), and rejects with
 * brokerRefusal's REDIS_UNAVAILABLE, closing the connection, as soon as the broker refuses the login
 * or its TLS certificate is not trusted, or (over Sentinel) every Sentinel says it does not know the
 * master name or wants a login: those never heal by waiting, and a replica that retried them
 * forever would look like a slow start. Later reconnects retry forever as before.
 */
export async function connectReplica(conn: Redis, url: string): Promise<void> {
  if (conn.status === 'ready') return
  await new Promise<void>((resolve, reject) => {
    const refuse = (refusal: KvError | undefined): void => {
      if (!refusal) return
      done()
      conn.disconnect()
      reject(refusal)
    }
    // Over Sentinel: refused only when every Sentinel of a pass refused (one may be misconfigured).
    let passErrors: Error[] = []
    const onError = (error: Error): void => {
      if (ALL_SENTINELS_FAILED.test(error.message)) {
        const pass = passErrors
        passErrors = []
        refuse(sentinelsRefusal(url, pass))
      } else refuse(brokerRefusal(url, error))
    }
    const onSentinelError = (error: Error): void => void passErrors.push(error)
    const onReady = (): void => {
      done()
      resolve()
    }
    const done = (): void => {
      conn.off('error', onError)
      conn.off('sentinelError', onSentinelError)
      conn.off('ready', onReady)
    }
    conn.on('error', onError)
    conn.on('sentinelError', onSentinelError)
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
  const redis = brokerConnection(url, {
    connectionName: name,
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    // Over Sentinel: one pass over the Sentinels, then REDIS_UNAVAILABLE.
    sentinelRetryStrategy: () => null,
  })
  // ioredis reports why a connect failed (WRONGPASS, a certificate error) only through 'error';
  // connect() itself rejects with "Connection is closed". Why each Sentinel failed comes only
  // through 'sentinelError'.
  let lastError: Error | undefined
  const sentinelErrors: Error[] = []
  redis.on('error', (error: Error) => {
    lastError ??= error
  })
  redis.on('sentinelError', (error: Error) => void sentinelErrors.push(error))
  try {
    await redis.connect()
    return redis
  } catch (error) {
    // Once ended, disconnect() would only arm ioredis's 2 s socket-close timer and hold the exit that long.
    if (redis.status !== 'end') redis.disconnect()
    const cause = lastError ?? (error as Error)
    throw (
      brokerRefusal(url, cause) ??
      sentinelFailure(url, cause, sentinelErrors) ??
      new KvError(
        'REDIS_UNAVAILABLE',
        `cannot reach the broker at ${redactUrl(url)} (${reasonOf(url, cause)}); start one (kv cluster up, or docker compose up redis) or pass --redis URL`,
      )
    )
  }
}

function masterNameOf(url: string): string {
  const address = parseBrokerUrl(url)
  return address.kind === 'sentinel' ? address.masterName : '?'
}

/**
 * The Sentinels' answers in one pass over them, when every one of them is one that waiting cannot
 * fix, as the REDIS_UNAVAILABLE to show; undefined when any Sentinel failed otherwise (down, slow)
 * or none answered. Used by connectReplica (a replica stops at start) and clientConnection.
 */
function sentinelsRefusal(url: string, pass: readonly Error[]): KvError | undefined {
  const refusals = pass.map((error) => sentinelRefusal(url, error))
  return refusals.length > 0 && refusals.every((r) => r !== undefined) ? refusals[0] : undefined
}

/**
 * One Sentinel's answer that waiting cannot fix: it does not know the master name (a typo in the URL
 * more often than an outage), or it wants a login kv does not send; undefined for anything else.
 */
function sentinelRefusal(url: string, sentinelError: Error): KvError | undefined {
  if (UNKNOWN_MASTER.test(sentinelError.message)) {
    return new KvError(
      'REDIS_UNAVAILABLE',
      `the Sentinels at ${redactUrl(url)} do not know a master named "${masterNameOf(url)}"; check the name after the last / (redis-cli -p SENTINEL_PORT SENTINEL MASTERS lists theirs)`,
    )
  }
  if (SENTINEL_LOGIN.test(sentinelError.message)) {
    return new KvError(
      'REDIS_UNAVAILABLE',
      `the Sentinels at ${redactUrl(url)} want a login (${reasonOf(url, sentinelError)}); kv asks Sentinels without one (the login in the URL is for the master), so run them without requirepass`,
    )
  }
  return undefined
}

/**
 * Called by clientConnection when no Sentinel of a `redis+sentinel://` URL gave a master address:
 * sentinelsRefusal's error, else REDIS_UNAVAILABLE saying which Sentinel failed last and how;
 * undefined for any other failure.
 */
function sentinelFailure(url: string, cause: Error, sentinelErrors: readonly Error[]): KvError | undefined {
  if (!ALL_SENTINELS_FAILED.test(cause.message)) return undefined
  const refusal = sentinelsRefusal(url, sentinelErrors)
  if (refusal) return refusal
  const reason = reasonOf(url, sentinelErrors.at(-1) ?? cause)
  const failed = SENTINEL_FAILED.exec(reason)
  // ioredis reports a refused connection to a Sentinel as "Connection is closed."
  const why = failed?.[2]?.replace(/^Connection is closed\.?$/, 'refused or closed the connection')
  const detail = failed ? `the last one tried, ${failed[1]}: ${why}` : reason
  return new KvError(
    'REDIS_UNAVAILABLE',
    `cannot reach the broker at ${redactUrl(url)}: no Sentinel told where master "${masterNameOf(url)}" is (${detail}); check that the Sentinels run, or pass --redis URL`,
  )
}
