/**
 * The quorum safety checker on hand-made replica views. Pins the first bug the simulator found (in
 * the checker, quorum seeds 1022, 1290, 1374, 1673, 1734): a leader of an *older* term, elected late
 * from delayed votes after a later term had committed entries, was reported as losing them. Raft's
 * leader completeness only binds leaders of later terms; a late old-term leader is legal and cannot
 * commit. The checker must still flag a later-term leader that lacks a committed entry, two leaders
 * in one term, and two different entries committed at one index.
 */
import {expect} from 'chai'
import {QuorumSafetyChecker, type QuorumView} from '../../src/check/quorum-safety.js'
import type {KeyVersion, LogEntry, QuorumRole} from '../../src/quorum/types.js'

function view(id: string, role: QuorumRole, term: number, log: LogEntry[], commit: number): QuorumView {
  return {
    id,
    currentRole: role,
    currentTerm: term,
    commit,
    applied: commit,
    logBase: 0,
    entryAt: (i) => log[i - 1],
    termAt: (i) => (i === 0 ? 0 : log[i - 1]?.term),
    appliedState: (): [string, KeyVersion][] => [],
  }
}

const entry = (term: number, index: number, value: string): LogEntry => ({term, index, cmd: {key: 'k', value}})

describe('quorum safety checker', () => {
  it('accepts a late leader of an older term that lacks entries a later term committed', () => {
    const c = new QuorumSafetyChecker(() => 'test')
    c.observe(view('n1', 'leader', 3, [entry(3, 1, 'a')], 1))
    c.observe(view('n5', 'leader', 2, [], 0)) // votes for term 2 arrived late
    expect(c.violations).to.deep.equal([])
  })

  it('flags a leader of a later term that lacks a committed entry', () => {
    const c = new QuorumSafetyChecker(() => 'test')
    c.observe(view('n1', 'leader', 3, [entry(3, 1, 'a')], 1))
    c.observe(view('n2', 'leader', 4, [], 0))
    expect(c.violations).to.have.length(1)
    expect(c.violations[0]).to.include('new leader n2 of term 4 lacks committed entry 1')
  })

  it('flags two leaders in one term', () => {
    const c = new QuorumSafetyChecker(() => 'test')
    c.observe(view('n1', 'leader', 2, [], 0))
    c.observe(view('n2', 'leader', 2, [], 0))
    expect(c.violations[0]).to.include('two leaders in term 2: n1 and n2')
  })

  it('flags two different entries committed at one index', () => {
    const c = new QuorumSafetyChecker(() => 'test')
    c.observe(view('n1', 'follower', 2, [entry(2, 1, 'a')], 1))
    c.observe(view('n2', 'follower', 2, [entry(2, 1, 'b')], 1))
    expect(c.violations[0]).to.include('n2 committed')
  })
})
