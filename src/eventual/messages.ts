/**
 * Replica ⇄ replica messages of the eventual mode. Replication always carries a key's whole sibling
 * set (never a lone version): a replica that holds a dot then also holds everything its writer had
 * seen of that key, which keeps read contexts exact (DVV sets, as Riak does).
 */
import type {Siblings} from './types.js'

/** A key and its full sibling set. */
export interface KeyState {
  readonly key: string
  readonly siblings: Siblings
}

/** Heartbeat and join announcement on the members topic (seed 004's NEW_CONNECTION). */
export interface Heartbeat {
  readonly type: 'hb'
  readonly from: string
  readonly mode: 'eventual' | 'quorum'
  /** Members the sender knows, so a newcomer learns everyone from one heartbeat. */
  readonly members: readonly string[]
  /** The sender's incarnation: new each time it starts on an empty or damaged disk. */
  readonly inc?: string
}

/** States to merge; `batch` set means the sender wants a `repl.ack` once they are durable. */
export interface Replicate {
  readonly type: 'repl'
  readonly from: string
  readonly batch?: string
  readonly entries: readonly KeyState[]
}

export interface ReplicateAck {
  readonly type: 'repl.ack'
  readonly from: string
  readonly batch: string
}

/** A coordinator asks a peer for its state of one key (for a read). */
export interface ReadRequest {
  readonly type: 'read.req'
  readonly from: string
  readonly id: string
  readonly key: string
}

export interface ReadResponse {
  readonly type: 'read.resp'
  readonly from: string
  readonly id: string
  readonly key: string
  readonly siblings: Siblings
}

/**
 * Every read a coordinator sends one peer in one burst, in one message (read.req's batched form);
 * the peer answers them all in read.resps, cut under the batch byte limit.
 */
export interface ReadRequests {
  readonly type: 'read.reqs'
  readonly from: string
  readonly reqs: readonly {readonly id: string; readonly key: string}[]
}

export interface ReadResponses {
  readonly type: 'read.resps'
  readonly from: string
  readonly resps: readonly {readonly id: string; readonly key: string; readonly siblings: Siblings}[]
}

/** Anti-entropy round, step 1: one digest per bucket of keys. */
export interface DigestOffer {
  readonly type: 'ae.digest'
  readonly from: string
  readonly id: string
  readonly buckets: readonly string[]
  /**
   * Sent by a replica that started empty, with its incarnation: "have you heard another incarnation
   * of me, or do you hold anything an earlier me wrote?"
   */
  readonly askEarlierLife?: string
}

/** Step 2: for the buckets that differ, the responder's (key, hash) pairs. */
export interface DigestKeys {
  readonly type: 'ae.keys'
  readonly from: string
  readonly id: string
  readonly buckets: readonly number[]
  readonly keys: readonly (readonly [string, string])[]
  /** The answer to askEarlierLife: a version or context entry of an actor of the asker exists here. */
  readonly earlierLife?: boolean
}

/** Step 3: the initiator asks for the states of keys it lacks or differs on (it pushes its own). */
export interface DigestPull {
  readonly type: 'ae.pull'
  readonly from: string
  readonly id: string
  readonly keys: readonly string[]
}

export type EventualPeerMessage =
  | Heartbeat
  | Replicate
  | ReplicateAck
  | ReadRequest
  | ReadResponse
  | ReadRequests
  | ReadResponses
  | DigestOffer
  | DigestKeys
  | DigestPull
