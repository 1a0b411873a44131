/**
 * A Redis master, its replica and a set of `redis-sentinel` processes on free ports on 127.0.0.1,
 * watching that master under one name: a broker that survives the death of its master. Used by the
 * Sentinel scenario test (and, like PrivateRedis, kept in src/ so a nemesis fault can use it): it
 * starts the set, waits until every Sentinel knows the others and the replica (before that a
 * failover cannot happen), kills the master and waits for the Sentinels to promote the replica.
 */
import {Redis} from 'ioredis'
import {PrivateRedis} from './private-redis.js'
import {waitFor} from './wait-for.js'

/** Sentinel timing; the defaults are tuned for tests, far below Sentinel's production defaults. */
export interface SentinelSetOptions {
  /** The master's name in the URL and in the Sentinels' config (default kvm). */
  readonly masterName?: string
  /** How many Sentinels (default 3); the quorum that declares the master down is a majority. */
  readonly sentinels?: number
  /** `down-after-milliseconds`: silence before a Sentinel thinks the master is down (default 1000; Redis's own: 30000). */
  readonly downAfterMs?: number
  /** `failover-timeout` (default 3000; Redis's own: 180000). */
  readonly failoverTimeoutMs?: number
}

/** Created by SentinelSet.start(); stop() ends every process it started and removes their directories. */
export class SentinelSet {
  private constructor(
    readonly masterName: string,
    /** The data nodes, the first one started as master and the second as its replica. */
    readonly nodes: readonly PrivateRedis[],
    readonly sentinels: readonly PrivateRedis[],
  ) {}

  /** Starts the master, its replica and the Sentinels, and resolves once a failover is possible. */
  static async start(opts: SentinelSetOptions = {}): Promise<SentinelSet> {
    const masterName = opts.masterName ?? 'kvm'
    const count = opts.sentinels ?? 3
    const started: PrivateRedis[] = []
    try {
      const master = await PrivateRedis.start()
      started.push(master)
      const replica = await PrivateRedis.start({args: ['--replicaof', '127.0.0.1', String(master.port)]})
      started.push(replica)
      const config = [
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} ${Math.floor(count / 2) + 1}`,
        `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${masterName} ${opts.failoverTimeoutMs ?? 3000}`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n')
      const sentinels = await Promise.all(
        Array.from({length: count}, () => PrivateRedis.start({sentinelConfig: config})),
      )
      started.push(...sentinels)
      const set = new SentinelSet(masterName, [master, replica], sentinels)
      await set.waitReady()
      return set
    } catch (error) {
      await Promise.allSettled(started.map((r) => r.stop()))
      throw error
    }
  }

  /** `redis+sentinel://127.0.0.1:S1,…/MASTER`, the URL replicas and clients are given. */
  get url(): string {
    return `redis+sentinel://${this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${this.masterName}`
  }

  /** Waits until every Sentinel sees the master, the other Sentinels and a replica with its link up. */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `the Sentinels of ${this.masterName} to know each other and the replica`,
      async () => {
        for (const s of this.sentinels) {
          const fields = pairs((await askSentinel(s.port, 'MASTER', this.masterName)) as string[])
          if (Number(fields['num-other-sentinels']) !== this.sentinels.length - 1) return false
          const replicas = ((await askSentinel(s.port, 'REPLICAS', this.masterName)) as string[][]).map(pairs)
          if (!replicas.some((r) => r['master-link-status'] === 'ok' && !/s_down|disconnected/.test(r.flags ?? '')))
            return false
        }
        return true
      },
      {timeoutMs, intervalMs: 100},
    )
  }

  /** The master's port as the first Sentinel that answers names it. */
  async masterPort(): Promise<number> {
    let lastError: unknown
    for (const s of this.sentinels) {
      try {
        const [, port] = (await askSentinel(s.port, 'GET-MASTER-ADDR-BY-NAME', this.masterName)) as [string, string]
        return Number(port)
      } catch (error) {
        lastError = error
      }
    }
    throw lastError
  }

  /**
   * SIGKILLs the data node the Sentinels name as master (or the one on `port`, asked beforehand, so
   * the kill is not delayed by the question); resolves once it exited, with it (its port stays reserved).
   */
  async killMaster(port?: number): Promise<PrivateRedis> {
    port ??= await this.masterPort()
    const master = this.nodes.find((n) => n.port === port)
    if (!master) throw new Error(`the Sentinels name 127.0.0.1:${port} as master, which this set did not start`)
    await master.stopProcess()
    return master
  }

  /** Waits until every Sentinel names a master other than `oldPort`; resolves with the new port. */
  async waitPromoted(oldPort: number, timeoutMs = 20_000): Promise<number> {
    return waitFor(
      `the Sentinels to promote a new master instead of 127.0.0.1:${oldPort}`,
      async () => {
        const ports = new Set<number>()
        for (const s of this.sentinels) {
          const [, port] = (await askSentinel(s.port, 'GET-MASTER-ADDR-BY-NAME', this.masterName)) as [string, string]
          ports.add(Number(port))
        }
        const [port] = [...ports]
        return ports.size === 1 && port !== oldPort ? port : false
      },
      {timeoutMs, intervalMs: 50},
    )
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.sentinels, ...this.nodes].map((r) => r.stop()))
  }
}

/** One `SENTINEL …` command to the Sentinel on `port`, over a connection of its own. */
async function askSentinel(port: number, ...args: string[]): Promise<unknown> {
  const c = new Redis({port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0})
  c.on('error', () => {})
  try {
    await c.connect()
    return await c.call('SENTINEL', ...args)
  } finally {
    c.disconnect()
  }
}

/** A flat [field, value, …] reply as an object. */
function pairs(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string
  return out
}
