/**
 * The broker for `kv cluster up`: the one the user named, else whatever answers on the default
 * port, else a private redis-server started from PATH (and stopped when the supervisor exits).
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {accessSync, constants} from 'node:fs'
import path from 'node:path'
import {KvError} from '../core/errors.js'
import {parseBrokerUrl} from '../redis/broker-url.js'
import {clientConnection, redactUrl} from '../redis/connect.js'
import {prefixLines} from './prefix-lines.js'
import {exitOf, settlesWithin} from './process-helpers.js'

/** The address the embedded broker listens on (the contract's default broker). */
export const EMBEDDED_PORT = 6379
/** The URL of the default (and embedded) broker. */
export const EMBEDDED_URL = `redis://127.0.0.1:${EMBEDDED_PORT}`
/** How long a fresh redis-server may take to answer PING. */
const START_DEADLINE_MS = 5000
/** How long a redis-server may take to exit on SIGTERM before it is killed. */
const STOP_GRACE_MS = 5000

/** A broker to use, and the private redis-server to stop afterwards when we started one. */
export interface Broker {
  readonly url: string
  readonly embedded?: EmbeddedRedis
}

/** The private redis-server the supervisor started; it stops it after the replicas. */
export interface EmbeddedRedis {
  readonly pid: number
  stop(): Promise<void>
  /** SIGKILL now (a second Ctrl-C). */
  kill(): void
}

/** The absolute path of an executable named `name` on $PATH, if any. */
export function findOnPath(name: string, envPath: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue
    const candidate = path.join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not here; keep looking
    }
  }
  return undefined
}

/** True when a Redis at `url` answers PING within `timeoutMs`. */
export async function brokerAnswers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const redis = await clientConnection(url, 'kv-cluster-probe', timeoutMs)
    try {
      await redis.ping() // resolves only with PONG: an error reply or no answer rejects
      return true
    } finally {
      redis.disconnect()
    }
  } catch {
    return false
  }
}

/**
 * Called by the supervisor first. `explicit` is --redis or an environment variable: used as is, in
 * any URL form (a `redis+sentinel://` URL included: never a private redis-server then), after a
 * BAD_REQUEST check of its form (the supervisor's client then fails with REDIS_UNAVAILABLE if it is
 * down). Otherwise the default address is probed and, if silent, a private redis-server is started there.
 */
export async function chooseBroker(explicit: string | undefined, log: (line: string) => void): Promise<Broker> {
  if (explicit) {
    parseBrokerUrl(explicit)
    return {url: explicit}
  }
  if (await brokerAnswers(EMBEDDED_URL, 1000)) return {url: EMBEDDED_URL}
  const binary = findOnPath('redis-server')
  if (!binary) {
    throw new KvError(
      'REDIS_UNAVAILABLE',
      `nothing answers at ${EMBEDDED_URL} and there is no redis-server on PATH to start one; install it (apt-get install -y redis-server), or run docker compose up redis, or pass --redis URL`,
    )
  }
  log(`starting a private redis-server on ${EMBEDDED_URL} (stopped when this supervisor exits)`)
  return {url: EMBEDDED_URL, embedded: await startEmbeddedRedis(binary, log)}
}

/** Starts `redis-server` without persistence on 127.0.0.1 and waits until it answers PING. */
export async function startEmbeddedRedis(binary: string, log: (line: string) => void): Promise<EmbeddedRedis> {
  const args = [
    '--port',
    String(EMBEDDED_PORT),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--loglevel',
    'warning',
  ]
  // Own process group: a terminal Ctrl-C reaches only the supervisor, which stops the broker last.
  const child = spawn(binary, args, {stdio: ['ignore', 'pipe', 'pipe'], detached: true})
  prefixLines(child.stdout, '[redis] ', log)
  prefixLines(child.stderr, '[redis] ', log)
  const exited = exitOf(child)
  const deadline = Date.now() + START_DEADLINE_MS
  while (Date.now() < deadline) {
    if (await settlesWithin(exited, 100)) {
      throw new KvError(
        'REDIS_UNAVAILABLE',
        `the private redis-server exited at once (${await exited}); see its output above, or pass --redis URL`,
      )
    }
    if (await brokerAnswers(EMBEDDED_URL, 500)) return handle(child, exited)
  }
  child.kill('SIGKILL')
  throw new KvError(
    'REDIS_UNAVAILABLE',
    `the private redis-server did not answer at ${redactUrl(EMBEDDED_URL)} within ${START_DEADLINE_MS} ms; pass --redis URL`,
  )
}

function handle(child: ChildProcess, exited: Promise<string>): EmbeddedRedis {
  return {
    pid: child.pid ?? -1,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      if (!(await settlesWithin(exited, STOP_GRACE_MS))) {
        child.kill('SIGKILL')
        await exited
      }
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    },
  }
}
