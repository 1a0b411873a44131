/**
 * What the driver needs from a protocol core; both the eventual and the quorum replica provide it.
 */
import type {Output} from './machine.js'
import type {NodeStatus} from './client-messages.js'

export interface ReplicaCore<R, S, M> {
  readonly id: string
  restore(snapshot: S | null, records: readonly R[]): void
  step(msg: M): Output<R>
  tick(): Output<R>
  /** Batched sends that steps queued (called once per burst of steps). */
  flush(): Output<R>
  snapshot(): S
  status(): NodeStatus
  memberIds(): string[]
  /** True while client requests are in flight (a graceful stop waits for them). */
  busy(): boolean
}
