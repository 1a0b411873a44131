/**
 * A private redis-server on a free port that its owner may stop and restart on the same port (that
 * is how broker faults are injected). Nothing is persisted by it. Used by the scenario tests (as
 * TestRedis, re-exported from test/support) and by the nemesis; moved here so src/ can use it.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {KvError} from '../core/errors.js'
import {findOnPath} from './embedded-redis.js'
import {waitFor} from './wait-for.js'

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address() as {port: number}
      srv.close(() => resolve(port))
    })
  })
}

/** How a PrivateRedis differs from a plain, open one (the broker ACL and TLS tests). */
export interface PrivateRedisOptions {
  /** More redis-server arguments, e.g. ['--aclfile', FILE]. */
  readonly args?: readonly string[]
  /** Serve TLS only (no plain port) with these PEM files; `url` is then rediss://. */
  readonly tls?: {readonly certFile: string; readonly keyFile: string; readonly caFile: string}
  /** The user the readiness PING logs in as when the default user is off. */
  readonly login?: {readonly username: string; readonly password: string}
  /**
   * Run `redis-sentinel` instead, with this sentinel.conf text (`sentinel monitor …` lines; the port
   * comes from here). Sentinel rewrites its config file, so each PrivateRedis keeps its own copy in
   * its own directory, written at the first start and kept across restarts (it is Sentinel's state).
   */
  readonly sentinelConfig?: string
}

function binaryFor(opts: PrivateRedisOptions): 'redis-server' | 'redis-sentinel' {
  return opts.sentinelConfig === undefined ? 'redis-server' : 'redis-sentinel'
}

/** Created by PrivateRedis.start(); stopProcess/startProcess cut the broker and bring it back. */
export class PrivateRedis {
  private proc: ChildProcess | null = null
  private readonly dir = mkdtempSync(join(tmpdir(), 'kv-redis-'))

  private constructor(
    readonly port: number,
    private readonly opts: PrivateRedisOptions,
  ) {}

  /** Picks a free port and starts redis-server (or redis-sentinel) from PATH there; resolves once it answers PING. */
  static async start(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const binary = binaryFor(opts)
    if (!findOnPath(binary)) {
      throw new KvError('REDIS_UNAVAILABLE', `there is no ${binary} on PATH; install it (apt-get install -y ${binary})`)
    }
    const r = new PrivateRedis(await freePort(), opts)
    await r.startProcess()
    return r
  }

  get url(): string {
    return `${this.opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`
  }

  /** The running server's pid; undefined when it is not running (the nemesis kills it on exit). */
  get pid(): number | undefined {
    const p = this.proc
    return p && p.exitCode === null && p.signalCode === null ? p.pid : undefined
  }

  /** Starts the server on this object's port (again, after stopProcess) and waits for PING. */
  async startProcess(): Promise<void> {
    const {tls} = this.opts
    // TLS only: no plain port, and clients need no certificate of their own.
    const listen = tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-auth-clients', 'no']
      : ['--port', String(this.port)]
    if (tls)
      listen.push('--tls-cert-file', tls.certFile, '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile)
    const {sentinelConfig} = this.opts
    const configFile = join(this.dir, 'sentinel.conf')
    if (sentinelConfig !== undefined && !existsSync(configFile)) writeFileSync(configFile, sentinelConfig)
    const proc = spawn(
      binaryFor(this.opts),
      [
        ...(sentinelConfig === undefined ? [] : [configFile]),
        ...listen,
        '--bind',
        '127.0.0.1',
        ...(sentinelConfig === undefined ? ['--save', '', '--appendonly', 'no'] : []),
        '--dir',
        this.dir,
        ...(this.opts.args ?? []),
      ],
      {
        stdio: 'ignore',
      },
    )
    proc.on('error', () => {}) // a failed spawn shows up as the PING wait below timing out
    this.proc = proc
    await waitFor(`redis-server on ${this.port}`, async () => {
      const c = new Redis(this.url, {
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        ...this.opts.login,
        ...(tls ? {tls: {ca: readFileSync(tls.caFile)}} : {}),
      })
      c.on('error', () => {})
      try {
        await c.connect()
        await c.ping() // resolves only with PONG: an error reply or no answer rejects
        return true
      } finally {
        c.disconnect()
      }
    })
  }

  /** Stop the broker abruptly (every subscriber is cut off, every in-flight message lost). */
  async stopProcess(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
    this.proc = null
  }

  async restart(): Promise<void> {
    await this.stopProcess()
    await this.startProcess()
  }

  /** Stops the server for good and removes its working directory. */
  async stop(): Promise<void> {
    await this.stopProcess()
    rmSync(this.dir, {recursive: true, force: true})
  }
}
