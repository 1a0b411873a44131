/**
 * A private redis-server per test run, on a free port, which tests may stop and restart (that is how
 * broker faults are tested). Nothing is persisted by it.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Redis} from 'ioredis'
import {waitFor} from './wait.js'

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

export class TestRedis {
  private proc: ChildProcess | null = null
  private readonly dir = mkdtempSync(join(tmpdir(), 'kv-redis-'))

  private constructor(readonly port: number) {}

  static async start(): Promise<TestRedis> {
    const r = new TestRedis(await freePort())
    await r.startProcess()
    return r
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async startProcess(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], {
      stdio: 'ignore',
    })
    await waitFor(`redis-server on ${this.port}`, async () => {
      const c = new Redis(this.url, {lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0})
      c.on('error', () => {})
      try {
        await c.connect()
        return (await c.ping()) === 'PONG'
      } finally {
        c.disconnect()
      }
    })
  }

  /** Stop the broker abruptly (every subscriber is cut off, every in-flight message lost). */
  async stopProcess(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
    this.proc = null
  }

  async restart(): Promise<void> {
    await this.stopProcess()
    await this.startProcess()
  }

  async stop(): Promise<void> {
    await this.stopProcess()
    rmSync(this.dir, {recursive: true, force: true})
  }
}
