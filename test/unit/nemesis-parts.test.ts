/**
 * Proves the pure parts of the real-process nemesis (test/scenario/nemesis.test.ts runs the whole):
 * - the fault plan is a function of the seed (same seed, same plan), keeps to its budget (at most two
 *   replicas affected at once unless a fault is marked as taking a majority away, which only quorum
 *   mode does), never overlaps two partitions or two broker restarts, makes well-formed partition
 *   groups, and plans every fault kind in a 22 s window for most seeds (six kinds in about seven
 *   slots: not all; in 30 s nearly all);
 * - disk faults (wipe, corrupt) hit one replica each, never take part in a majority fault, count
 *   against the budget while down like a kill, and corrupt ones say which file and byte to flip,
 *   in the middle; `--faults` restricts the plan to the kinds it names, and rejects unknown ones;
 * - the status mapping: fail only where the operation certainly did not take effect;
 * - PublishWatch: "may have been delivered" exactly when a publish reached a subscriber, failed, or
 *   is still in flight;
 * - the leader check: two replicas leading one term is a violation, successive leaders are not.
 * How: many seeds through planFaults, tables of errors, a fake broker.
 */
import {expect} from 'chai'
import type {ClientBroker} from '../../src/client/client-broker.js'
import {KvError, type ErrorCode} from '../../src/core/errors.js'
import {Rng} from '../../src/core/rng.js'
import {FAULTY_MAX, FAULT_KINDS, type FaultKind, type PlannedFault, planFaults} from '../../src/nemesis/fault-plan.js'
import {DEFAULTS, parseNemesisArgs} from '../../src/nemesis/options.js'
import {checkLeaderPerTerm} from '../../src/nemesis/leader-check.js'
import {outcomeOfError} from '../../src/nemesis/op-outcome.js'
import {PublishWatch} from '../../src/nemesis/publish-watch.js'

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5']
const SEEDS = 300

function plan(
  seed: number,
  mode: 'eventual' | 'quorum',
  durationMs = 60_000,
  kinds?: readonly FaultKind[],
): PlannedFault[] {
  return planFaults(new Rng(seed), IDS, mode, durationMs, kinds)
}

function activeAt(faults: readonly PlannedFault[], t: number): PlannedFault[] {
  return faults.filter((f) => f.atMs <= t && t < f.atMs + f.holdMs)
}

describe('nemesis fault plan', () => {
  it('is the same for the same seed and differs across seeds', () => {
    expect(plan(7, 'quorum')).to.deep.equal(plan(7, 'quorum'))
    expect(JSON.stringify(plan(7, 'quorum'))).to.not.equal(JSON.stringify(plan(8, 'quorum')))
  })

  for (const mode of ['eventual', 'quorum'] as const) {
    it(`${mode}: keeps the budget, one partition and one broker restart at a time, well-formed groups`, () => {
      let majorityFaults = 0
      for (let seed = 1; seed <= SEEDS; seed++) {
        const faults = plan(seed, mode)
        expect(faults.length, `seed ${seed}`).to.be.greaterThan(5)
        for (const f of faults) {
          const active = activeAt(faults, f.atMs)
          const affected = new Set(active.flatMap((a) => a.nodes))
          if (f.majority) majorityFaults++
          if (!active.some((a) => a.majority))
            expect(affected.size, `seed ${seed} fault #${f.seq}`).to.be.at.most(FAULTY_MAX)
          expect(
            active.filter((a) => a.kind === 'partition').length,
            `seed ${seed} partitions at #${f.seq}`,
          ).to.be.at.most(1)
          expect(
            active.filter((a) => a.kind === 'redis-restart').length,
            `seed ${seed} broker restarts at #${f.seq}`,
          ).to.be.at.most(1)
          if (f.kind === 'partition') {
            const groups = f.groups ?? []
            expect(groups.length).to.be.at.least(2)
            expect(groups.flat().sort()).to.deep.equal(IDS)
            expect(groups.every((g) => g.length > 0)).to.equal(true)
          }
          if (f.kind === 'kill' || f.kind === 'pause') expect(f.nodes.length).to.be.at.least(1)
        }
      }
      if (mode === 'eventual') expect(majorityFaults).to.equal(0)
      else expect(majorityFaults).to.be.greaterThan(SEEDS / 2)
    })

    it(`${mode}: plans every fault kind within 22 s for most seeds, within 30 s for nearly all`, () => {
      for (const [durationMs, share] of [
        [22_000, 0.75],
        [30_000, 0.95],
      ] as const) {
        let covered = 0
        for (let seed = 1; seed <= SEEDS; seed++) {
          const faults = plan(seed, mode, durationMs)
          if (FAULT_KINDS.every((k) => faults.some((f) => f.kind === k))) covered++
        }
        expect(covered, `${durationMs} ms`).to.be.greaterThan(SEEDS * share)
      }
    })

    it(`${mode}: disk faults hit one replica, never with a majority, and say what to flip`, () => {
      const files = new Set<string>()
      let disk = 0
      for (let seed = 1; seed <= SEEDS; seed++) {
        for (const f of plan(seed, mode)) {
          if (f.kind !== 'wipe' && f.kind !== 'corrupt') continue
          disk++
          expect(f.nodes, `seed ${seed} fault #${f.seq}`).to.have.length(1)
          expect(f.majority, `seed ${seed} fault #${f.seq}`).to.equal(false)
          if (f.kind === 'wipe') {
            expect(f.corrupt).to.equal(undefined)
            continue
          }
          const c = f.corrupt
          expect(c, `seed ${seed} fault #${f.seq}`).to.not.equal(undefined)
          files.add(c?.file ?? '')
          expect(c?.position).to.be.at.least(0.25).and.below(0.75)
          expect(c?.mask).to.be.within(1, 255)
        }
      }
      expect(disk).to.be.greaterThan(SEEDS)
      expect([...files].sort()).to.deep.equal(['log', 'snapshot'])
    })

    it(`${mode}: plans only the kinds it is given, the same for the same seed`, () => {
      for (let seed = 1; seed <= 50; seed++) {
        const faults = plan(seed, mode, 60_000, ['wipe', 'corrupt'])
        expect(faults.length, `seed ${seed}`).to.be.greaterThan(5)
        expect(new Set(faults.map((f) => f.kind)), `seed ${seed}`).to.deep.equal(new Set(['wipe', 'corrupt']))
        expect(plan(seed, mode, 60_000, ['corrupt', 'wipe'])).to.deep.equal(faults)
        // Only disk faults: never more than FAULTY_MAX replicas down at once.
        for (const f of faults)
          expect(new Set(activeAt(faults, f.atMs).flatMap((a) => a.nodes)).size).to.be.at.most(FAULTY_MAX)
      }
    })
  }
})

describe('nemesis --faults', () => {
  const parse = (...extra: string[]) =>
    parseNemesisArgs(['--mode', 'quorum', '--duration', '10', '--seed', '1', ...extra], () => 0)

  it('defaults to every kind, disk faults included', () => {
    expect(parse().faults).to.deep.equal(FAULT_KINDS)
    expect(DEFAULTS.faults).to.include.members(['wipe', 'corrupt'])
  })

  it('takes a list of known kinds and refuses unknown, repeated or empty ones', () => {
    expect(parse('--faults', 'wipe,kill').faults).to.deep.equal(['wipe', 'kill'])
    for (const bad of ['', 'wipe,', 'disk', 'kill,kill']) {
      expect(() => parse('--faults', bad), bad)
        .to.throw(KvError)
        .with.property('code', 'BAD_REQUEST')
    }
  })
})

describe('nemesis status mapping', () => {
  const cases: [ErrorCode, boolean, string][] = [
    ['TIMEOUT', false, 'unknown'],
    ['TIMEOUT', true, 'unknown'],
    ['NO_QUORUM', true, 'fail'],
    ['BAD_REQUEST', false, 'fail'],
    ['UNAVAILABLE', false, 'fail'],
    ['UNAVAILABLE', true, 'fail'],
    ['REDIS_UNAVAILABLE', false, 'fail'],
    ['REDIS_UNAVAILABLE', true, 'unknown'],
  ]
  for (const [code, delivered, status] of cases) {
    it(`${code}${delivered ? ' after a publish that may have arrived' : ' with nothing delivered'} → ${status}`, () => {
      expect(outcomeOfError(new KvError(code, 'x'), delivered)).to.deep.equal({status, error: code})
    })
  }
  it('an exception that is not a KvError is unknown', () => {
    expect(outcomeOfError(new TypeError('bug'), false).status).to.equal('unknown')
  })
})

/** A broker whose publish answers what the test queues. */
function fakeBroker(answers: Array<() => Promise<number>>): ClientBroker {
  return {
    publish: () => (answers.shift() as () => Promise<number>)(),
    subscribe: async () => {},
    onMessage: () => {},
    onLost: () => {},
    get: () => Promise.resolve(null),
    hgetall: () => Promise.resolve({}),
    set: async () => {},
    del: async () => {},
    close: async () => {},
  }
}

describe('PublishWatch', () => {
  it('says delivered only after a publish reached someone or failed', async () => {
    const watch = new PublishWatch(
      fakeBroker([() => Promise.resolve(0), () => Promise.resolve(1), () => Promise.reject(new Error('closed'))]),
    )
    watch.begin()
    expect(watch.mayHaveDelivered).to.equal(false)
    await watch.publish('c', 'm')
    expect(watch.mayHaveDelivered, '0 receivers').to.equal(false)
    await watch.publish('c', 'm')
    expect(watch.mayHaveDelivered, '1 receiver').to.equal(true)
    watch.begin()
    expect(watch.mayHaveDelivered, 'after begin').to.equal(false)
    await watch.publish('c', 'm').catch(() => {})
    expect(watch.mayHaveDelivered, 'a failed publish').to.equal(true)
  })

  it('counts a publish still in flight as maybe delivered', async () => {
    let release!: (n: number) => void
    const watch = new PublishWatch(fakeBroker([() => new Promise<number>((resolve) => (release = resolve))]))
    watch.begin()
    const pending = watch.publish('c', 'm')
    expect(watch.mayHaveDelivered).to.equal(true)
    release(0)
    await pending
    expect(watch.mayHaveDelivered).to.equal(false)
  })
})

describe('nemesis leader-per-term check', () => {
  it('accepts one leader per term, also when leaders change between terms', () => {
    const v = checkLeaderPerTerm([
      {t: 1, node: 'n5', term: 1, role: 'leader', leader: 'n5'},
      {t: 2, node: 'n5', term: 1, role: 'leader', leader: 'n5'},
      {t: 3, node: 'n4', term: 2, role: 'leader', leader: 'n4'},
      {t: 3, node: 'n5', term: 2, role: 'follower', leader: 'n4'},
    ])
    expect(v.verdict).to.equal('ok')
  })

  it('reports two leaders of one term', () => {
    const v = checkLeaderPerTerm([
      {t: 1000, node: 'n5', term: 3, role: 'leader', leader: 'n5'},
      {t: 2000, node: 'n4', term: 3, role: 'leader', leader: 'n4'},
    ])
    expect(v.verdict).to.equal('violation')
    expect(v.problems[0]).to.contain('term 3').and.contain('n4').and.contain('n5')
  })
})
