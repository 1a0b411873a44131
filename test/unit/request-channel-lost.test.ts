/**
 * Proves that a broker lost while a request's PUBLISH is still awaited fails that request with
 * REDIS_UNAVAILABLE instead of crashing the process with an unhandled rejection (found by the
 * nemesis restarting redis-server under its clients: ioredis emits 'end' before it rejects the
 * pending PUBLISH). How: a fake broker whose publish never settles until the test rejects it, after
 * firing onLost; the test watches for unhandledRejection across a few ticks.
 */
import {expect} from 'chai'
import type {ClientBroker} from '../../src/client/client-broker.js'
import {RequestChannel} from '../../src/client/request-channel.js'
import {KvError} from '../../src/core/errors.js'

function stalledBroker(): {broker: ClientBroker; lose(): void; failPublish(): void} {
  let lost: ((e: KvError) => void) | undefined
  const pending: Array<(e: Error) => void> = []
  const broker: ClientBroker = {
    publish: () => new Promise<number>((_, reject) => pending.push(reject)),
    subscribe: async () => {},
    onMessage: () => {},
    onLost: (handler) => (lost = handler),
    get: () => Promise.resolve(null),
    hgetall: () => Promise.resolve({}),
    set: async () => {},
    del: async () => {},
    close: async () => {},
  }
  return {
    broker,
    lose: () => lost?.(new KvError('REDIS_UNAVAILABLE', 'lost the broker')),
    failPublish: () =>
      pending.splice(0).forEach((reject) => reject(new KvError('REDIS_UNAVAILABLE', 'Connection is closed'))),
  }
}

async function withoutUnhandledRejections(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const listener = (reason: unknown): void => void seen.push(reason)
  const mochaListeners = process.listeners('unhandledRejection')
  process.removeAllListeners('unhandledRejection')
  process.on('unhandledRejection', listener)
  try {
    await body()
    await new Promise((r) => setTimeout(r, 20))
  } finally {
    process.removeListener('unhandledRejection', listener)
    for (const l of mochaListeners) process.on('unhandledRejection', l)
  }
  return seen
}

describe('RequestChannel when the broker is lost mid-publish', () => {
  for (const which of ['send', 'collect'] as const) {
    it(`${which}: rejects with REDIS_UNAVAILABLE and leaves no unhandled rejection`, async () => {
      const fake = stalledBroker()
      const channel = new RequestChannel(fake.broker, 'reply')
      let outcome: unknown
      const unhandled = await withoutUnhandledRejections(async () => {
        const call =
          which === 'send'
            ? channel.send('inbox', {id: 'a'}, 1000)
            : channel.collect('control', {id: 'b'}, (n) => n, 1000)
        const settled = call.then(
          () => 'resolved',
          (e: unknown) => e,
        )
        fake.lose()
        await new Promise((r) => setTimeout(r, 5))
        fake.failPublish()
        outcome = await settled
      })
      expect(unhandled).to.deep.equal([])
      expect(outcome).to.be.instanceOf(KvError)
      expect((outcome as KvError).code).to.equal('REDIS_UNAVAILABLE')
      expect(channel.pendingCount).to.equal(0)
    })
  }
})
