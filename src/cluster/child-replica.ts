/**
 * One replica process run by `kv cluster up`: `node bin/run.js node start …` with its output
 * prefixed by its id. The supervisor owns one of these per replica.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {exitOf, settlesWithin} from './process-helpers.js'
import {prefixLines} from './prefix-lines.js'

/** How the supervisor starts one replica: the `kv node start` flags it passes. */
export interface ReplicaSpec {
  readonly id: string
  readonly peers: readonly string[]
  readonly mode: 'eventual' | 'quorum'
  readonly dataDir: string
  readonly allowFaults: boolean
  readonly redisUrl: string
  readonly cluster: string
  readonly secretFile?: string
}

/** Where the replica's output lines go (already prefixed with `[id] `). Plain callbacks, called detached. */
export interface ReplicaOutput {
  readonly stdout: (line: string) => void
  readonly stderr: (line: string) => void
}

/** The argument list of `kv node start` for one replica (exported for the unit tests). */
export function nodeStartArgs(spec: ReplicaSpec): string[] {
  const args = [
    'node',
    'start',
    '--id',
    spec.id,
    '--peers',
    spec.peers.join(','),
    '--mode',
    spec.mode,
    '--data-dir',
    spec.dataDir,
  ]
  args.push('--redis', spec.redisUrl, '--cluster', spec.cluster)
  if (spec.allowFaults) args.push('--allow-faults')
  if (spec.secretFile !== undefined) args.push('--secret-file', spec.secretFile)
  return args
}

/** Created and started by the supervisor; `exited` settles when the process is gone. */
export class ChildReplica {
  readonly exited: Promise<string>
  private readonly child: ChildProcess
  private stopping = false

  constructor(
    readonly spec: ReplicaSpec,
    binPath: string,
    output: ReplicaOutput,
  ) {
    // Own process group: a terminal Ctrl-C reaches only the supervisor, which stops replicas in order.
    this.child = spawn(process.execPath, [binPath, ...nodeStartArgs(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    prefixLines(this.child.stdout, `[${spec.id}] `, output.stdout)
    prefixLines(this.child.stderr, `[${spec.id}] `, output.stderr)
    this.exited = exitOf(this.child)
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined
  }

  /** True once stop() or kill() was called: its exit is then expected, not a crash. */
  get stopRequested(): boolean {
    return this.stopping
  }

  /** SIGTERM (the replica finishes in-flight requests and snapshots), SIGKILL after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true
    if (!this.running) return
    this.child.kill('SIGTERM')
    if (await settlesWithin(this.exited, graceMs)) return
    this.kill()
    await this.exited
  }

  /** SIGKILL now: a second Ctrl-C, or a replica that ignored SIGTERM for too long. */
  kill(): void {
    this.stopping = true
    if (this.running) this.child.kill('SIGKILL')
  }
}
