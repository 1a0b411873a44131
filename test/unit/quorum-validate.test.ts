/**
 * The schema check of batched read rounds (READ_STATES / READ_STATES_REPLY), which a replica's reads
 * of one burst now send each peer in one message: well-formed ones pass; empty, oversized or
 * malformed lists, bad ids, keys, counters and states are dropped before the core sees them.
 */
import {expect} from 'chai'
import {asQuorumPeerMessage} from '../../src/quorum/validate-messages.js'

const base = {from: 'n1', term: 3}
const reqs = (list: unknown) => ({...base, type: 'READ_STATES', reqs: list})
const resps = (list: unknown) => ({...base, type: 'READ_STATES_REPLY', resps: list})
const state = {value: 'v', version: {term: 2, index: 7}}

describe('quorum message schema: batched read rounds', () => {
  it('accepts well-formed batches', () => {
    expect(asQuorumPeerMessage(reqs([{rid: 'r1', round: 1, key: 'a'}]))).to.not.equal(null)
    expect(
      asQuorumPeerMessage(
        resps([
          {rid: 'r1', round: 1, key: 'a', appliedIndex: 7, state},
          {rid: 'r2', round: 2, key: 'b', appliedIndex: 7, state: null},
        ]),
      ),
    ).to.not.equal(null)
  })

  it('drops empty, oversized and malformed batches', () => {
    const many = Array.from({length: 1025}, (_, i) => ({rid: `r${i}`, round: 1, key: 'k'}))
    for (const bad of [
      reqs([]),
      reqs(many),
      reqs({rid: 'r1'}),
      reqs([{rid: '', round: 1, key: 'a'}]),
      reqs([{rid: 'r1', round: -1, key: 'a'}]),
      reqs([{rid: 'r1', round: 1, key: ''}]),
      resps([]),
      resps([{rid: 'r1', round: 1, key: 'a', appliedIndex: 7}]),
      resps([{rid: 'r1', round: 1, key: 'a', appliedIndex: 1.5, state: null}]),
      resps([{rid: 'r1', round: 1, key: 'a', appliedIndex: 7, state: {value: 5, version: {term: 1, index: 1}}}]),
      {...reqs([{rid: 'r1', round: 1, key: 'a'}]), term: 'x'},
    ]) {
      expect(asQuorumPeerMessage(bad), JSON.stringify(bad).slice(0, 120)).to.equal(null)
    }
  })
})
