/**
 * Proves the quorum mode's small pure rules: majority maths (NW, NR with NR + NW > N, majority of a
 * set, the index a majority holds, the tick by which a majority was heard), the Bully order of ids
 * (natural, so n10 outranks n9), who is more up to date, how a replica answers an ELECTION, how a
 * read round is decided, and the wire validator (it accepts what the core sends and refuses
 * malformed or dangerous input: bad ids and terms, entry runs with gaps or terms from the future,
 * oversized values, unknown types).
 *
 * How: direct calls over small tables and every member count up to the cluster limit.
 */
import {expect} from 'chai'
import {LIMITS} from '../../src/core/limits.js'
import {compareIds, outranks} from '../../src/quorum/bully-rank.js'
import {answerElection, atLeastAsUpToDate} from '../../src/quorum/election-rules.js'
import {
  hasMajority,
  majorityContactTick,
  majorityMatchIndex,
  readQuorum,
  writeQuorum,
} from '../../src/quorum/majority.js'
import {decideRead} from '../../src/quorum/read-round.js'
import {asQuorumPeerMessage} from '../../src/quorum/validate-messages.js'

describe('quorum majority maths', () => {
  it('NW is a majority and NR + NW > N for every cluster size, with NR as small as that allows', () => {
    for (let n = 1; n <= LIMITS.membersMax; n++) {
      const nw = writeQuorum(n)
      const nr = readQuorum(n)
      expect(2 * nw, `n=${n}`).to.be.greaterThan(n)
      expect(2 * (nw - 1), `n=${n}`).to.be.at.most(n)
      expect(nr + nw, `n=${n}`).to.be.greaterThan(n)
      expect(nr - 1 + nw, `n=${n}`).to.equal(n)
    }
    expect([writeQuorum(5), readQuorum(5), writeQuorum(4), readQuorum(4)]).to.deep.equal([3, 3, 3, 2])
  })

  it('counts only members, once each, towards a majority', () => {
    const members = ['n1', 'n2', 'n3', 'n4', 'n5']
    expect(hasMajority(['n1', 'n2'], members)).to.equal(false)
    expect(hasMajority(['n1', 'n2', 'n2', 'x9'], members)).to.equal(false)
    expect(hasMajority(['n1', 'n2', 'n5'], members)).to.equal(true)
  })

  it('finds the highest index a majority holds and the tick by which a majority was heard', () => {
    expect(majorityMatchIndex([9, 7, 7, 3, 0])).to.equal(7)
    expect(majorityMatchIndex([9, 8, 3, 3, 0])).to.equal(3)
    expect(majorityMatchIndex([4])).to.equal(4)
    expect(majorityContactTick([100, 99, 50, 10, 10])).to.equal(50)
  })
})

describe('Bully election rules', () => {
  it('orders ids naturally', () => {
    expect(['n10', 'n9', 'n1', 'n2', 'a', 'n01'].sort(compareIds)).to.deep.equal(['a', 'n1', 'n01', 'n2', 'n9', 'n10'])
    expect(outranks('n10', 'n9')).to.equal(true)
    expect(outranks('n2', 'n2')).to.equal(false)
  })

  it('compares logs by last term, then by length', () => {
    expect(atLeastAsUpToDate({lastLogTerm: 3, lastLogIndex: 1}, {lastLogTerm: 2, lastLogIndex: 9})).to.equal(true)
    expect(atLeastAsUpToDate({lastLogTerm: 2, lastLogIndex: 5}, {lastLogTerm: 2, lastLogIndex: 5})).to.equal(true)
    expect(atLeastAsUpToDate({lastLogTerm: 2, lastLogIndex: 4}, {lastLogTerm: 2, lastLogIndex: 5})).to.equal(false)
  })

  it('answers an ELECTION: OK from a free, eligible, higher replica; a vote only for an up-to-date log, once', () => {
    const log = {lastLogTerm: 2, lastLogIndex: 5}
    const behind = {lastLogTerm: 2, lastLogIndex: 4}
    const ahead = {lastLogTerm: 3, lastLogIndex: 1}
    const me = (votedFor: string | null) => ({id: 'n3', votedFor, ...log})
    expect(answerElection(me(null), 'n1', log)).to.equal('ok-and-stand')
    expect(answerElection(me('n3'), 'n1', log)).to.equal('ok')
    expect(answerElection(me(null), 'n1', ahead)).to.equal('grant') // it could not win against that log
    expect(answerElection(me('n2'), 'n1', log)).to.equal('deny') // gave its vote; standing would not help
    expect(answerElection(me(null), 'n5', log)).to.equal('grant')
    expect(answerElection(me(null), 'n5', behind)).to.equal('deny')
    expect(answerElection(me('n4'), 'n5', ahead)).to.equal('deny')
    expect(answerElection(me('n5'), 'n5', log)).to.equal('grant')
  })
})

describe('deciding a read round', () => {
  const v = (index: number, value: string | null = `v${index}`) => ({value, version: {term: 1, index}})

  it('takes the highest version among replicas that applied up to the read index, ignoring the rest', () => {
    expect(
      decideRead(
        [
          {from: 'a', appliedIndex: 9, state: v(8)},
          {from: 'b', appliedIndex: 12, state: v(11)},
          {from: 'c', appliedIndex: 4, state: v(3)},
        ],
        9,
      ),
    ).to.deep.equal({state: v(11)})
    // A lagging replica with a different (older) answer does not count, and cannot win.
    expect(
      decideRead(
        [
          {from: 'a', appliedIndex: 10, state: v(5)},
          {from: 'c', appliedIndex: 2, state: null},
        ],
        10,
      ),
    ).to.deep.equal({state: v(5)})
    expect(decideRead([{from: 'a', appliedIndex: 10, state: null}], 10)).to.deep.equal({state: null})
  })

  it('goes on when nobody applied up to the read index', () => {
    expect(decideRead([{from: 'a', appliedIndex: 8, state: v(8)}], 9)).to.equal(undefined)
    expect(decideRead([], 0)).to.equal(undefined)
  })
})

describe('quorum wire validation', () => {
  const append = {
    type: 'APPEND',
    from: 'n1',
    term: 3,
    prevIndex: 4,
    prevTerm: 2,
    leaderCommit: 4,
    seq: 0,
    entries: [
      {term: 3, index: 5, cmd: {key: 'k', value: 'v'}},
      {term: 3, index: 6, cmd: null},
    ],
  }

  it('accepts well-formed messages of every type', () => {
    const ok = [
      append,
      {type: 'ELECTION', from: 'n1', term: 1, lastLogIndex: 0, lastLogTerm: 0},
      {type: 'OK', from: 'n5', term: 1},
      {type: 'VOTE', from: 'n2', term: 1, granted: true},
      {type: 'COORDINATOR', from: 'n5', term: 1},
      {type: 'APPEND_ACK', from: 'n2', term: 1, success: false, matchIndex: 0, seq: 3},
      {type: 'COMMIT', from: 'n5', term: 1, commitIndex: 7},
      {type: 'FORWARD', from: 'n2', term: 1, fid: 'n2.x.1', key: 'k', value: null, timeoutTicks: 10},
      {type: 'FORWARD_REPLY', from: 'n5', term: 1, fid: 'f', ok: true, leader: 'n5', version: {term: 1, index: 2}},
      {type: 'FORWARD_REPLY', from: 'n5', term: 1, fid: 'f', ok: false, error: {code: 'NO_QUORUM', message: 'no'}},
      {type: 'READ_INDEX', from: 'n2', term: 1, rid: 'r'},
      {type: 'READ_INDEX_REPLY', from: 'n5', term: 1, rid: 'r', readIndex: null},
      {type: 'READ_STATE', from: 'n2', term: 1, rid: 'r', round: 1, key: 'k'},
      {
        type: 'READ_STATE_REPLY',
        from: 'n3',
        term: 1,
        rid: 'r',
        round: 1,
        key: 'k',
        appliedIndex: 3,
        state: {value: null, version: {term: 1, index: 2}},
      },
      {
        type: 'INSTALL_SNAPSHOT',
        from: 'n5',
        term: 2,
        index: 9,
        snapshotTerm: 1,
        seq: 0,
        keys: [['k', {value: 'v', version: {term: 1, index: 3}}]],
        done: true,
      },
      {type: 'INSTALL_SNAPSHOT_ACK', from: 'n2', term: 2, index: 9, seq: -1, done: false},
    ]
    for (const m of ok) expect(asQuorumPeerMessage(m), m.type).to.not.equal(null)
  })

  it('refuses bad ids, terms and types, broken entry runs, future terms and oversized values', () => {
    const bad: Record<string, unknown>[] = [
      {...append, from: 'n 1'},
      {...append, term: -1},
      {...append, term: 1.5},
      {...append, type: 'APPEND2'},
      {...append, entries: [{term: 3, index: 6, cmd: null}]}, // gap after prevIndex
      {
        ...append,
        entries: [
          {term: 3, index: 5, cmd: null},
          {term: 2, index: 6, cmd: null},
        ],
      }, // falling term
      {...append, entries: [{term: 4, index: 5, cmd: null}]}, // a term after the sender's
      {...append, entries: [{term: 1, index: 5, cmd: null}]}, // older than the entry it follows
      {...append, entries: [{term: 3, index: 5, cmd: {key: '', value: 'v'}}]},
      {...append, entries: [{term: 3, index: 5, cmd: {key: 'k', value: 'x'.repeat(LIMITS.valueBytesMax + 1)}}]},
      {...append, alive: ['n1', 'bad id']},
      {type: 'VOTE', from: 'n2', term: 1, granted: 'yes'},
      {type: 'FORWARD_REPLY', from: 'n5', term: 1, fid: 'f', ok: false, error: {code: 'OOPS', message: 'x'}},
      {
        type: 'INSTALL_SNAPSHOT',
        from: 'n5',
        term: 2,
        index: 9,
        snapshotTerm: 1,
        seq: 0,
        keys: [['k', {value: 'v'}]],
        done: true,
      },
      {type: 'INSTALL_SNAPSHOT_ACK', from: 'n2', term: 2, index: 9, seq: -2, done: false},
    ]
    for (const m of bad) expect(asQuorumPeerMessage(m), JSON.stringify(m).slice(0, 120)).to.equal(null)
  })
})
