/**
 * Broker URLs taken apart (CONTRACT.md, "Broker URLs"): which kind of deployment a URL names and the
 * login it carries, and the URL as every message and log line shows it (redactUrl). Pure: connect.ts
 * turns the result into ioredis options, so every connection kv opens reads a URL the same way.
 *
 * Why the Sentinel form is parsed here rather than by `new URL`: its authority lists several
 * `HOST:PORT`s separated by commas, which WHATWG URL parsing rejects as a bad port.
 */
import {KvError} from '../core/errors.js'

/** Sentinel's own default port, for a `HOST` given without one. */
export const SENTINEL_DEFAULT_PORT = 26379
/** A Sentinel URL may list at most this many Sentinels (ioredis tries them in order). */
export const SENTINELS_MAX = 16

/** The URL forms kv accepts, as error messages list them. */
export const BROKER_URL_FORMS: readonly string[] = [
  'redis://[[USER]:PASSWORD@]HOST:PORT',
  'rediss://[[USER]:PASSWORD@]HOST:PORT',
  'redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT…]/MASTER',
]

export interface HostPort {
  readonly host: string
  readonly port: number
}

/** The login a URL carries (decoded); both absent when it carries none. */
export interface BrokerLogin {
  readonly username?: string
  readonly password?: string
}

/**
 * - redis: one Redis (`redis://`, or `rediss://` with `tls`); ioredis reads the URL itself.
 * - sentinel: the Redis that `sentinels` name as master `masterName`; `login` is for that master
 *   (and whichever replica they promote), never for the Sentinels.
 */
export type BrokerAddress =
  | {readonly kind: 'redis'; readonly tls: boolean; readonly login: BrokerLogin}
  | {
      readonly kind: 'sentinel'
      readonly sentinels: readonly HostPort[]
      readonly masterName: string
      readonly login: BrokerLogin
    }

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//

/**
 * Called by connect.ts for every connection, and early by the commands that take --redis, so a
 * mistyped URL is BAD_REQUEST naming the accepted forms instead of a connection that never works.
 */
export function parseBrokerUrl(url: string): BrokerAddress {
  const scheme = SCHEME.exec(url)?.[1]?.toLowerCase()
  switch (scheme) {
    case 'redis':
    case 'rediss':
      return {kind: 'redis', tls: scheme === 'rediss', login: plainLogin(url)}
    case 'redis+sentinel':
      return parseSentinelUrl(url)
    default:
      throw badUrl(
        url,
        scheme === undefined ? 'it does not start with a scheme such as redis://' : `${scheme}:// is not a broker URL`,
      )
  }
}

function plainLogin(url: string): BrokerLogin {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw badUrl(url, 'it is not a well-formed URL')
  }
  if (!u.hostname) throw badUrl(url, 'it names no host')
  const username = decode(url, u.username, 'user name')
  const password = decode(url, u.password, 'password')
  return {...(username ? {username} : {}), ...(password ? {password} : {})}
}

/** `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER`, nothing after MASTER. */
function parseSentinelUrl(url: string): BrokerAddress {
  const rest = url.slice('redis+sentinel://'.length)
  // The master name follows the last '/', the login precedes the last '@' before it: a password
  // with an unencoded '@' or '/' still splits where the user meant.
  const slash = rest.lastIndexOf('/')
  if (slash < 0) throw badUrl(url, 'the master name is missing: end the URL with /MASTER')
  const rawName = rest.slice(slash + 1)
  if (/[?#]/.test(rawName))
    throw badUrl(url, 'the master name must be the last thing in the URL (no ?query or #fragment)')
  const masterName = decode(url, rawName, 'master name')
  if (!masterName) throw badUrl(url, 'the master name is missing: end the URL with /MASTER')
  if (/\s/.test(masterName)) throw badUrl(url, 'a Sentinel master name has no spaces')
  const authority = rest.slice(0, slash)
  const at = authority.lastIndexOf('@')
  const hosts = at < 0 ? authority : authority.slice(at + 1)
  const login = at < 0 ? {} : sentinelLogin(url, authority.slice(0, at))
  const sentinels = hosts.split(',').map((hostPort) => parseHostPort(url, hostPort.trim()))
  if (sentinels.length > SENTINELS_MAX) throw badUrl(url, `it lists more than ${SENTINELS_MAX} Sentinels`)
  return {kind: 'sentinel', sentinels, masterName, login}
}

function sentinelLogin(url: string, userinfo: string): BrokerLogin {
  const colon = userinfo.indexOf(':')
  if (colon < 0) throw badUrl(url, 'a login is USER:PASSWORD@ or :PASSWORD@ (the colon is missing)')
  const username = decode(url, userinfo.slice(0, colon), 'user name')
  const password = decode(url, userinfo.slice(colon + 1), 'password')
  return {...(username ? {username} : {}), ...(password ? {password} : {})}
}

function parseHostPort(url: string, text: string): HostPort {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(text) ?? /^([A-Za-z0-9._-]+)(?::(\d+))?$/.exec(text)
  if (!m) throw badUrl(url, `"${text}" is not HOST:PORT`)
  const port = m[2] === undefined ? SENTINEL_DEFAULT_PORT : Number(m[2])
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw badUrl(url, `${port} is not a TCP port`)
  return {host: m[1] as string, port}
}

function decode(url: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw badUrl(url, `its ${what} has a bad %-escape`)
  }
}

function badUrl(url: string, why: string): KvError {
  return new KvError(
    'BAD_REQUEST',
    `the broker URL ${redactUrl(url)} is not one kv can use: ${why}; use ${BROKER_URL_FORMS.join(', or ')}`,
  )
}

/** The URL with any password replaced by `***`, for messages and logs (every URL form, well-formed or not). */
export function redactUrl(url: string): string {
  const scheme = SCHEME.exec(url)
  if (scheme && scheme[1]?.toLowerCase() !== 'redis+sentinel') {
    try {
      const u = new URL(url)
      if (u.password) u.password = '***'
      return u.toString()
    } catch {
      // not a URL the WHATWG parser takes: redact by hand below
    }
  }
  if (!scheme) return url.replace(/\/\/[^@/]*@/, '//***@')
  const start = scheme[0].length
  // The last '@' anywhere: at worst (an '@' in a master name) this hides more than the password, never less.
  const at = url.lastIndexOf('@')
  if (at < start) return url
  const userinfo = url.slice(start, at)
  const colon = userinfo.indexOf(':')
  const shown = colon < 0 ? '***' : `${userinfo.slice(0, colon)}:***`
  return `${url.slice(0, start)}${shown}${url.slice(at)}`
}
