/**
 * The shape every protocol core has (etcd-io/raft's Ready): messages and ticks in, an Output out.
 * The driver must make `persist` durable before it sends anything in `send` of the same Output, and
 * must handle Outputs strictly in order; that is what lets a reply or an ack promise durability.
 * `persistSoon` holds records whose loss in a crash is harmless (knowledge a replica re-learns, such
 * as a commit index): the driver writes them after the `persist` records of the same or a later
 * append, within a tick, and never holds a message back for them.
 */

/** Where an outgoing message goes. Topics are the cluster's broadcast channels. */
export type Destination =
  | {readonly kind: 'node'; readonly id: string}
  | {readonly kind: 'topic'; readonly topic: Topic}
  | {readonly kind: 'client'; readonly channel: string}

export type Topic = 'members' | 'replication' | 'election' | 'commit'

export interface Outgoing {
  readonly to: Destination
  readonly msg: object
}

/** Side effects other than persistence and messages; the driver performs them after `persist`. */
export type Effect =
  | {readonly kind: 'hint'; readonly peer: string; readonly msg: object}
  | {readonly kind: 'log'; readonly level: 'info' | 'warn'; readonly text: string}
  | {readonly kind: 'peer'; readonly id: string; readonly alive: boolean}
  /** The core caught up after lost data: the driver compacts, then clears the disk's RECOVERING marker. */
  | {readonly kind: 'recovered'}

export interface Output<R> {
  readonly persist: R[]
  readonly persistSoon: R[]
  readonly send: Outgoing[]
  readonly effects: Effect[]
}

/** Collects one step's output; cores create one per step and return `done()`. */
export class OutputBuilder<R> {
  readonly persist: R[] = []
  readonly persistSoon: R[] = []
  readonly send: Outgoing[] = []
  readonly effects: Effect[] = []

  toNode(id: string, msg: object): void {
    this.send.push({to: {kind: 'node', id}, msg})
  }

  toTopic(topic: Topic, msg: object): void {
    this.send.push({to: {kind: 'topic', topic}, msg})
  }

  toClient(channel: string, msg: object): void {
    this.send.push({to: {kind: 'client', channel}, msg})
  }

  log(level: 'info' | 'warn', text: string): void {
    this.effects.push({kind: 'log', level, text})
  }

  done(): Output<R> {
    return {persist: this.persist, persistSoon: this.persistSoon, send: this.send, effects: this.effects}
  }
}

export function emptyOutput<R>(): Output<R> {
  return {persist: [], persistSoon: [], send: [], effects: []}
}
