/**
 * Data types of the eventual mode (dotted version vectors, as Riak learnt after sibling explosion).
 *
 * A Clock maps replica id → counter; absent entries are 0 and zero entries are never stored.
 * A Version is one value written once by one replica: its dot (replica, counter) names that write
 * uniquely; `ctx` is the causal context it supersedes (what the writer had seen). The user-facing
 * clock of a version is ctx ⊔ {dot}.
 * Version a supersedes b exactly when b's dot is covered by a's ctx (ctx[b.dot.node] >= b.dot.counter).
 * A key's state is its Siblings: versions none of which supersedes another, in one canonical order.
 */
export type Clock = Readonly<Record<string, number>>

export interface Dot {
  readonly node: string
  readonly counter: number
}

export interface Version {
  readonly dot: Dot
  readonly ctx: Clock
  /** null is a tombstone (a delete). */
  readonly value: string | null
}

/** Pairwise-concurrent versions, sorted by (dot.node, dot.counter). */
export type Siblings = readonly Version[]

export type ClockOrder = 'before' | 'after' | 'equal' | 'concurrent'
