/**
 * Executes a planned fault schedule (fault-plan.ts) against real processes: kill -9 and restart a
 * replica (for wipe and corrupt, its data directory is deleted or one byte of it flipped while it is
 * down: disk-damage.ts), SIGSTOP and SIGCONT it, `kv fault partition` and heal through the client
 * library, and stop and restart the redis-server on the same port. Every start and end is logged with
 * its time and kept as a FaultRecord for the saved history (what a disk fault did is one of its
 * notes). At the end, healAll() undoes whatever is left.
 */
import type {DiskLoss} from '../check/history.js'
import type {KvClient} from '../client/kv-client.js'
import {KvError} from '../core/errors.js'
import {invariant} from '../core/invariant.js'
import type {LocalCluster} from '../cluster/local-cluster.js'
import type {PrivateRedis} from '../cluster/private-redis.js'
import {delay} from '../cluster/process-helpers.js'
import {waitFor} from '../cluster/wait-for.js'
import {applyCorrupt, applyWipe} from './disk-damage.js'
import type {FaultKind, PlannedFault} from './fault-plan.js'
import type {ReconnectingClient} from './reconnecting-client.js'

/** What happened to one planned fault (times in ms since the run started, null if it never did). */
export interface FaultRecord {
  readonly seq: number
  readonly kind: FaultKind
  /** The replicas it hit (for a leader-preferring fault, the leader it found instead of the plan's). */
  nodes: readonly string[]
  readonly groups?: readonly (readonly string[])[]
  readonly majority: boolean
  readonly plannedAtMs: number
  readonly holdMs: number
  startedAt: number | null
  endedAt: number | null
  /** Set when starting it failed (it then did not happen, or only partly). */
  startError?: string
  notes: string[]
}

/**
 * The wipe and corrupt faults that happened, as the eventual checker's disk losses: one per replica
 * hit, at the fault's start (taken just before the kill -9, so no earlier than the loss). A fault
 * that did not start, or failed to start fully, is left out: its damage may not have been done, and
 * leaving it out can only excuse fewer lost writes.
 */
export function diskLossesOf(records: readonly FaultRecord[]): DiskLoss[] {
  const losses: DiskLoss[] = []
  for (const r of records) {
    if ((r.kind !== 'wipe' && r.kind !== 'corrupt') || r.startedAt === null || r.startError !== undefined) continue
    for (const replica of r.nodes) losses.push({replica, at: r.startedAt, kind: r.kind})
  }
  return losses.sort((a, b) => a.at - b.at)
}

/** Waits for fault-client calls (partition, heal, status). */
const FAULT_CALL_TIMEOUT_MS = 2000
/** Retry pace, and the least time a late partition must still have, when replicas are unregistered. */
const REGISTER_RETRY_MS = 250
const REGISTER_WAIT_MS_MIN = 1000
/** How long a heal may take to reach every live replica before the run gives up on it. */
const HEAL_DEADLINE_MS = 20_000

export interface InjectorDeps {
  readonly cluster: LocalCluster
  readonly redis: PrivateRedis
  /** The fault injector's own client (partition, heal, status checks). */
  readonly conn: ReconnectingClient
  readonly ids: readonly string[]
  readonly now: () => number
  readonly log: (line: string) => void
  /** Quorum mode: the replica that most recently said it leads (for leader-preferring faults). */
  readonly leader?: () => string | undefined
}

/** Created once per run; run() executes the plan, healAll() restores a healthy cluster. */
export class FaultInjector {
  readonly records: FaultRecord[] = []
  private readonly killed = new Set<string>()
  private readonly paused = new Set<string>()
  /** Replicas outside the majority side of the partition in force. */
  private readonly cutOff = new Set<string>()
  private redisDown = false
  /** Set by abandon(): the run was interrupted, so nothing is started or undone any more. */
  private abandoned = false

  constructor(private readonly deps: InjectorDeps) {}

  /**
   * Called when the run is interrupted: pending and active faults are left as they are (the caller
   * kills every process next) and heal loops give up, so Ctrl-C does not wait for them.
   */
  abandon(): void {
    this.abandoned = true
  }

  /**
   * `abandoned` read through a call: after an `await`, abandon() may have run meanwhile, but the
   * compiler keeps a field's narrowing across awaits and would call a second check of it dead.
   */
  private isAbandoned(): boolean {
    return this.abandoned
  }

  /** Replicas neither killed nor paused right now (what client workers prefer to talk to). */
  liveNodes(): string[] {
    return this.deps.ids.filter((id) => !this.killed.has(id) && !this.paused.has(id))
  }

  /**
   * Runs every fault of `plan` at its time until `stop` aborts; then faults not yet started are
   * skipped and active ones are undone at once. Resolves when every fault has ended.
   */
  async run(plan: readonly PlannedFault[], stop: AbortSignal): Promise<void> {
    // One listener for all faults (one each would trip Node's listener-leak warning).
    const stopped = new Promise<void>((resolve) =>
      stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), {once: true}),
    )
    await Promise.all(plan.map((fault) => this.runOne(fault, {signal: stop, stopped})))
  }

  private async runOne(planned: PlannedFault, stop: Stop): Promise<void> {
    const record: FaultRecord = {
      seq: planned.seq,
      kind: planned.kind,
      nodes: planned.nodes,
      ...(planned.groups ? {groups: planned.groups} : {}),
      majority: planned.majority,
      plannedAtMs: planned.atMs,
      holdMs: planned.holdMs,
      startedAt: null,
      endedAt: null,
      notes: [],
    }
    this.records.push(record)
    await sleepUntil(this.deps.now, planned.atMs, stop)
    if (stop.signal.aborted || this.abandoned) return
    const startedAt = this.deps.now()
    record.startedAt = startedAt
    const leader = this.leaderInstead(planned)
    const fault = leader ? {...planned, nodes: [leader]} : planned
    record.nodes = fault.nodes
    const which =
      leader === undefined
        ? ''
        : leader === planned.nodes[0]
          ? ' (the leader)'
          : ` (the leader, instead of ${planned.nodes.join(',')})`
    this.deps.log(
      `${at(startedAt)} fault #${fault.seq} ${describe(fault)}${which} for ${(fault.holdMs / 1000).toFixed(1)} s`,
    )
    try {
      await this.begin(fault, record)
    } catch (error) {
      record.startError = (error as Error).message
      this.deps.log(`${at(this.deps.now())} fault #${fault.seq} could not start fully: ${record.startError}`)
    }
    await sleepUntil(this.deps.now, startedAt + fault.holdMs, stop)
    if (this.isAbandoned()) return
    try {
      await this.end(fault, record)
    } catch (error) {
      record.notes.push(`undo failed: ${(error as Error).message} (healAll retries)`)
    }
    record.endedAt = this.deps.now()
    this.deps.log(
      `${at(record.endedAt)} fault #${fault.seq} ${fault.kind} ended${record.notes.length ? ` (${record.notes.join('; ')})` : ''}`,
    )
  }

  /** The healthy current leader, for a fault that prefers it; undefined to keep the plan's target. */
  private leaderInstead(fault: PlannedFault): string | undefined {
    if (!fault.preferLeader) return undefined
    const leader = this.deps.leader?.()
    if (leader === undefined || this.killed.has(leader) || this.paused.has(leader) || this.cutOff.has(leader))
      return undefined
    return leader
  }

  private async begin(fault: PlannedFault, record: FaultRecord): Promise<void> {
    const {cluster, redis} = this.deps
    switch (fault.kind) {
      case 'kill':
        for (const id of fault.nodes) this.killed.add(id)
        await Promise.all(fault.nodes.map((id) => cluster.kill(id)))
        return
      case 'wipe':
      case 'corrupt':
        for (const id of fault.nodes) this.killed.add(id)
        await Promise.all(fault.nodes.map((id) => cluster.kill(id)))
        for (const id of fault.nodes) {
          const dir = cluster.dataDir(id)
          let done: string
          if (fault.kind === 'wipe') done = await applyWipe(dir)
          else {
            invariant(fault.corrupt !== undefined, `corrupt fault #${fault.seq} was planned without a byte to flip`)
            done = await applyCorrupt(dir, fault.corrupt)
          }
          record.notes.push(`${id}: ${done}`)
          this.deps.log(`${at(this.deps.now())} fault #${fault.seq} ${id}: ${done}`)
        }
        return
      case 'pause':
        for (const id of fault.nodes) {
          this.paused.add(id)
          cluster.pause(id)
        }
        return
      case 'partition': {
        for (const id of fault.nodes) this.cutOff.add(id)
        const groups = (fault.groups ?? []).map((g) => [...g])
        const giveUpAt = (record.startedAt ?? 0) + fault.holdMs - REGISTER_WAIT_MS_MIN
        for (;;) {
          try {
            await this.withClient((c) => c.partition(groups, {timeoutMs: FAULT_CALL_TIMEOUT_MS}))
            break
          } catch (error) {
            // A paused replica cannot confirm; it applies the partition when it continues.
            if (error instanceof KvError && error.code === 'TIMEOUT') {
              record.notes.push('not confirmed by every replica (paused?)')
              break
            }
            // A broker restart empties the registry; a replica that was dead then registers again
            // only when it restarts. Leaving it out would let it rejoin unpartitioned, so wait.
            if (
              !(error instanceof KvError && error.code === 'BAD_REQUEST' && error.message.startsWith('no replica')) ||
              this.deps.now() >= giveUpAt
            )
              throw error
            await delay(REGISTER_RETRY_MS)
          }
        }
        const waited = this.deps.now() - (record.startedAt ?? 0)
        if (waited > REGISTER_RETRY_MS)
          record.notes.push(`applied ${(waited / 1000).toFixed(1)} s late: waited for every replica to be registered`)
        return
      }
      case 'redis-restart':
        this.redisDown = true
        await redis.stopProcess()
        return
    }
  }

  private async end(fault: PlannedFault, record: FaultRecord): Promise<void> {
    const {cluster, redis} = this.deps
    switch (fault.kind) {
      case 'kill':
      case 'wipe':
      case 'corrupt':
        for (const id of fault.nodes) {
          if (!cluster.running(id)) cluster.start(id)
          this.killed.delete(id)
        }
        return
      case 'pause':
        for (const id of fault.nodes) {
          cluster.resume(id)
          this.paused.delete(id)
        }
        return
      case 'partition':
        this.cutOff.clear()
        record.notes.push(...(await this.healVerified(this.liveNodes(), false)))
        return
      case 'redis-restart':
        await redis.startProcess()
        this.redisDown = false
        return
    }
  }

  /**
   * Called once at the end of the run: continues paused replicas, restarts killed ones, brings the
   * broker back, and heals the partition until every replica says it is not partitioned.
   */
  async healAll(): Promise<void> {
    const {cluster, redis, ids} = this.deps
    for (const id of ids) cluster.resume(id)
    this.paused.clear()
    for (const id of ids) if (!cluster.running(id)) cluster.start(id)
    this.killed.clear()
    this.cutOff.clear()
    if (this.redisDown || redis.pid === undefined) {
      await redis.startProcess()
      this.redisDown = false
    }
    // Always heal at the end: a replica restarted during a broker outage may hold a stale partition.
    // Replicas still starting do not answer yet: verifyHealed() checks them once they serve.
    await this.healVerified(ids, false)
  }

  /** Called after healAll() once every replica serves again: each one must say it is not partitioned. */
  async verifyHealed(): Promise<void> {
    await this.healVerified(this.deps.ids, true)
  }

  /**
   * `kv fault heal`, repeated until each of `verify` that answers reports no partition (strict: until
   * every one of them answers so; a replica that was down loads the cleared partition when it starts).
   * Always sent, even if no partition seems to be in force: a heal is cheap, and skipping one on a
   * flag raced with the next partition (a slow heal finishing after it started cleared the flag).
   */
  private async healVerified(verify: readonly string[], strict: boolean): Promise<string[]> {
    const notes: string[] = []
    let unconfirmed: string[] = []
    await waitFor(
      `a heal reaching ${verify.join(',')}`,
      async () => {
        if (this.abandoned) return true // interrupted: the processes are about to be killed anyway
        await this.withClient((c) => c.heal({timeoutMs: FAULT_CALL_TIMEOUT_MS})).catch((error: unknown) => {
          if (!(error instanceof KvError && error.code === 'TIMEOUT')) throw error
        })
        const states = await Promise.all(
          verify.map(async (id) => {
            const status = await this.withClient((c) => c.nodeStatus(id, {timeoutMs: FAULT_CALL_TIMEOUT_MS})).catch(
              () => undefined,
            )
            return {id, partitioned: status?.partitioned}
          }),
        )
        unconfirmed = states.filter((s) => s.partitioned !== false).map((s) => s.id)
        return strict ? unconfirmed.length === 0 : !states.some((s) => s.partitioned === true)
      },
      {timeoutMs: HEAL_DEADLINE_MS, intervalMs: 300},
    )
    if (unconfirmed.length > 0) notes.push(`heal not confirmed by ${unconfirmed.join(',')} (not answering)`)
    return notes
  }

  /** Runs one call on the fault client; REDIS_UNAVAILABLE drops the connection for the next call. */
  private async withClient<T>(call: (c: KvClient) => Promise<T>): Promise<T> {
    const connected = await this.deps.conn.get()
    if (!connected) throw new KvError('REDIS_UNAVAILABLE', 'the fault client cannot reach the broker')
    try {
      return await call(connected.client)
    } catch (error) {
      if (error instanceof KvError && error.code === 'REDIS_UNAVAILABLE') await this.deps.conn.reset()
      throw error
    }
  }
}

/**
 * "kill n2", "pause n1,n4", "partition n1,n2 | n3,n4,n5", "redis-restart", "wipe n3", "corrupt n1
 * (log.bin)"; majority ones say so.
 */
export function describe(fault: PlannedFault): string {
  const what =
    fault.kind === 'partition'
      ? `partition ${(fault.groups ?? []).map((g) => g.join(',')).join(' | ')}`
      : fault.nodes.length
        ? `${fault.kind} ${fault.nodes.join(',')}`
        : fault.kind
  const file = fault.corrupt ? ` (${fault.corrupt.file === 'log' ? 'log.bin' : 'snapshot.json'})` : ''
  return fault.majority ? `${what}${file} (no majority left)` : `${what}${file}`
}

/** "[12.345 s]" */
export function at(ms: number): string {
  return `[${(ms / 1000).toFixed(3)} s]`
}

/** The end of the fault window: the signal, and a promise that settles when it aborts. */
interface Stop {
  readonly signal: AbortSignal
  readonly stopped: Promise<void>
}

/** Resolves at `targetMs` on the run's clock, or at once when the window ends. */
async function sleepUntil(now: () => number, targetMs: number, stop: Stop): Promise<void> {
  const wait = targetMs - now()
  if (wait <= 0 || stop.signal.aborted) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([new Promise<void>((resolve) => (timer = setTimeout(resolve, wait))), stop.stopped])
  clearTimeout(timer)
}
