/**
 * Proves what each protocol core does when its disk lost data or came back empty (RecoveryFacts):
 * - eventual: after a loss it writes as a new actor at once (no dot of the lost data is ever reused),
 *   refuses to coordinate writes until every live peer answered its anti-entropy round, then says
 *   `recovered`; a replica that started empty but whose peers hold its old dots also takes a new actor;
 * - quorum: a replica that lost data or started empty is a learner: it never votes or stands, it
 *   catches up from the leader and only then votes again (door a), or, in a brand-new cluster, once
 *   it heard every member with an empty log (door b); a member that never started keeps a new
 *   cluster from electing.
 * How: the real cores, stepped by hand through a tiny lossless in-test router (no simulator), so each
 * rule is seen directly in the Outputs.
 */
import {expect} from 'chai'
import type {Output} from '../../src/core/machine.js'
import type {RecoveryFacts} from '../../src/core/recovery-facts.js'
import {Rng} from '../../src/core/rng.js'
import {DEFAULT_EVENTUAL_TIMING, EventualReplica} from '../../src/eventual/replica.js'
import type {EventualRecord, EventualSnapshot} from '../../src/eventual/records.js'
import {QuorumReplica} from '../../src/quorum/replica.js'
import type {QuorumRecord, QuorumSnapshot} from '../../src/quorum/records.js'

interface Core<R> {
  readonly id: string
  step(msg: never): Output<R>
  tick(): Output<R>
  flush(): Output<R>
}

/** Delivers every message at once and in order; records what each core persisted, logged and replied. */
class Router<R, C extends Core<R>> {
  readonly cores = new Map<string, C>()
  readonly persisted = new Map<string, R[]>()
  readonly logs: string[] = []
  readonly replies: Record<string, unknown>[] = []
  readonly recovered = new Set<string>()
  private queue: {to: string; msg: object}[] = []

  add(core: C): void {
    this.cores.set(core.id, core)
    this.persisted.set(core.id, [])
  }

  remove(id: string): void {
    this.cores.delete(id)
  }

  private take(core: C, out: Output<R>): void {
    ;(this.persisted.get(core.id) as R[]).push(...out.persist)
    for (const s of out.send) {
      if (s.to.kind === 'client') this.replies.push(s.msg as Record<string, unknown>)
      else if (s.to.kind === 'node') this.queue.push({to: s.to.id, msg: s.msg})
      else for (const id of this.cores.keys()) if (id !== core.id) this.queue.push({to: id, msg: s.msg})
    }
    for (const e of out.effects) {
      if (e.kind === 'log') this.logs.push(`${core.id}: ${e.text}`)
      if (e.kind === 'recovered') this.recovered.add(core.id)
    }
  }

  send(to: string, msg: object): void {
    this.queue.push({to, msg})
    this.deliver()
  }

  private deliver(): void {
    for (let n = 0; this.queue.length && n < 100_000; n++) {
      const {to, msg} = this.queue.shift() as {to: string; msg: object}
      const core = this.cores.get(to)
      if (!core) continue
      this.take(core, core.step(JSON.parse(JSON.stringify(msg)) as never))
      this.take(core, core.flush())
    }
  }

  run(ticks: number, until?: () => boolean): number {
    for (let t = 0; t < ticks; t++) {
      for (const core of this.cores.values()) this.take(core, core.tick())
      this.deliver()
      if (until?.()) return t
    }
    return ticks
  }
}

const LOSS: RecoveryFacts = {loss: {file: 'log.bin', what: 'a damaged frame in the middle'}, empty: false}
const EMPTY: RecoveryFacts = {loss: null, empty: true}
const WHOLE: RecoveryFacts = {loss: null, empty: false}

describe('cores after lost data', () => {
  describe('eventual', () => {
    const ids = ['n1', 'n2', 'n3']
    const make = (
      id: string,
      seed: number,
      snapshot: EventualSnapshot | null,
      records: EventualRecord[],
      facts: RecoveryFacts,
    ) => {
      const core = new EventualReplica({id, peers: ids, rng: new Rng(seed), ...DEFAULT_EVENTUAL_TIMING})
      core.restore(snapshot, records, facts)
      return core
    }
    const put = (r: Router<EventualRecord, EventualReplica>, node: string, key: string, value: string, id: string) =>
      r.send(node, {type: 'client.put', id, replyTo: 'c', key, value, w: 1, timeoutMs: 5000})
    const replyOf = (r: Router<EventualRecord, EventualReplica>, id: string) => r.replies.find((m) => m.id === id)
    /** Runs until every replica finished its start-up catch-up (a fresh one waits to hear every member). */
    const settle = (r: Router<EventualRecord, EventualReplica>) =>
      r.run(200, () => [...r.cores.values()].every((c) => c.status().recovering === undefined))

    it('takes a new actor after a loss, refuses writes until its peers answered, then writes with the new actor', () => {
      const r = new Router<EventualRecord, EventualReplica>()
      for (const [i, id] of ids.entries()) r.add(make(id, i + 1, null, [], WHOLE))
      settle(r)
      put(r, 'n1', 'k', 'v1', 'p1')
      expect(replyOf(r, 'p1')).to.have.property('ok', true)
      r.run(5)
      // n1 comes back with a disk that lost its log: it holds nothing of k.
      r.remove('n1')
      const n1 = make('n1', 99, null, [], LOSS)
      r.add(n1)
      expect(n1.currentActor).to.match(/^n1\.[a-z0-9]+$/)
      expect(n1.status().recovering).to.equal(true)
      put(r, 'n1', 'k', 'early', 'p2')
      expect(replyOf(r, 'p2')).to.deep.include({ok: false})
      expect((replyOf(r, 'p2') as {error: {code: string}}).error.code).to.equal('UNAVAILABLE')
      expect(r.persisted.get('n1')).to.deep.include({t: 'actor', actor: n1.currentActor})
      expect(r.logs.some((l) => l.startsWith('n1: DATA LOSS in log.bin'))).to.equal(true)
      r.run(400, () => r.recovered.has('n1'))
      expect(r.recovered.has('n1'), 'n1 said recovered').to.equal(true)
      expect(n1.status().recovering).to.equal(undefined)
      put(r, 'n1', 'k', 'v2', 'p3')
      const ok = replyOf(r, 'p3') as {ok: boolean; result: {clock: Record<string, number>}}
      expect(ok.ok).to.equal(true)
      // The new version's own entry is the new actor's first dot; n1's old dot is still covered, not reused.
      expect(ok.result.clock).to.deep.equal({n1: 1, [n1.currentActor]: 1})
    })

    it('started empty, but the peers hold its old dots: takes a new actor before its first write', () => {
      const r = new Router<EventualRecord, EventualReplica>()
      for (const [i, id] of ids.entries()) r.add(make(id, i + 1, null, [], WHOLE))
      settle(r)
      put(r, 'n1', 'k', 'v1', 'p1')
      r.run(5)
      r.remove('n1')
      const n1 = make('n1', 98, null, [], EMPTY)
      r.add(n1)
      expect(n1.currentActor).to.equal('n1')
      r.run(400, () => n1.keys().length > 0)
      r.run(200)
      put(r, 'n1', 'other', 'x', 'p2')
      expect(replyOf(r, 'p2')).to.have.property('ok', true)
      expect(n1.currentActor).to.match(/^n1\.[a-z0-9]+$/)
      expect(r.persisted.get('n1')).to.deep.include({t: 'actor', actor: n1.currentActor})
    })

    it('a new replica of a new cluster keeps its id as its actor', () => {
      const r = new Router<EventualRecord, EventualReplica>()
      for (const [i, id] of ids.entries()) r.add(make(id, i + 1, null, [], EMPTY))
      r.run(200)
      put(r, 'n2', 'k', 'v', 'p1')
      expect((replyOf(r, 'p1') as {result: {clock: unknown}}).result.clock).to.deep.equal({n2: 1})
    })

    it('a crash that tears its very first append still leaves it catching up (sim seed 6213)', () => {
      const fresh = make('n1', 5, null, [], EMPTY)
      const boot = fresh.tick().persist
      expect(boot[0], 'the catch-up mark comes first').to.deep.equal({t: 'catchup', done: false})
      // Any torn prefix of that append, even one record, must not look like a replica that holds data.
      for (let kept = 1; kept <= boot.length; kept++) {
        const again = make('n1', 6, null, boot.slice(0, kept), WHOLE)
        expect(again.status().recovering, `${kept} record(s) kept`).to.equal(true)
      }
    })

    it('started empty while a member was down: takes a new actor, since that member may hold its old dots', () => {
      // n3 is down (or cut off) when n1 comes back empty; n2 never saw n1's earlier writes either.
      const r = new Router<EventualRecord, EventualReplica>()
      r.add(make('n2', 2, null, [], WHOLE))
      const n1 = make('n1', 97, null, [], EMPTY)
      r.add(n1)
      settle(r)
      expect(n1.status().recovering).to.equal(undefined)
      expect(n1.currentActor).to.match(/^n1\.[a-z0-9]+$/)
      expect(r.persisted.get('n1')).to.deep.include({t: 'actor', actor: n1.currentActor})
      expect(r.logs.some((l) => l.includes('n3 did not answer'))).to.equal(true)
      put(r, 'n1', 'k', 'v', 'p1')
      expect((replyOf(r, 'p1') as {result: {clock: unknown}}).result.clock).to.deep.equal({[n1.currentActor]: 1})
    })
  })

  describe('quorum', () => {
    const ids = ['n1', 'n2', 'n3']
    const timing = {
      tickMs: 50,
      heartbeatTicks: 2,
      electionTimeoutTicks: 10,
      suspectTicks: 20,
      readRoundTicks: 4,
      logRetainEntries: 50,
    }
    const make = (
      id: string,
      seed: number,
      snapshot: QuorumSnapshot | null,
      records: QuorumRecord[],
      facts: RecoveryFacts,
    ) => {
      const core = new QuorumReplica({id, peers: ids, rng: new Rng(seed), ...timing})
      core.restore(snapshot, records, facts)
      return core
    }
    const leaderOf = (r: Router<QuorumRecord, QuorumReplica>) =>
      [...r.cores.values()].find((c) => c.currentRole === 'leader' && c.serving)

    it('a brand-new cluster elects once every member has been heard; one member missing keeps it from electing', () => {
      const partial = new Router<QuorumRecord, QuorumReplica>()
      partial.add(make('n1', 1, null, [], EMPTY))
      partial.add(make('n2', 2, null, [], EMPTY))
      partial.run(300)
      expect(leaderOf(partial), 'no leader while n3 never started').to.equal(undefined)
      for (const c of partial.cores.values()) expect(c.isLearner).to.equal(true)
      const r = new Router<QuorumRecord, QuorumReplica>()
      for (const [i, id] of ids.entries()) r.add(make(id, i + 1, null, [], EMPTY))
      r.run(300, () => leaderOf(r) !== undefined)
      expect(leaderOf(r)).to.not.equal(undefined)
      for (const c of r.cores.values()) expect(c.isLearner).to.equal(false)
    })

    it('a replica that lost data never votes until it caught up with a leader elected without it', () => {
      const r = new Router<QuorumRecord, QuorumReplica>()
      for (const [i, id] of ids.entries()) r.add(make(id, i + 1, null, [], WHOLE))
      r.run(300, () => leaderOf(r) !== undefined)
      const leader = leaderOf(r) as QuorumReplica
      const victim = ids.find((id) => id !== leader.id) as string
      for (let i = 0; i < 5; i++)
        r.send(leader.id, {type: 'client.put', id: `w${i}`, replyTo: 'c', key: `k${i}`, value: 'v', timeoutMs: 5000})
      r.run(20)
      // The victim comes back with nothing but a stale term record: a learner.
      r.remove(victim)
      const lost = make(victim, 77, null, [{t: 'term', term: 1, vote: null}], LOSS)
      r.add(lost)
      expect(lost.isLearner).to.equal(true)
      expect(lost.status().recovering).to.equal(true)
      // It refuses a vote even to a candidate whose log is better than its own.
      const before = r.persisted.get(victim)?.length ?? 0
      const votes: object[] = []
      const out = lost.step({type: 'ELECTION', from: leader.id, term: 50, lastLogIndex: 100, lastLogTerm: 49})
      for (const s of out.send) votes.push(s.msg)
      expect(votes).to.deep.include({type: 'VOTE', from: victim, term: 50, granted: false})
      expect(out.persist.filter((p) => p.t === 'term' && p.vote !== null)).to.deep.equal([])
      expect(r.persisted.get(victim)?.length ?? 0).to.equal(before)
      // The cluster moves to term 50 and beyond; the learner catches up and votes again.
      r.run(600, () => r.recovered.has(victim))
      expect(r.recovered.has(victim), 'the learner finished').to.equal(true)
      expect(lost.isLearner).to.equal(false)
      const leaderNow = leaderOf(r) as QuorumReplica
      expect(lost.votedFor).to.equal(leaderNow.id)
      expect(lost.commit).to.be.at.least(6)
    })
  })
})
