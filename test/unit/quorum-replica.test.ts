/**
 * Proves the quorum replica's protocol rules one message at a time: a replica runs only after an
 * election timeout and persists its term and self-vote in the Output that broadcasts ELECTION; it
 * votes once per term, only for a log at least as up to date, and persists the vote with the VOTE;
 * the Bully rules (the highest replica answers a lower candidate with OK and runs at once, a middle
 * one waits its rank's turn and votes for a higher candidate that runs first, a candidate that gets
 * OK stands down); a follower of a live leader ignores later-term candidates; older-term messages
 * are refused with the current term; a leader commits an older term's entry only through one of its
 * own (Raft §5.4.2); a read index waits for a majority to ack a heartbeat sent after the read; a
 * leader without a majority steps down; a duplicated FORWARD is appended once; NO_QUORUM and
 * snapshot installs persist what they must before answering.
 *
 * How: one QuorumReplica driven directly with hand-built messages and ticks; each Output is inspected
 * (records to persist, messages and their destinations), as the driver would see it.
 */
import {expect} from 'chai'
import type {Output, Outgoing} from '../../src/core/machine.js'
import {Rng} from '../../src/core/rng.js'
import type {QuorumPeerMessage} from '../../src/quorum/messages.js'
import type {QuorumRecord} from '../../src/quorum/records.js'
import {QuorumReplica} from '../../src/quorum/replica.js'
import type {LogEntry} from '../../src/quorum/types.js'
import {TEST_TIMING} from './quorum-net.js'

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5']
const E = TEST_TIMING.electionTimeoutTicks

function replica(id: string, records: QuorumRecord[] = [], seed = 1): QuorumReplica {
  const r = new QuorumReplica({id, peers: IDS, rng: new Rng(seed), ...TEST_TIMING})
  r.restore(null, records)
  return r
}

type Msg = Record<string, unknown> & {type: string}

function sent(out: Output<QuorumRecord>, type: string): (Outgoing & {msg: Msg})[] {
  return out.send.filter((s) => (s.msg as Msg).type === type) as (Outgoing & {msg: Msg})[]
}

/** Tick until an Output broadcasts ELECTION; returns it and the ticks taken. */
function tickUntilElection(r: QuorumReplica, max = 4 * E): {out: Output<QuorumRecord>; ticks: number} {
  for (let t = 1; t <= max; t++) {
    const out = r.tick()
    if (sent(out, 'ELECTION').length) return {out, ticks: t}
  }
  throw new Error(`${r.id} did not run within ${max} ticks`)
}

function election(from: string, term: number, lastLogIndex = 0, lastLogTerm = 0): QuorumPeerMessage {
  return {type: 'ELECTION', from, term, lastLogIndex, lastLogTerm}
}

function entries(...terms: number[]): LogEntry[] {
  return terms.map((term, i) => ({term, index: i + 1, cmd: {key: `k${i + 1}`, value: `v${i + 1}`}}))
}

/** A leader of `term` elected by n2 and n3 (and ready once its no-op is acked by them). */
function leader(id: string, records: QuorumRecord[] = [], ready = true): QuorumReplica {
  const r = replica(id, records)
  const {out} = tickUntilElection(r)
  const term = r.currentTerm
  expect(out.persist).to.deep.include({t: 'term', term, vote: id})
  const voters = IDS.filter((x) => x !== id).slice(0, 2)
  for (const v of voters) r.step({type: 'VOTE', from: v, term, granted: true})
  expect(r.currentRole).to.equal('leader')
  if (ready) {
    for (const v of voters)
      r.step({type: 'APPEND_ACK', from: v, term, success: true, matchIndex: r.lastLogIndex, seq: 0})
    expect(r.serving).to.equal(true)
  }
  return r
}

describe('quorum replica protocol rules', () => {
  it('runs only after an election timeout, persisting its term and self-vote in the Output that broadcasts ELECTION', () => {
    const r = replica('n2')
    const {out, ticks} = tickUntilElection(r)
    expect(ticks).to.be.within(E, 2 * E - 1)
    expect(out.persist).to.deep.equal([{t: 'term', term: 1, vote: 'n2'}])
    const [e] = sent(out, 'ELECTION')
    expect(e?.to).to.deep.equal({kind: 'topic', topic: 'election'})
    expect(e?.msg).to.deep.include({from: 'n2', term: 1, lastLogIndex: 0, lastLogTerm: 0})
    expect(r.currentRole).to.equal('candidate')
  })

  it('votes once per term, only for a log at least as up to date as its own, and persists the vote with the VOTE', () => {
    const r = replica('n1', [
      {t: 'term', term: 1, vote: null},
      {t: 'entries', entries: entries(1, 1)},
    ])
    // Behind: shorter log of the same last term.
    let out = r.step(election('n3', 2, 1, 1))
    expect(sent(out, 'VOTE')[0]?.msg).to.deep.include({term: 2, granted: false})
    expect(out.persist).to.deep.equal([{t: 'term', term: 2, vote: null}])
    out = r.step(election('n4', 2, 2, 1))
    expect(out.persist).to.deep.equal([{t: 'term', term: 2, vote: 'n4'}])
    expect(sent(out, 'VOTE')[0]).to.deep.include({to: {kind: 'node', id: 'n4'}})
    expect(sent(out, 'VOTE')[0]?.msg).to.deep.include({term: 2, granted: true})
    // A second candidate in the same term, even one with a longer log, is refused.
    out = r.step(election('n5', 2, 9, 1))
    expect(sent(out, 'VOTE')[0]?.msg).to.deep.include({granted: false})
    expect(out.persist).to.deep.equal([])
    // The same candidate asking again gets the same answer (a duplicated ELECTION).
    expect(sent(r.step(election('n4', 2, 2, 1)), 'VOTE')[0]?.msg).to.deep.include({granted: true})
    expect(r.votedFor).to.equal('n4')
  })

  it('Bully: the highest replica answers a lower candidate with OK and runs at once', () => {
    const r = replica('n5')
    const out = r.step(election('n1', 1))
    expect(sent(out, 'OK')[0]).to.deep.include({to: {kind: 'node', id: 'n1'}})
    expect(sent(out, 'VOTE')).to.deep.equal([])
    expect(sent(out, 'ELECTION')[0]?.msg).to.deep.include({from: 'n5', term: 2})
    expect(out.persist).to.deep.include({t: 'term', term: 2, vote: 'n5'})
  })

  it('Bully: a replica whose log is behind the candidate votes for it instead of answering OK', () => {
    const r = replica('n5')
    const out = r.step(election('n1', 2, 3, 1))
    expect(sent(out, 'OK')).to.deep.equal([])
    expect(sent(out, 'VOTE')[0]?.msg).to.deep.include({granted: true})
  })

  it('Bully: a middle replica answers OK, waits its rank, and votes for a higher candidate that runs first', () => {
    const r = replica('n3')
    let out = r.step(election('n1', 1))
    expect(sent(out, 'OK').length).to.equal(1)
    expect(sent(out, 'ELECTION')).to.deep.equal([])
    out = r.step(election('n5', 2))
    expect(sent(out, 'VOTE')[0]?.msg).to.deep.include({term: 2, granted: true})
    for (let t = 0; t < E - 1; t++) expect(sent(r.tick(), 'ELECTION'), `tick ${t}`).to.deep.equal([])

    // Nobody higher runs: after its turn (two replicas outrank it) it runs itself.
    const alone = replica('n3')
    alone.step(election('n1', 1))
    expect(sent(alone.tick(), 'ELECTION')).to.deep.equal([])
    expect(sent(alone.tick(), 'ELECTION')[0]?.msg).to.deep.include({from: 'n3', term: 2})
  })

  it('Bully: a candidate that gets OK stands down and waits for a COORDINATOR before running again', () => {
    const r = replica('n1')
    tickUntilElection(r)
    r.step({type: 'OK', from: 'n4', term: 1})
    expect(r.currentRole).to.equal('follower')
    for (let t = 0; t < 2 * E; t++) expect(sent(r.tick(), 'ELECTION'), `tick ${t}`).to.deep.equal([])
    r.step({type: 'COORDINATOR', from: 'n4', term: 2})
    expect(r.knownLeader).to.equal('n4')
    expect(r.currentTerm).to.equal(2)
  })

  it('a follower of a live leader ignores a candidate of a later term; an older-term message is answered with the current term', () => {
    const r = replica('n2')
    r.step({type: 'APPEND', from: 'n5', term: 3, prevIndex: 0, prevTerm: 0, entries: [], leaderCommit: 0, seq: 0})
    const out = r.step(election('n1', 7, 5, 5))
    expect(out.send).to.deep.equal([])
    expect(out.persist).to.deep.equal([])
    expect(r.currentTerm).to.equal(3)
    const stale = r.step({
      type: 'APPEND',
      from: 'n4',
      term: 2,
      prevIndex: 0,
      prevTerm: 0,
      entries: entries(2),
      leaderCommit: 0,
      seq: 0,
    })
    expect(stale.persist).to.deep.equal([])
    expect(sent(stale, 'APPEND_ACK')[0]?.msg).to.deep.include({term: 3, success: false})
    expect(r.lastLogIndex).to.equal(0)
  })

  it('a follower persists appended entries before acking, drops a conflicting uncommitted suffix, and hints where to resume', () => {
    const r = replica('n2', [
      {t: 'term', term: 2, vote: null},
      {t: 'entries', entries: entries(1, 1, 2, 2)},
      {t: 'commit', index: 2},
    ])
    const base = {type: 'APPEND', from: 'n5', term: 3, leaderCommit: 2, seq: 0} as const
    // The leader's entry 3 is of term 3: ours at 3 and 4 (term 2) conflict and are not committed.
    let out = r.step({...base, prevIndex: 3, prevTerm: 3, entries: []})
    expect(sent(out, 'APPEND_ACK')[0]?.msg).to.deep.include({success: false, matchIndex: 2})
    const fresh: LogEntry = {term: 3, index: 3, cmd: {key: 'x', value: 'y'}}
    out = r.step({...base, prevIndex: 2, prevTerm: 1, entries: [fresh]})
    expect(out.persist).to.deep.equal([
      {t: 'truncate', from: 3},
      {t: 'entries', entries: [fresh]},
    ])
    expect(sent(out, 'APPEND_ACK')[0]?.msg).to.deep.include({success: true, matchIndex: 3})
    expect(r.lastLogIndex).to.equal(3)
    // A duplicate changes nothing and persists nothing.
    out = r.step({...base, prevIndex: 2, prevTerm: 1, entries: [fresh]})
    expect(out.persist).to.deep.equal([])
  })

  it("a leader commits an older term's entry only together with one of its own term (Raft §5.4.2)", () => {
    const r = leader(
      'n1',
      [
        {t: 'term', term: 2, vote: null},
        {t: 'entries', entries: entries(1, 2)},
      ],
      false,
    )
    const term = r.currentTerm
    expect(r.lastLogIndex).to.equal(3) // the no-op of its term
    r.step({type: 'APPEND_ACK', from: 'n2', term, success: true, matchIndex: 2, seq: 0})
    r.step({type: 'APPEND_ACK', from: 'n3', term, success: true, matchIndex: 2, seq: 0})
    expect(r.commit, 'entry 2 is on a majority but of term 2').to.equal(0)
    r.step({type: 'APPEND_ACK', from: 'n2', term, success: true, matchIndex: 3, seq: 0})
    expect(r.commit).to.equal(0)
    const out = r.step({type: 'APPEND_ACK', from: 'n3', term, success: true, matchIndex: 3, seq: 0})
    expect(r.commit).to.equal(3)
    // written soon, not waited for: the reply needs the entries durable on a majority, not the index
    expect(out.persist).to.deep.equal([])
    expect(out.persistSoon).to.deep.equal([{t: 'commit', index: 3}])
    expect(r.serving).to.equal(true)
    expect(sent(r.flush(), 'COMMIT')[0]).to.deep.include({to: {kind: 'topic', topic: 'commit'}})
  })

  it('gives a read index only after a majority acked a heartbeat sent after the read arrived', () => {
    const r = leader('n1')
    const term = r.currentTerm
    let out = r.step({type: 'READ_INDEX', from: 'n4', term, rid: 'r1'})
    expect(sent(out, 'READ_INDEX_REPLY')).to.deep.equal([])
    // APPENDs that go out before the read's heartbeat round (here, resends after failed acks) are
    // acked in turn, but they carry the previous round's number, so they confirm nothing new.
    for (const f of ['n2', 'n3']) {
      const resend = sent(
        r.step({type: 'APPEND_ACK', from: f, term, success: false, matchIndex: 0, seq: 0}),
        'APPEND',
      )[0]
      expect(resend?.msg.seq, 'a resend before the round').to.equal(0)
      out = r.step({
        type: 'APPEND_ACK',
        from: f,
        term,
        success: true,
        matchIndex: r.lastLogIndex,
        seq: resend?.msg.seq as number,
      })
    }
    expect(sent(out, 'READ_INDEX_REPLY')).to.deep.equal([])
    const beats = sent(r.flush(), 'APPEND')
    expect(beats.length).to.equal(4)
    const seq = beats[0]?.msg.seq as number
    expect(seq).to.be.greaterThan(0)
    out = r.step({type: 'APPEND_ACK', from: 'n2', term, success: true, matchIndex: r.lastLogIndex, seq})
    expect(sent(out, 'READ_INDEX_REPLY')).to.deep.equal([])
    out = r.step({type: 'APPEND_ACK', from: 'n5', term, success: false, matchIndex: 0, seq})
    expect(sent(out, 'READ_INDEX_REPLY')[0]).to.deep.include({to: {kind: 'node', id: 'n4'}})
    expect(sent(out, 'READ_INDEX_REPLY')[0]?.msg).to.deep.include({rid: 'r1', readIndex: r.commit})
  })

  it('a leader that hears no majority for an election timeout steps down', () => {
    const r = leader('n1')
    let ticks = 0
    while (r.currentRole === 'leader' && ticks < 5 * E) {
      r.tick()
      ticks++
    }
    expect(r.currentRole).to.equal('follower')
    expect(ticks).to.be.within(E, 2 * E + 1)
  })

  it('appends a duplicated FORWARD once, and refuses with NO_QUORUM without appending when followers are silent', () => {
    const r = leader('n1')
    const term = r.currentTerm
    const last = r.lastLogIndex
    const fwd = {type: 'FORWARD', from: 'n2', term, fid: 'f1', key: 'k', value: 'v', timeoutTicks: 20} as const
    r.step(fwd)
    r.step(fwd)
    expect(r.lastLogIndex).to.equal(last + 1)
    // Keep n2 talking, let the others fall silent past the leader's suspicion time.
    for (let t = 0; t < E / 2 + 1; t++) {
      r.tick()
      r.step({type: 'APPEND_ACK', from: 'n2', term, success: true, matchIndex: r.lastLogIndex, seq: 0})
    }
    const out = r.step({...fwd, fid: 'f2', value: 'w'})
    expect(out.persist).to.deep.equal([])
    expect(r.lastLogIndex).to.equal(last + 1)
    expect(sent(out, 'FORWARD_REPLY')[0]?.msg).to.deep.include({fid: 'f2', ok: false})
    expect((sent(out, 'FORWARD_REPLY')[0]?.msg.error as {code: string}).code).to.equal('NO_QUORUM')
  })

  it('installs a snapshot durably (begin, keys, end in one Output) before acking it', () => {
    const r = replica('n2')
    const keys: [string, {value: string; version: {term: number; index: number}}][] = [
      ['a', {value: '1', version: {term: 1, index: 7}}],
    ]
    const out = r.step({
      type: 'INSTALL_SNAPSHOT',
      from: 'n5',
      term: 2,
      index: 9,
      snapshotTerm: 1,
      seq: 0,
      keys,
      done: true,
    })
    expect(out.persist.map((p) => p.t)).to.deep.equal(['term', 'install.begin', 'install.keys', 'install.end'])
    expect(sent(out, 'INSTALL_SNAPSHOT_ACK')[0]?.msg).to.deep.include({index: 9, done: true})
    expect(r.applied).to.equal(9)
    expect(r.stateOf('a')?.value).to.equal('1')
    // A restart from those records gives the same state.
    const again = replica('n2', out.persist)
    expect(again.applied).to.equal(9)
    expect(again.appliedState()).to.deep.equal(r.appliedState())
  })
})
