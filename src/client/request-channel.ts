/**
 * Request/reply correlation over pub/sub. A KvClient owns one RequestChannel bound to its private
 * reply channel: each request carries a fresh id, and replies are matched to waiters by that id.
 * Anything else arriving on the reply channel (late replies, unknown ids, garbage) is ignored.
 */
import {KvError, isErrorCode} from '../core/errors.js'
import type {ClientReply} from '../core/client-messages.js'
import type {ClientBroker} from './client-broker.js'

/** How one request ended; KvClient turns each kind into a result or a KvError with context. */
export type Outcome =
  {readonly kind: 'reply'; readonly reply: ClientReply} | {readonly kind: 'no-receivers'} | {readonly kind: 'timeout'}

/** What a broadcast collected: every reply that arrived, and how many subscribers got the message. */
export interface Collected {
  readonly receivers: number
  readonly replies: ClientReply[]
  readonly timedOut: boolean
}

interface Waiter {
  /** Returns true when the waiter has all it wants and can be removed. */
  accept(reply: ClientReply): boolean
  fail(error: KvError): void
}

/**
 * How requests and replies look on the wire: plain JSON, or (with a secret) sealed requests and
 * replies that count only if their MAC holds (KvClient builds the signed one).
 */
export interface Wire {
  encode(channel: string, message: object): string
  /** The reply's JSON text, or null to ignore what arrived. */
  decode(raw: string): string | null
}

export const PLAIN_WIRE: Wire = {encode: (_channel, message) => JSON.stringify(message), decode: (raw) => raw}

/** Created by KvClient after it subscribed to `replyTo`; used for every request the client sends. */
export class RequestChannel {
  private readonly waiters = new Map<string, Waiter>()
  private lost: KvError | undefined

  constructor(
    private readonly broker: ClientBroker,
    readonly replyTo: string,
    private readonly wire: Wire = PLAIN_WIRE,
  ) {
    broker.onMessage((channel, message) => {
      if (channel === replyTo) this.deliver(message)
    })
    broker.onLost((error) => {
      this.lost = error
      for (const waiter of this.waiters.values()) waiter.fail(error)
      this.waiters.clear()
    })
  }

  /** Number of requests still waiting for replies (tests use it to prove nothing leaks). */
  get pendingCount(): number {
    return this.waiters.size
  }

  /**
   * Publishes one request and waits for its single reply. The waiter is registered before the
   * publish, because the reply can arrive before PUBLISH's own answer does.
   */
  async send(channel: string, message: {readonly id: string}, timeoutMs: number): Promise<Outcome> {
    let settle!: (outcome: Outcome) => void
    let fail!: (error: KvError) => void
    const done = new Promise<Outcome>((resolve, reject) => {
      settle = resolve
      fail = reject
    })
    // The broker can be lost while the publish below is still awaited: `done` then rejects before
    // anyone holds it, which Node treats as an unhandled rejection and exits. The caller still sees
    // the rejection through the returned promise.
    done.catch(() => {})
    const timer = setTimeout(() => {
      this.waiters.delete(message.id)
      settle({kind: 'timeout'})
    }, timeoutMs)
    const finish = (then: () => void): void => {
      clearTimeout(timer)
      this.waiters.delete(message.id)
      then()
    }
    this.waiters.set(message.id, {
      accept: (reply) => {
        finish(() => settle({kind: 'reply', reply}))
        return true
      },
      fail: (error) => finish(() => fail(error)),
    })
    try {
      const receivers = await this.publish(channel, message)
      if (receivers === 0) finish(() => settle({kind: 'no-receivers'}))
    } catch (error) {
      finish(() => fail(error as KvError))
    }
    return done
  }

  /**
   * Publishes one broadcast and gathers replies carrying its id until `expected(receivers)` replies
   * arrived or `timeoutMs` passed (kv fault: every replica on the control topic answers).
   */
  async collect(
    channel: string,
    message: {readonly id: string},
    expected: (receivers: number) => number,
    timeoutMs: number,
  ): Promise<Collected> {
    const replies: ClientReply[] = []
    let wanted = Number.POSITIVE_INFINITY
    let receivers = 0
    let settle!: (collected: Collected) => void
    let fail!: (error: KvError) => void
    const done = new Promise<Collected>((resolve, reject) => {
      settle = resolve
      fail = reject
    })
    done.catch(() => {}) // as in send(): a lost broker may reject it while the publish is awaited
    const timer = setTimeout(() => {
      this.waiters.delete(message.id)
      settle({receivers, replies, timedOut: true})
    }, timeoutMs)
    const finishIfComplete = (): boolean => {
      if (replies.length < wanted) return false
      clearTimeout(timer)
      this.waiters.delete(message.id)
      settle({receivers, replies, timedOut: false})
      return true
    }
    this.waiters.set(message.id, {
      accept: (reply) => {
        replies.push(reply)
        return finishIfComplete()
      },
      fail: (error) => {
        clearTimeout(timer)
        this.waiters.delete(message.id)
        fail(error)
      },
    })
    try {
      receivers = await this.publish(channel, message)
      wanted = expected(receivers)
      finishIfComplete()
    } catch (error) {
      clearTimeout(timer)
      this.waiters.delete(message.id)
      fail(error as KvError)
    }
    return done
  }

  private async publish(channel: string, message: {readonly id: string}): Promise<number> {
    if (this.lost) throw this.lost
    return this.broker.publish(channel, this.wire.encode(channel, message))
  }

  private deliver(raw: string): void {
    const text = this.wire.decode(raw)
    const reply = text === null ? undefined : parseReply(text)
    if (!reply) return
    const waiter = this.waiters.get(reply.id)
    if (waiter?.accept(reply)) this.waiters.delete(reply.id)
  }
}

/** A well-formed client.reply, or undefined for anything else (never throws). */
export function parseReply(raw: string): ClientReply | undefined {
  let data: unknown
  try {
    data = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof data !== 'object' || data === null) return undefined
  const m = data as Record<string, unknown>
  if (m.type !== 'client.reply' || typeof m.id !== 'string') return undefined
  if (m.ok === true && typeof m.result === 'object' && m.result !== null) return m as unknown as ClientReply
  if (m.ok === false && typeof m.error === 'object' && m.error !== null) {
    const error = m.error as Record<string, unknown>
    const message = typeof error.message === 'string' ? error.message : 'the replica refused the request'
    // An unknown code from a newer replica still fails the request, as the least specific code.
    const code = isErrorCode(error.code) ? error.code : 'UNAVAILABLE'
    const epoch = typeof m.epoch === 'string' && m.epoch.length <= 64 ? {epoch: m.epoch} : {}
    return {type: 'client.reply', id: m.id, ok: false, error: {code, message}, ...epoch}
  }
  return undefined
}
