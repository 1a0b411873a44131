/**
 * A simulated network for protocol cores: the same modules the replicas run, driven by virtual
 * ticks, with every random choice drawn from one seeded Rng (so a seed replays a run exactly).
 * Faults: message drop, duplication, delay (which also reorders), partitions, crash/restart from
 * what the node had persisted. Persist happens before sends, as the real driver guarantees.
 *
 * Used by the unit tests of the eventual core today, and by the simulator (issue 4) later.
 */
import type {Output} from '../core/machine.js'
import type {Rng} from '../core/rng.js'

export interface SimCore<M> {
  readonly id: string
  step(msg: M): Output<unknown>
  tick(): Output<unknown>
  flush(): Output<unknown>
}

export interface SimFaults {
  /** Probability that a message is lost. */
  dropRate: number
  /** Probability that a message is delivered twice. */
  duplicateRate: number
  /** Extra delivery delay, uniformly 0..delayTicksMax ticks (reorders messages). */
  delayTicksMax: number
}

interface InFlight<M> {
  at: number
  seq: number
  from: string
  to: string
  msg: M
}

/** A client reply captured by the network (channel → messages). */
export interface CapturedReply {
  readonly channel: string
  readonly msg: {id: string; ok: boolean; result?: unknown; error?: {code: string; message: string}}
}

export class SimNetwork<M> {
  now = 0
  private seq = 0
  private readonly nodes = new Map<string, SimCore<M>>()
  private readonly down = new Set<string>()
  private readonly disks = new Map<string, unknown[]>()
  private queue: InFlight<M>[] = []
  private groupOf = new Map<string, number>()
  private readonly hints: {from: string; peer: string; msg: M}[] = []
  readonly replies: CapturedReply[] = []
  delivered = 0
  dropped = 0

  constructor(
    private readonly rng: Rng,
    public faults: SimFaults = {dropRate: 0, duplicateRate: 0, delayTicksMax: 0},
  ) {}

  add(core: SimCore<M>): void {
    this.nodes.set(core.id, core)
    this.down.delete(core.id)
    if (!this.disks.has(core.id)) this.disks.set(core.id, [])
  }

  /** The records a node has persisted so far (what survives a crash). */
  disk(id: string): unknown[] {
    return this.disks.get(id) ?? []
  }

  crash(id: string): void {
    this.down.add(id)
  }

  isUp(id: string): boolean {
    return this.nodes.has(id) && !this.down.has(id)
  }

  partition(groups: string[][]): void {
    this.groupOf = new Map()
    groups.forEach((g, i) => g.forEach((id) => this.groupOf.set(id, i)))
  }

  heal(): void {
    this.groupOf = new Map()
  }

  private blocked(a: string, b: string): boolean {
    const ga = this.groupOf.get(a)
    const gb = this.groupOf.get(b)
    return ga !== undefined && gb !== undefined && ga !== gb
  }

  /** A client request delivered straight to a node (clients are never partitioned). */
  request(nodeId: string, msg: M): void {
    const node = this.nodes.get(nodeId)
    if (!node || this.down.has(nodeId)) return
    this.apply(nodeId, node.step(msg))
  }

  /** Advance `ticks` virtual ticks: deliver what is due, tick every live node, flush batches. */
  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) {
      this.now++
      this.deliverDue()
      for (const [id, node] of this.nodes) {
        if (this.down.has(id)) continue
        this.apply(id, node.tick())
        this.apply(id, node.flush())
      }
      this.deliverHints()
    }
  }

  private deliverDue(): void {
    const due = this.queue.filter((m) => m.at <= this.now).sort((a, b) => a.at - b.at || a.seq - b.seq)
    this.queue = this.queue.filter((m) => m.at > this.now)
    for (const m of due) {
      const node = this.nodes.get(m.to)
      if (!node || this.down.has(m.to) || this.blocked(m.from, m.to)) {
        this.dropped++
        continue
      }
      this.delivered++
      this.apply(m.to, node.step(m.msg))
      this.apply(m.to, node.flush())
    }
  }

  private deliverHints(): void {
    for (let i = this.hints.length - 1; i >= 0; i--) {
      const h = this.hints[i]
      if (!this.isUp(h.peer) || !this.isUp(h.from) || this.blocked(h.from, h.peer)) continue
      this.hints.splice(i, 1)
      this.enqueue(h.from, h.peer, h.msg)
    }
  }

  private apply(from: string, out: Output<unknown>): void {
    this.disks.get(from)!.push(...out.persist)
    for (const s of out.send) {
      const msg = s.msg as M
      if (s.to.kind === 'client') {
        this.replies.push({channel: s.to.channel, msg: s.msg as CapturedReply['msg']})
      } else if (s.to.kind === 'node') {
        this.enqueue(from, s.to.id, msg)
      } else {
        for (const id of this.nodes.keys()) if (id !== from) this.enqueue(from, id, msg)
      }
    }
    for (const e of out.effects) {
      if (e.kind === 'hint') this.hints.push({from, peer: e.peer, msg: e.msg as M})
    }
  }

  private enqueue(from: string, to: string, msg: M): void {
    if (this.rng.next() < this.faults.dropRate) {
      this.dropped++
      return
    }
    const copies = this.rng.next() < this.faults.duplicateRate ? 2 : 1
    for (let c = 0; c < copies; c++) {
      const delay = 1 + (this.faults.delayTicksMax > 0 ? this.rng.int(this.faults.delayTicksMax + 1) : 0)
      this.queue.push({at: this.now + delay, seq: this.seq++, from, to, msg})
    }
  }

  /** The replies a client channel received, in order. */
  repliesTo(channel: string): CapturedReply['msg'][] {
    return this.replies.filter((r) => r.channel === channel).map((r) => r.msg)
  }
}
