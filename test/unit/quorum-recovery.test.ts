/**
 * Rebuilding a quorum replica's state after its disk lost records (src/quorum/recovery.ts): no
 * surviving `commit` record is believed, because the records it covered may be the lost ones. Pins
 * simulator seed 519: an older snapshot came back, the log after the gap said "commit 14", the
 * surviving entry 14 was a term-3 leftover that a term-5 leader had replaced, and the replica applied it.
 */
import {expect} from 'chai'
import {recover} from '../../src/quorum/recovery.js'
import type {QuorumRecord, QuorumSnapshot} from '../../src/quorum/records.js'
import type {LogEntry} from '../../src/quorum/types.js'

const entry = (index: number, term: number): LogEntry => ({index, term, cmd: {key: `k${index}`, value: `v${term}`}})

/** Applied up to 10, committed up to 10; entries 11..14 of term 3 not committed yet. */
const snapshot: QuorumSnapshot = {
  mode: 'quorum',
  id: 'n4',
  term: 3,
  vote: 'n1',
  commitIndex: 10,
  lastIncludedIndex: 10,
  lastIncludedTerm: 3,
  keys: [],
  tail: [11, 12, 13, 14].map((i) => entry(i, 3)),
}
/** What survived after the gap: the commit record written once a term-5 leader's entry 14 committed. */
const afterGap: QuorumRecord[] = [
  {t: 'term', term: 5, vote: null},
  {t: 'commit', index: 14},
]

describe('quorum recovery after lost records', () => {
  it('believes no surviving commit record: the commit index goes back to what the snapshot applied', () => {
    const r = recover(snapshot, afterGap, true)
    expect(r.commitIndex).to.equal(10)
    expect(r.log.termAt(14), 'the leftover is still there, for the leader to replace').to.equal(3)
  })

  it('on a whole disk the same records are believed', () => {
    expect(recover(snapshot, afterGap, false).commitIndex).to.equal(14)
  })

  it('without a snapshot, nothing is known committed', () => {
    const records: QuorumRecord[] = [
      {t: 'entries', entries: [entry(1, 1), entry(2, 1)]},
      {t: 'commit', index: 2},
    ]
    expect(recover(null, records, true).commitIndex).to.equal(0)
    expect(recover(null, records, false).commitIndex).to.equal(2)
  })
})
