/**
 * Real replica processes started through bin/run.js, exactly as a user would (`kv node start`), each
 * with its own data dir under one temp dir. Scenario tests use it as TestCluster (re-exported from
 * test/support) with a unique cluster name per test; the nemesis uses it to kill -9, SIGSTOP/SIGCONT
 * and restart replicas. Moved here from test/support so src/ can use it.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {KvClient} from '../client/kv-client.js'
import {readSecretFile} from '../auth/secret-file.js'
import {waitFor} from './wait-for.js'

/** bin/run.js (the same path from src/cluster and from dist/cluster). */
export const RUN_JS = resolve(import.meta.dirname, '../../bin/run.js')

/** How many output lines per replica are kept in memory for logOf(). */
const LOG_LINES_KEPT = 2000

let clusterSeq = 0

/** A cluster name unique to one test or run (several share one Redis without seeing each other). */
export function uniqueCluster(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${clusterSeq++}`
}

export interface NodeOptions {
  peers?: string[]
  /** --allow-faults (default true: tests and the nemesis partition replicas). */
  allowFaults?: boolean
  /** --secret-file for this start (default: the cluster's; a rotation restarts replicas with another). */
  secretFile?: string
}

export interface LocalClusterOptions {
  /** Every complete output line of every replica, as it arrives (the nemesis writes them to files). */
  onLine?: (id: string, line: string) => void
  /** Every replica process exit, expected or not (the nemesis tells crashes from its own kills). */
  onExit?: (id: string, code: number | null, signal: NodeJS.Signals | null) => void
  /** The broker URL of client() (default: the replicas' URL): with ACL users, clients log in as another user. */
  clientRedisUrl?: string
  /** Environment variables set for the replica processes on top of this process's (NODE_EXTRA_CA_CERTS). */
  env?: NodeJS.ProcessEnv
  /** An authenticated cluster: replicas start with --secret-file, and client() signs with it. */
  secretFile?: string
}

/** Created by a test or the nemesis; close() kills every replica and removes the data dirs. */
export class LocalCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'kv-test-'))
  readonly procs = new Map<string, ChildProcess>()
  readonly logs = new Map<string, string[]>()
  private clients: KvClient[] = []
  /** --secret-file of the next start and of client() (useSecretFile changes it during a rotation). */
  private secretFile: string | undefined

  constructor(
    readonly redisUrl: string,
    readonly name: string,
    readonly ids: string[],
    readonly mode: 'eventual' | 'quorum' = 'eventual',
    private readonly opts: LocalClusterOptions = {},
  ) {
    this.secretFile = opts.secretFile
  }

  /** From now on, replicas start with this --secret-file and client() signs with it (a rotation's next step). */
  useSecretFile(path: string): void {
    this.secretFile = path
  }

  dataDir(id: string): string {
    return join(this.dir, id)
  }

  /** Start one replica process (it keeps its data dir across restarts). */
  start(id: string, opts: NodeOptions = {}): ChildProcess {
    const peers = opts.peers ?? this.ids
    const args = [
      RUN_JS,
      'node',
      'start',
      '--id',
      id,
      '--peers',
      peers.join(','),
      '--mode',
      this.mode,
      '--data-dir',
      this.dataDir(id),
      '--redis',
      this.redisUrl,
      '--cluster',
      this.name,
    ]
    if (opts.allowFaults ?? true) args.push('--allow-faults')
    const secretFile = opts.secretFile ?? this.secretFile
    if (secretFile !== undefined) args.push('--secret-file', secretFile)
    const env = this.opts.env ? {...process.env, ...this.opts.env} : undefined
    const proc = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], env})
    const log: string[] = this.logs.get(id) ?? []
    this.logs.set(id, log)
    // A chunk may end mid-line: keep the tail until its newline arrives, per stream.
    const keeper = () => {
      let partial = ''
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n')
        partial = lines.pop() ?? ''
        for (const line of lines.filter(Boolean)) {
          log.push(line)
          this.opts.onLine?.(id, line)
        }
        if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT)
      }
    }
    proc.stdout.on('data', keeper())
    proc.stderr.on('data', keeper())
    proc.once('exit', (code, signal) => this.opts.onExit?.(id, code, signal))
    this.procs.set(id, proc)
    return proc
  }

  startAll(opts: NodeOptions = {}): void {
    for (const id of this.ids) this.start(id, opts)
  }

  /** True while the replica's process exists (stopped by SIGSTOP counts as running). */
  running(id: string): boolean {
    return this.liveProcess(id) !== undefined
  }

  /** The replica's process while it runs; undefined once it exited (or was never started). */
  private liveProcess(id: string): ChildProcess | undefined {
    const p = this.procs.get(id)
    return p !== undefined && p.exitCode === null && p.signalCode === null ? p : undefined
  }

  async client(): Promise<KvClient> {
    const redisUrl = this.opts.clientRedisUrl ?? this.redisUrl
    const secrets = this.secretFile === undefined ? undefined : readSecretFile(this.secretFile)
    const c = await KvClient.connect({redisUrl, cluster: this.name, timeoutMs: 5000, secrets})
    this.clients.push(c)
    return c
  }

  /** Wait until `ids` all answer status requests. */
  async waitAlive(ids: string[] = this.ids, timeoutMs = 20_000): Promise<void> {
    const c = await this.client()
    await waitFor(
      `${ids.join(',')} alive`,
      async () => {
        const st = await c.status({timeoutMs: 1000})
        const alive = new Set(st.nodes.filter((n) => n.alive).map((n) => n.id))
        return ids.every((id) => alive.has(id))
      },
      {timeoutMs},
    )
    // ...and see each other, so writes replicate instead of becoming hints, and have caught up (a
    // replica that started empty refuses writes until its peers answered it).
    await waitFor(
      'replicas see each other and caught up',
      async () => {
        const st = await c.status({timeoutMs: 1000})
        return ids.every((id) => {
          const n = st.nodes.find((x) => x.id === id)
          return n?.alive && n.recovering !== true && ids.every((p) => n.peersAlive?.includes(p) ?? true)
        })
      },
      {timeoutMs},
    )
  }

  /** kill -9: no snapshot, no goodbye. */
  async kill(id: string): Promise<void> {
    const p = this.procs.get(id)
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await exited
  }

  /** SIGSTOP: the process freezes with its connections open (Redis keeps buffering its messages). */
  pause(id: string): void {
    this.liveProcess(id)?.kill('SIGSTOP')
  }

  /** SIGCONT: a paused replica carries on with whatever piled up meanwhile. */
  resume(id: string): void {
    this.liveProcess(id)?.kill('SIGCONT')
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

  /** Pids of the replica processes still running (for a last-resort kill when the owner exits). */
  pids(): number[] {
    return [...this.procs.keys()].map((id) => this.liveProcess(id)?.pid ?? -1).filter((pid) => pid > 0)
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close().catch(() => {})
    await Promise.all([...this.procs.keys()].map((id) => this.kill(id)))
    rmSync(this.dir, {recursive: true, force: true})
  }
}
