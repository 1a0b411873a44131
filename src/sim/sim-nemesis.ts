/**
 * The simulator's fault schedule, drawn from the run's seed: network weather (drop, duplicate,
 * delay, slow fsync), crashes with restarts, pauses, two-way partitions into random groups, one-way
 * partitions, broker outages, compactions and damaged disks (a flipped byte mid-log or in the
 * snapshot, a wiped data directory, an older snapshot back; each on a killed replica, restarted
 * later), overlapping in time. Each seed also picks how violent
 * it is, so some runs are nearly calm (liveness gets exercised) and others are storms.
 */
import {outOfRange} from '../core/invariant.js'
import type {Rng} from '../core/rng.js'
import {CALM, type NetworkFaults, type SimCluster, type SimCore} from './sim-cluster.js'

type FaultKind =
  'crash' | 'pause' | 'partition' | 'one-way' | 'broker' | 'compact' | 'weather' | 'isolate-leader' | 'disk'

type DiskDamage = 'corrupt-log' | 'corrupt-snapshot' | 'wipe' | 'old-snapshot'
const DISK_DAMAGE: readonly DiskDamage[] = [
  'corrupt-log',
  'corrupt-log',
  'corrupt-snapshot',
  'wipe',
  'wipe',
  'old-snapshot',
]

interface Undo {
  readonly at: number
  readonly run: () => void
}

export class SimNemesis<C extends SimCore> {
  /** Faults started, by kind. */
  readonly counts: Record<FaultKind, number> = {
    crash: 0,
    pause: 0,
    partition: 0,
    'one-way': 0,
    broker: 0,
    compact: 0,
    weather: 0,
    'isolate-leader': 0,
    disk: 0,
  }
  /** Replicas whose disk was damaged and that have not caught up since (down, or up and recovering). */
  private damaged = new Set<string>()
  private undos: Undo[] = []
  private partitioned = false
  /** Chance per tick that a new fault starts. */
  private readonly rate: number
  /** Most replicas down or paused at once (a majority can go, sometimes). */
  private readonly maxFaulty: number

  private readonly kinds: FaultKind[] = [
    'crash',
    'crash',
    'pause',
    'partition',
    'one-way',
    'broker',
    'compact',
    'compact',
    'weather',
    'disk',
  ]

  /**
   * `leader` (quorum mode) names the current leader, if any; it enables the Jepsen classic that
   * random faults rarely line up: the leader paused and cut into a minority while the majority
   * elects and commits, then resumed still believing it leads.
   */
  constructor(
    private readonly cluster: SimCluster<C>,
    private readonly rng: Rng,
    private readonly leader?: () => string | undefined,
  ) {
    if (leader) this.kinds.push('isolate-leader')
    this.rate = rng.pick([0.01, 0.03, 0.06, 0.1])
    this.maxFaulty = rng.next() < 0.3 ? 3 : 2
    this.weather()
  }

  /** Called every tick of the faulty phase: due undos run, and a new fault may start. */
  tick(): void {
    const now = this.cluster.now
    const due = this.undos.filter((u) => u.at <= now)
    this.undos = this.undos.filter((u) => u.at > now)
    for (const u of due) u.run()
    if (this.rng.next() < this.rate) this.startOne()
  }

  /** End every fault: restart, resume, heal, calm network. The broker outage runs out by itself. */
  healAll(): void {
    for (const u of this.undos) u.run()
    this.undos = []
    for (const id of this.cluster.ids) this.cluster.restart(id)
    this.cluster.resumeAll()
    this.cluster.heal()
    this.partitioned = false
    this.cluster.faults = {...CALM}
    this.cluster.skewTimers(0)
  }

  private later(ticks: number, run: () => void): void {
    this.undos.push({at: this.cluster.now + ticks, run})
  }

  private faulty(): number {
    return this.cluster.ids.filter((id) => !this.cluster.isRunning(id)).length
  }

  /**
   * Replicas without their data. Losing a disk is a failure that outlasts the restart, until the
   * replica caught up; at most a minority may be in that state at once, or acknowledged data is
   * gone by design (the same bound as any replicated store: f of 2f+1).
   */
  private unwhole(): number {
    const c = this.cluster
    for (const id of this.damaged) if (c.isUp(id) && !c.core(id)?.status().recovering) this.damaged.delete(id)
    return this.damaged.size
  }

  private startOne(): void {
    const kind = this.rng.pick(this.kinds)
    const c = this.cluster
    const running = c.ids.filter((id) => c.isRunning(id))
    switch (kind) {
      case 'disk': {
        const minority = Math.floor((c.ids.length - 1) / 2)
        const whole = running.filter((r) => !this.damaged.has(r))
        if (this.faulty() >= this.maxFaulty || whole.length === 0 || this.unwhole() >= minority) return
        const id = this.rng.pick(whole)
        c.crash(id)
        if (!c.damageDisk(id, this.rng.pick(DISK_DAMAGE))) c.damageDisk(id, 'wipe')
        this.damaged.add(id)
        this.later(5 + this.rng.int(80), () => c.restart(id))
        break
      }
      case 'crash':
      case 'pause': {
        if (this.faulty() >= this.maxFaulty || running.length === 0) return
        const id = this.rng.pick(running)
        const ticks = 5 + this.rng.int(80)
        if (kind === 'crash') {
          c.crash(id)
          this.later(ticks, () => c.restart(id))
        } else c.pause(id, ticks)
        break
      }
      case 'partition': {
        if (this.partitioned) return
        const groups = this.randomGroups()
        c.partition(groups)
        this.partitioned = true
        this.later(10 + this.rng.int(100), () => this.heal())
        break
      }
      case 'one-way': {
        if (this.partitioned) return
        const ids = this.rng.shuffle([...c.ids])
        const cut = 1 + this.rng.int(ids.length - 1)
        c.blockOneWay(ids.slice(0, cut), ids.slice(cut))
        this.partitioned = true
        this.later(10 + this.rng.int(100), () => this.heal())
        break
      }
      case 'isolate-leader': {
        const leader = this.leader?.()
        if (this.partitioned || !leader || !c.isRunning(leader) || this.faulty() >= this.maxFaulty) return
        const others = this.rng.shuffle(c.ids.filter((id) => id !== leader))
        const minority = [leader, ...others.slice(0, this.rng.int(2))]
        c.partition([minority, c.ids.filter((id) => !minority.includes(id))])
        this.partitioned = true
        const pause = 30 + this.rng.int(60)
        c.pause(leader, pause)
        this.later(pause + 5 + this.rng.int(40), () => this.heal())
        break
      }
      case 'broker':
        if (c.brokerDown) return
        c.brokerOutage(2 + this.rng.int(30))
        break
      case 'compact':
        c.compact(this.rng.pick(c.ids))
        break
      case 'weather':
        this.weather()
        break
    }
    this.counts[kind]++
  }

  private heal(): void {
    this.cluster.heal()
    this.partitioned = false
  }

  /** Two or three random non-empty groups. */
  private randomGroups(): string[][] {
    const ids = this.rng.shuffle([...this.cluster.ids])
    const k = this.rng.next() < 0.7 ? 2 : 3
    const groups: string[][] = Array.from({length: k}, () => [])
    ids.forEach((id, i) => {
      const g = i < k ? i : this.rng.int(k) // the first k ids make every group non-empty
      const group = groups[g] ?? outOfRange(g)
      group.push(id)
    })
    return groups
  }

  private weather(): void {
    const f: NetworkFaults = {
      drop: this.rng.pick([0, 0, 0.01, 0.05, 0.2]),
      duplicate: this.rng.pick([0, 0.02, 0.1]),
      delayTicksMax: this.rng.pick([0, 1, 3, 8]),
      slowDisk: this.rng.pick([0, 0.2, 0.5]),
    }
    this.cluster.faults = f
    this.cluster.trace?.(
      `t${this.cluster.now} WEATHER drop=${f.drop} dup=${f.duplicate} delay<=${f.delayTicksMax} slowDisk=${f.slowDisk}`,
    )
    this.cluster.skewTimers(this.rng.pick([0, 0, 0.1, 0.3]))
  }
}
