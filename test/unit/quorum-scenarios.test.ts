/**
 * Proves the quorum replica's behaviour in the scenarios of issue 3 and seed 002's driver, on five
 * replicas: a leader is elected within a bounded time (the highest id, when logs are equal and the
 * network is quiet); a write commits and a read returns it from every replica; with three of five
 * replicas down a write is refused with NO_QUORUM and the value never appears after they return;
 * after a leader crash a new leader serves and writes continue; a returning old leader follows; a
 * leader cut off in a minority cannot commit, the majority elects and commits, and after healing the
 * minority's uncommitted entries are gone; when every replica crashes, every committed write
 * survives; a replica too far behind catches up by snapshot; deletes, missing keys and bad input get
 * the contract's answers.
 *
 * How: the seeded in-memory network of quorum-net.ts, mostly without loss so each step's outcome is
 * exact; timing bounds are in ticks of TEST_TIMING. The QuorumSafetyChecker runs throughout and must end
 * with no violation.
 */
import {expect} from 'chai'
import type {ClientReply, NodeStatus, PutResultQuorum, ReadResult} from '../../src/core/client-messages.js'
import type {QuorumReplica} from '../../src/quorum/replica.js'
import {QuorumNet, TEST_TIMING} from './quorum-net.js'

const E = TEST_TIMING.electionTimeoutTicks
/** Bound on electing a leader that serves: a few election rounds. */
const ELECTION_TICKS_MAX = 8 * E

function elect(net: QuorumNet): QuorumReplica {
  net.runUntil('serving leader', () => net.servingLeader() !== undefined, ELECTION_TICKS_MAX)
  return net.servingLeader() as QuorumReplica
}

function okPut(net: QuorumNet, node: string, key: string, value: string | null): PutResultQuorum {
  const reply = net.await(net.put(node, key, value))
  expect(reply.ok, JSON.stringify(reply)).to.equal(true)
  return (reply as {result: PutResultQuorum}).result
}

function readAt(net: QuorumNet, node: string, key: string): ReadResult {
  const reply = net.await(net.read(node, key))
  expect(reply.ok, JSON.stringify(reply)).to.equal(true)
  return (reply as {result: ReadResult}).result
}

function errorCode(reply: ClientReply): string | undefined {
  return reply.ok ? undefined : reply.error.code
}

function expectSafe(net: QuorumNet): void {
  net.checker.checkAppliedStates(net.up())
  expect(net.checker.violations).to.deep.equal([])
  expect(net.invalid, 'messages failing validation').to.equal(0)
}

describe('quorum replica scenarios', () => {
  it('elects one leader within a bounded time, the highest id when logs are equal and the network is quiet', () => {
    let highest = 0
    const seeds = 40
    for (let seed = 1; seed <= seeds; seed++) {
      const net = new QuorumNet(seed)
      const leader = elect(net)
      expect(
        net.leaders().map((r) => r.id),
        `seed ${seed}`,
      ).to.deep.equal([leader.id])
      if (leader.id === 'n5') highest++
      // Everyone learns it from the heartbeats.
      net.run(TEST_TIMING.heartbeatTicks + 1)
      for (const r of net.up()) expect(r.knownLeader, `seed ${seed} ${r.id}`).to.equal(leader.id)
      expectSafe(net)
    }
    // Bully: lower candidates get OK and stand down; an even split can rarely hand it to another.
    expect(highest).to.be.greaterThan(seeds * 0.9)
  })

  it("seed 002's driver: a write commits with a quorum and a read returns it from every replica", () => {
    const net = new QuorumNet(2)
    const leader = elect(net)
    const follower = net.ids.find((id) => id !== leader.id) as string
    const put = okPut(net, follower, 'color', 'blue')
    expect(put).to.include({key: 'color', node: follower, leader: leader.id})
    expect(put.version.term).to.equal(leader.currentTerm)
    for (const id of net.ids) {
      const read = readAt(net, id, 'color')
      expect(read).to.deep.include({
        key: 'color',
        node: id,
        found: true,
        conflict: false,
        values: [{value: 'blue', version: put.version}],
      })
      expect(read.context).to.equal(`q1.${put.version.term}.${put.version.index}`)
      expect(read.replicas?.wanted).to.equal(3) // NR = N - NW + 1
    }
    // Committed means on a majority's disk, and COMMIT brings every replica to apply it.
    net.run(2 * TEST_TIMING.heartbeatTicks)
    for (const r of net.up()) expect(r.stateOf('color')?.value, r.id).to.equal('blue')
    expectSafe(net)
  })

  for (const leaderDown of [true, false]) {
    it(`with three of five replicas down (${leaderDown ? 'the leader among them' : 'the leader still up'}) a write gets NO_QUORUM and never appears`, () => {
      const net = new QuorumNet(3)
      const leader = elect(net)
      okPut(net, leader.id, 'k', 'before')
      const others = net.ids.filter((id) => id !== leader.id)
      const down = leaderDown ? [leader.id, ...others.slice(0, 2)] : others.slice(0, 3)
      for (const id of down) net.crash(id)
      if (!leaderDown) {
        // The leader hears every follower each heartbeat, so it refuses before it steps down.
        net.run(E / 2 + 1)
        expect(net.replica(leader.id).currentRole).to.equal('leader')
        const reply = net.await(net.put(leader.id, 'k', 'refused-by-leader'))
        expect(errorCode(reply), JSON.stringify(reply)).to.equal('NO_QUORUM')
        expect(net.checker.everWritten.has('refused-by-leader')).to.equal(false)
      }
      // Give the failure detector its suspect time (and the survivors their election attempts).
      net.run(TEST_TIMING.suspectTicks + 2 * E)
      const alive = net.ids.filter((id) => !down.includes(id))
      for (const id of alive) {
        const reply = net.await(net.put(id, 'k', `refused-${id}`))
        expect(errorCode(reply), JSON.stringify(reply)).to.equal('NO_QUORUM')
        expect((reply as {error: {message: string}}).error.message).to.match(/never will be/)
      }
      for (const id of down) net.restart(id)
      elect(net)
      net.run(4 * TEST_TIMING.heartbeatTicks)
      for (const id of net.ids) {
        const read = readAt(net, id, 'k')
        expect(
          read.values.map((v) => v.value),
          id,
        ).to.deep.equal(['before'])
      }
      for (const id of alive)
        expect(net.checker.everWritten.has(`refused-${id}`), 'a refused value reached a disk').to.equal(false)
      expectSafe(net)
    })
  }

  it('after the leader crashes a new leader serves within a few election timeouts and writes continue; the old leader returns as a follower', () => {
    for (const seed of [4, 5, 6, 7, 8]) {
      const net = new QuorumNet(seed)
      const old = elect(net)
      const first = okPut(net, old.id, 'k', 'one')
      net.crash(old.id)
      const ticks = net.runUntil('new leader', () => net.servingLeader() !== undefined, ELECTION_TICKS_MAX)
      expect(ticks, `seed ${seed}: ticks to a serving leader`).to.be.at.most(5 * E)
      const leader = net.servingLeader() as QuorumReplica
      expect(leader.currentTerm).to.be.greaterThan(first.version.term)
      const follower = net.ids.find((id) => id !== leader.id && id !== old.id) as string
      const second = okPut(net, follower, 'k', 'two')
      expect(second.leader).to.equal(leader.id)
      net.restart(old.id)
      net.run(3 * E)
      expect(
        net.leaders().map((r) => r.id),
        `seed ${seed}`,
      ).to.deep.equal([leader.id])
      expect(net.replica(old.id).knownLeader).to.equal(leader.id)
      expect(readAt(net, old.id, 'k').values[0]?.value).to.equal('two')
      expectSafe(net)
    }
  })

  it("a leader cut off in a minority cannot commit; the majority elects and commits; after healing the minority's uncommitted entries are gone", () => {
    const net = new QuorumNet(9)
    const old = elect(net)
    okPut(net, old.id, 'k', 'agreed')
    const minority = [old.id, net.ids.find((id) => id !== old.id) as string]
    const majority = net.ids.filter((id) => !minority.includes(id))
    net.partition([minority, majority])
    // Sent at once, while the old leader still believes it leads: appended there, never committed.
    const lost = [net.put(old.id, 'k', 'minority-1'), net.put(minority[1] as string, 'k', 'minority-2')]
    net.runUntil('a serving majority leader', () => majority.some((id) => net.replica(id).serving), ELECTION_TICKS_MAX)
    const leader = majority.find((id) => net.replica(id).serving) as string
    const committed = okPut(net, majority[0] as string, 'k', 'majority')
    expect(committed.leader).to.equal(leader)
    for (const id of lost) expect(errorCode(net.await(id)), id).to.equal('TIMEOUT')
    expect(net.checker.everWritten.has('minority-1'), 'the minority appended its write').to.equal(true)
    // Later writes in the minority are refused outright once it knows it is a minority.
    net.run(TEST_TIMING.suspectTicks)
    expect(errorCode(net.await(net.put(minority[1] as string, 'k', 'minority-3')))).to.equal('NO_QUORUM')
    expect(net.replica(old.id).currentRole).to.not.equal('leader')
    net.heal()
    net.run(3 * E)
    expect(net.leaders().map((r) => r.id)).to.deep.equal([leader])
    for (const r of net.up()) {
      const values = Array.from(
        {length: r.lastLogIndex - r.logBase},
        (_, i) => r.entryAt(r.logBase + 1 + i)?.cmd?.value,
      )
      expect(values, r.id).to.not.include('minority-1')
      expect(values, r.id).to.not.include('minority-2')
      expect(readAt(net, r.id, 'k').values[0]?.value).to.equal('majority')
    }
    expectSafe(net)
  })

  it('every committed write survives a crash of all replicas, with or without compaction', () => {
    const net = new QuorumNet(10)
    elect(net)
    const versions = new Map<string, PutResultQuorum>()
    for (let i = 0; i < 30; i++) versions.set(`k${i}`, okPut(net, net.ids[i % 5] as string, `k${i}`, `v${i}`))
    net.compact('n1')
    net.compact('n2', 3) // as after a crash between the snapshot rename and the log truncate
    for (const id of net.ids) net.crash(id)
    for (const id of net.ids) net.restart(id)
    // Every replica recovers what it had committed, before talking to anyone.
    for (const r of net.up()) expect(r.commit, r.id).to.be.at.least(1)
    elect(net)
    for (const [key, put] of versions) {
      const read = readAt(net, net.ids[put.version.index % 5] as string, key)
      expect(read.values, key).to.deep.equal([{value: `v${key.slice(1)}`, version: put.version}])
    }
    expectSafe(net)
  })

  it('a replica that missed more than the leader keeps in memory catches up by snapshot', () => {
    const net = new QuorumNet(11)
    const leader = elect(net)
    const lagging = net.ids.find((id) => id !== leader.id) as string
    net.crash(lagging)
    for (let i = 0; i < 4 * TEST_TIMING.logRetainEntries; i++) okPut(net, leader.id, `k${i % 7}`, `v${i}`)
    expect(leader.logBase, 'the leader forgot applied entries').to.be.greaterThan(0)
    net.restart(lagging)
    net.runUntil('catch-up', () => net.replica(lagging).applied === leader.commit, 10 * E)
    expect(net.disks.get(lagging)?.records.some((r) => r.t === 'install.end')).to.equal(true)
    expect(net.replica(lagging).appliedState().sort()).to.deep.equal(leader.appliedState().sort())
    expectSafe(net)
  })

  it('a replica cut off from the majority never serves a stale read', () => {
    const net = new QuorumNet(12)
    const leader = elect(net)
    okPut(net, leader.id, 'k', 'old')
    const cut = net.ids.find((id) => id !== leader.id) as string
    net.run(2 * TEST_TIMING.heartbeatTicks)
    net.partition([[cut], net.ids.filter((id) => id !== cut)])
    okPut(net, leader.id, 'k', 'new')
    const reply = net.await(net.read(cut, 'k'))
    expect(reply.ok, JSON.stringify(reply)).to.equal(false)
    expect(['NO_QUORUM', 'TIMEOUT']).to.include(errorCode(reply))
    net.heal()
    // Its higher term from the elections it ran alone costs one election once it is back.
    net.runUntil(
      'the cut-off replica to follow a leader',
      () => net.replica(cut).knownLeader !== null && net.servingLeader() !== undefined,
      ELECTION_TICKS_MAX,
    )
    expect(readAt(net, cut, 'k').values[0]?.value).to.equal('new')
    expectSafe(net)
  })

  it('deletes read as not found, missing keys too, and bad input is refused without writing', () => {
    const net = new QuorumNet(13)
    const leader = elect(net)
    okPut(net, 'n1', 'gone', 'here')
    const del = okPut(net, 'n2', 'gone', null)
    const read = readAt(net, 'n3', 'gone')
    expect(read).to.deep.include({found: false, conflict: false, values: []})
    expect(read.context).to.equal(`q1.${del.version.term}.${del.version.index}`)
    expect(readAt(net, 'n4', 'never')).to.deep.include({found: false, values: [], context: 'q1.0.0'})
    const last = leader.lastLogIndex
    expect(errorCode(net.await(net.put('n1', '', 'x')))).to.equal('BAD_REQUEST')
    expect(errorCode(net.await(net.put('n2', 'k', 'x'.repeat(1024 * 1024 + 1))))).to.equal('BAD_REQUEST')
    expect(errorCode(net.await(net.read('n3', '')))).to.equal('BAD_REQUEST')
    net.client('n1', {type: 'client.put', id: 'w0', replyTo: 'reply.w0', key: 'k', value: 'x', w: 9, timeoutMs: 1000})
    expect(errorCode(net.await('w0'))).to.equal('BAD_REQUEST')
    expect(leader.lastLogIndex, 'nothing was appended').to.equal(last)
    expectSafe(net)
  })

  it('reports role, term, commit index, leader and keys in status', () => {
    const net = new QuorumNet(14, 5)
    const leader = elect(net)
    okPut(net, 'n1', 'a', '1')
    okPut(net, 'n1', 'b', '2')
    okPut(net, 'n1', 'b', null)
    net.run(2 * TEST_TIMING.heartbeatTicks)
    for (const id of net.ids) {
      net.client(id, {type: 'client.status', id: `s-${id}`, replyTo: `reply.s-${id}`})
      const status = (net.await(`s-${id}`) as {result: NodeStatus}).result
      expect(status).to.deep.include({
        id,
        alive: true,
        mode: 'quorum',
        role: id === leader.id ? 'leader' : 'follower',
        term: leader.currentTerm,
        commitIndex: leader.commit,
        leader: leader.id,
        keys: 1,
      })
      expect(status.peersAlive).to.deep.equal(net.ids)
    }
  })
})
