/**
 * What the broker itself allows: raw Redis pub/sub round trips on the same broker, with the same
 * number in flight and the same payload size as the kv run. An echo (its own subscriber and
 * publisher connections) sends every request back on the driver's reply channel: two PUBLISHes and
 * two deliveries per round trip, the least any kv request can cost (client → replica → client).
 */
import type {Redis} from 'ioredis'
import {nanoid} from 'nanoid'
import {clientConnection} from '../redis/connect.js'
import {type LoadLimit, type LoadResult, runLoad} from './load-loop.js'

export interface BaselineOptions {
  readonly redisUrl: string
  readonly cluster: string
  readonly inFlight: number
  readonly valueBytes: number
  readonly limit: LoadLimit
  readonly timeoutMs: number
  readonly onProgress?: (done: number) => void
}

export async function measurePubSubBaseline(o: BaselineOptions): Promise<LoadResult> {
  const conns: Redis[] = []
  try {
    for (const name of ['echo-sub', 'echo-pub', 'driver-sub', 'driver-pub'])
      conns.push(await clientConnection(o.redisUrl, `kv-bench-${name}`, o.timeoutMs))
    const [echoSub, echoPub, driverSub, driverPub] = conns as [Redis, Redis, Redis, Redis]
    const run = nanoid(10)
    const echoChannel = `kv:${o.cluster}:bench:${run}:echo`
    const replyChannel = `kv:${o.cluster}:bench:${run}:reply`
    echoSub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      echoPub.publish(replyChannel, message).catch(() => {})
    })
    await echoSub.subscribe(echoChannel)
    const waiters = new Map<string, () => void>()
    driverSub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      const id = message.subarray(0, message.indexOf(0x7c)).toString() // up to the first '|'
      const done = waiters.get(id)
      waiters.delete(id)
      done?.()
    })
    await driverSub.subscribe(replyChannel)
    const body = 'x'.repeat(o.valueBytes)
    return await runLoad({
      inFlight: o.inFlight,
      limit: o.limit,
      onProgress: o.onProgress,
      request: (i) =>
        new Promise<void>((resolve, reject) => {
          const id = String(i)
          const timer = setTimeout(() => {
            waiters.delete(id)
            reject(Object.assign(new Error('no echo in time'), {code: 'TIMEOUT'}))
          }, o.timeoutMs)
          waiters.set(id, () => {
            clearTimeout(timer)
            resolve()
          })
          driverPub.publish(echoChannel, `${id}|${body}`).catch((error: unknown) => {
            clearTimeout(timer)
            waiters.delete(id)
            reject(error instanceof Error ? error : new Error(String(error)))
          })
        }),
    })
  } finally {
    await Promise.allSettled(conns.map((c) => c.quit()))
    for (const c of conns) c.disconnect()
  }
}
