/**
 * Real replica processes started through bin/run.js, exactly as a user would (`kv node start`).
 * Each test makes its own TestCluster with a unique cluster name and data dirs under a temp dir.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {KvClient} from '../../src/client/index.js'
import {waitFor} from './wait.js'

export const RUN_JS = resolve(import.meta.dirname, '../../bin/run.js')

let clusterSeq = 0

/** A cluster name unique to one test. */
export function uniqueCluster(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${clusterSeq++}`
}

export interface NodeOptions {
  peers?: string[]
  allowFaults?: boolean
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'kv-test-'))
  readonly procs = new Map<string, ChildProcess>()
  readonly logs = new Map<string, string[]>()
  private clients: KvClient[] = []

  constructor(
    readonly redisUrl: string,
    readonly name: string,
    readonly ids: string[],
    readonly mode: 'eventual' | 'quorum' = 'eventual',
  ) {}

  dataDir(id: string): string {
    return join(this.dir, id)
  }

  /** Start one replica process (it keeps its data dir across restarts). */
  start(id: string, opts: NodeOptions = {}): ChildProcess {
    const peers = opts.peers ?? this.ids
    const args = [RUN_JS, 'node', 'start', '--id', id, '--peers', peers.join(','), '--mode', this.mode, '--data-dir', this.dataDir(id), '--redis', this.redisUrl, '--cluster', this.name]
    if (opts.allowFaults ?? true) args.push('--allow-faults')
    const proc = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe']})
    const log: string[] = this.logs.get(id) ?? []
    this.logs.set(id, log)
    const keep = (chunk: Buffer) => {
      log.push(...chunk.toString().split('\n').filter(Boolean))
      if (log.length > 2000) log.splice(0, log.length - 2000)
    }
    proc.stdout!.on('data', keep)
    proc.stderr!.on('data', keep)
    this.procs.set(id, proc)
    return proc
  }

  startAll(opts: NodeOptions = {}): void {
    for (const id of this.ids) this.start(id, opts)
  }

  async client(): Promise<KvClient> {
    const c = await KvClient.connect({redisUrl: this.redisUrl, cluster: this.name, timeoutMs: 5000})
    this.clients.push(c)
    return c
  }

  /** Wait until `ids` all answer status requests. */
  async waitAlive(ids: string[] = this.ids, timeoutMs = 20_000): Promise<void> {
    const c = await this.client()
    await waitFor(`${ids.join(',')} alive`, async () => {
      const st = await c.status({timeoutMs: 1000})
      const alive = new Set(st.nodes.filter((n) => n.alive).map((n) => n.id))
      return ids.every((id) => alive.has(id))
    }, {timeoutMs})
    // ...and see each other, so writes replicate instead of becoming hints.
    await waitFor('replicas see each other', async () => {
      const st = await c.status({timeoutMs: 1000})
      return ids.every((id) => {
        const n = st.nodes.find((x) => x.id === id)
        return n?.alive && ids.every((p) => n.peersAlive?.includes(p) ?? true)
      })
    }, {timeoutMs})
  }

  /** kill -9: no snapshot, no goodbye. */
  async kill(id: string): Promise<void> {
    const p = this.procs.get(id)
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
  }

  /** SIGTERM and wait; resolves with the exit code. */
  async stop(id: string): Promise<number | null> {
    const p = this.procs.get(id)
    if (!p || p.exitCode !== null || p.signalCode !== null) return p?.exitCode ?? null
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)))
    p.kill('SIGTERM')
    return exited
  }

  logOf(id: string): string {
    return (this.logs.get(id) ?? []).join('\n')
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close().catch(() => {})
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id)))
    rmSync(this.dir, {recursive: true, force: true})
  }
}
