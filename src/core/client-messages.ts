/**
 * Client ⇄ replica messages (both modes). A client publishes a request to a replica's inbox with a
 * fresh id and its private reply channel; the replica answers on that channel with the same id.
 * The result shapes are exactly the JSON of ../../CONTRACT.md, so the CLI prints them unchanged.
 */
import type {ErrorCode} from './errors.js'

/**
 * A vector clock as results carry it (replica id → counter). The same shape as eventual/types.ts's
 * Clock, written out here because core imports nothing from a protocol mode.
 */
type Clock = Readonly<Record<string, number>>

/** How many replicas a put waits for / a read asks: a count, a majority, or every member. */
export type ReplicaCount = number | 'quorum' | 'all'

export interface ClientPut {
  readonly type: 'client.put'
  readonly id: string
  readonly replyTo: string
  readonly key: string
  /** null writes a tombstone (kv delete). */
  readonly value: string | null
  readonly context?: string
  readonly w?: ReplicaCount
  /** How long the client waits; the replica answers a little before that. */
  readonly timeoutMs: number
}

export interface ClientRead {
  readonly type: 'client.read'
  readonly id: string
  readonly replyTo: string
  readonly key: string
  readonly r?: ReplicaCount
  readonly timeoutMs: number
}

export interface ClientStatus {
  readonly type: 'client.status'
  readonly id: string
  readonly replyTo: string
}

export type ClientRequest = ClientPut | ClientRead | ClientStatus

export interface PutResultEventual {
  key: string
  node: string
  clock: Clock
  context: string
  /**
   * The new version's own dot: the actor that wrote it (this replica's id, or a later incarnation
   * `<id>.<tag>` after it lost data) and its counter. The clock alone cannot always tell it.
   */
  dot?: {node: string; counter: number}
  /** Replicas that hold the write durably when the reply was sent (>= w). */
  replicas?: number
}

export interface LogVersion {
  term: number
  index: number
}

export interface PutResultQuorum {
  key: string
  node: string
  leader: string
  version: LogVersion
}

export type PutResult = PutResultEventual | PutResultQuorum

export interface ReadValue {
  value: string
  clock?: Clock
  version?: LogVersion
}

export interface ReadResult {
  key: string
  node: string
  found: boolean
  conflict: boolean
  values: ReadValue[]
  context: string
  /** How many replicas were wanted and how many answered (fewer answered = a weaker read). */
  replicas?: {wanted: number; answered: number}
}

/** One replica's answer to a status request; `kv status` assembles these. */
export interface NodeStatus {
  id: string
  alive: boolean
  role: 'leader' | 'follower' | 'candidate' | 'replica'
  keys: number
  mode: 'eventual' | 'quorum'
  /** Members this replica believes alive (its failure detector's view). */
  peersAlive?: string[]
  term?: number
  commitIndex?: number
  leader?: string | null
  partitioned?: boolean
  /** True while the replica catches up after it lost data (it does not coordinate writes, or vote). */
  recovering?: boolean
}

export interface ClientReplyOk {
  readonly type: 'client.reply'
  readonly id: string
  readonly ok: true
  readonly result: PutResult | ReadResult | NodeStatus
}

export interface ClientReplyError {
  readonly type: 'client.reply'
  readonly id: string
  readonly ok: false
  readonly error: {code: ErrorCode; message: string}
  /**
   * Set when an authenticated replica refused the request's epoch (it restarted, or the client's
   * view is old): the epoch to name instead. The client retries once with it; nothing was applied.
   */
  readonly epoch?: string
}

export type ClientReply = ClientReplyOk | ClientReplyError
