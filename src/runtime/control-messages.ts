/**
 * Fault injection (`kv fault`), published on the control topic. A replica started with
 * --allow-faults applies it and answers ok; others answer with an error. `partition: null` heals.
 */
export interface FaultRequest {
  readonly type: 'fault'
  readonly id: string
  readonly replyTo: string
  readonly partition: string[][] | null
}
