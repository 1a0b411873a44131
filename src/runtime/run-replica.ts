/**
 * `kv node start`: recover the replica from its data dir, connect, and serve until SIGTERM/SIGINT.
 * Called only by src/commands/node/start.ts; tests start replicas through bin/run.js like users do.
 */
import {randomBytes, randomInt} from 'node:crypto'
import {KeyRing} from '../auth/keys.js'
import {ReplicaAuth} from '../auth/replica-auth.js'
import {Rng} from '../core/rng.js'
import {asEventualPeerMessage} from '../eventual/validate-messages.js'
import {DEFAULT_EVENTUAL_TIMING, EventualReplica, type EventualInput} from '../eventual/replica.js'
import type {EventualRecord, EventualSnapshot} from '../eventual/records.js'
import {clusterNames} from '../redis/channel-names.js'
import {HintQueues} from '../redis/hint-queues.js'
import {RedisTransport, type Log} from '../redis/redis-transport.js'
import {redactUrl} from '../redis/connect.js'
import {DurableStore} from '../storage/durable-store.js'
import {RedisReplicaHost} from '../redis/redis-replica-host.js'
import {QuorumReplica} from '../quorum/replica.js'
import {DEFAULT_QUORUM_TIMING} from '../quorum/config.js'
import {asQuorumPeerMessage} from '../quorum/validate-messages.js'
import type {QuorumRecord, QuorumSnapshot} from '../quorum/records.js'

export interface ReplicaOptions {
  id: string
  peers: string[]
  mode: 'eventual' | 'quorum'
  dataDir: string
  redisUrl: string
  cluster: string
  allowFaults: boolean
  /** The cluster secrets from --secret-file (signing one first), or none: plain messages. */
  secrets?: Buffer[]
}

/** The authenticator of a replica started with a secret. */
function authFor(opts: ReplicaOptions, tickMs: number): ReplicaAuth | undefined {
  if (!opts.secrets || opts.secrets.length === 0) return undefined
  return new ReplicaAuth({
    id: opts.id,
    keys: new KeyRing(opts.secrets, opts.cluster),
    randomToken: (bytes) => randomBytes(bytes).toString('base64url'),
    tickMs,
  })
}

function makeLog(id: string): Log {
  return (level, text) => {
    const line = `${new Date().toISOString()} ${id} ${level === 'warn' ? 'WARN ' : ''}${text}\n`
    process.stderr.write(line)
  }
}

/** Something the signal handlers can stop gracefully. */
interface Stoppable {
  start(): Promise<void>
  stop(): Promise<void>
}

/** Eventual mode: the vector-clock replica, with BullMQ hinted hand-off. */
async function eventualDriver(opts: ReplicaOptions, log: Log): Promise<{driver: Stoppable; members: string[]}> {
  const names = clusterNames(opts.cluster)
  const {store, recovered} = await DurableStore.open<EventualSnapshot, EventualRecord>(opts.dataDir)
  for (const w of recovered.warnings) log('warn', w)
  const core = new EventualReplica({
    id: opts.id,
    peers: opts.peers,
    rng: new Rng(randomInt(2 ** 31)),
    ...DEFAULT_EVENTUAL_TIMING,
  })
  core.restore(recovered.snapshot, recovered.records, recovered.facts)
  log(
    'info',
    `recovered ${core.keys().length} key(s) from ${opts.dataDir} (${recovered.records.length} log record(s) after the snapshot)`,
  )
  const transport = new RedisTransport(opts.redisUrl, names, opts.id, log)
  // The hint worker and the host need each other: the closure reads `driver` only when a hint is
  // delivered, which starts with driver.start(), after the assignment below.
  const hints = new HintQueues(opts.redisUrl, names, opts.id, (peer, msg) => driver.deliverHint(peer, msg), log)
  const driver: RedisReplicaHost<EventualRecord, EventualSnapshot, EventualInput> = new RedisReplicaHost({
    core,
    mode: 'eventual',
    store,
    transport,
    names,
    tickMs: DEFAULT_EVENTUAL_TIMING.tickMs,
    allowFaults: opts.allowFaults,
    asPeerMessage: asEventualPeerMessage,
    topics: [names.replicationTopic],
    hints,
    log,
    auth: authFor(opts, DEFAULT_EVENTUAL_TIMING.tickMs),
  })
  return {driver, members: core.memberIds()}
}

/** Quorum mode: Bully-elected leader with terms, majority commit (no hints: the log catches up). */
async function quorumDriver(opts: ReplicaOptions, log: Log): Promise<{driver: Stoppable; members: string[]}> {
  const names = clusterNames(opts.cluster)
  const {store, recovered} = await DurableStore.open<QuorumSnapshot, QuorumRecord>(opts.dataDir)
  for (const w of recovered.warnings) log('warn', w)
  const core = new QuorumReplica({
    id: opts.id,
    peers: opts.peers,
    rng: new Rng(randomInt(2 ** 31)),
    ...DEFAULT_QUORUM_TIMING,
  })
  core.restore(recovered.snapshot, recovered.records, recovered.facts)
  log('info', `recovered from ${opts.dataDir} (${recovered.records.length} log record(s) after the snapshot)`)
  const transport = new RedisTransport(opts.redisUrl, names, opts.id, log)
  const driver = new RedisReplicaHost({
    core,
    mode: 'quorum',
    store,
    transport,
    names,
    tickMs: DEFAULT_QUORUM_TIMING.tickMs,
    allowFaults: opts.allowFaults,
    asPeerMessage: asQuorumPeerMessage,
    topics: [names.electionTopic, names.commitTopic],
    log,
    auth: authFor(opts, DEFAULT_QUORUM_TIMING.tickMs),
  })
  return {driver, members: core.memberIds()}
}

/** Runs until a signal; resolves after the graceful stop. */
export async function runReplica(opts: ReplicaOptions): Promise<void> {
  const log = makeLog(opts.id)
  const {driver, members} = opts.mode === 'quorum' ? await quorumDriver(opts, log) : await eventualDriver(opts, log)
  let stopping: Promise<void> | null = null
  const stop = (signal: string) => {
    if (stopping) return
    log('info', `${signal}: finishing in-flight requests, writing a snapshot`)
    stopping = driver.stop().then(
      () => {
        log('info', 'stopped cleanly')
        process.exit(0)
      },
      (error: unknown) => {
        log('warn', `stop failed: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  await driver.start()
  log(
    'info',
    `serving as ${opts.mode} replica ${opts.id} of cluster ${opts.cluster} via ${redactUrl(opts.redisUrl)} (members: ${members.sort().join(',')})${opts.secrets?.length ? `; signed messages only (${opts.secrets.length} secret(s) accepted)` : ''}`,
  )
  await new Promise<void>(() => {}) // runs until a signal ends the process
}
