/**
 * The schema check of batched reads (read.reqs / read.resps), the messages a coordinator and its
 * peers now exchange once per burst: well-formed ones pass; empty, oversized or malformed lists, bad
 * ids, bad keys and invalid sibling sets are dropped before the core sees them.
 */
import {expect} from 'chai'
import {LIMITS} from '../../src/core/limits.js'
import {asEventualPeerMessage} from '../../src/eventual/validate-messages.js'

const state = [{dot: {node: 'n1', counter: 1}, ctx: {}, value: 'v'}]
const reqs = (list: unknown) => ({type: 'read.reqs', from: 'n1', reqs: list})
const resps = (list: unknown) => ({type: 'read.resps', from: 'n2', resps: list})

describe('eventual message schema: batched reads', () => {
  it('accepts well-formed batches', () => {
    expect(
      asEventualPeerMessage(
        reqs([
          {id: 'r1', key: 'a'},
          {id: 'r2', key: 'b'},
        ]),
      ),
    ).to.not.equal(null)
    expect(
      asEventualPeerMessage(
        resps([
          {id: 'r1', key: 'a', siblings: state},
          {id: 'r2', key: 'b', siblings: []},
        ]),
      ),
    ).to.not.equal(null)
  })

  it('drops empty, oversized and malformed batches', () => {
    const tooMany = Array.from({length: LIMITS.batchEntriesMax * 4 + 1}, (_, i) => ({id: `r${i}`, key: 'k'}))
    for (const bad of [
      reqs([]),
      reqs(tooMany),
      reqs('r1'),
      reqs([null]),
      reqs([{id: '', key: 'a'}]),
      reqs([{id: 'r1', key: ''}]),
      reqs([{id: 'r1', key: 'x'.repeat(2000)}]),
      reqs([{id: 'r1'}]),
      {...reqs([{id: 'r1', key: 'a'}]), from: 'not an id!'},
      resps([]),
      resps([{id: 'r1', key: 'a'}]),
      resps([{id: 'r1', key: 'a', siblings: [{dot: {node: 'n1', counter: -1}, ctx: {}, value: 'v'}]}]),
      resps([{id: 'r1', key: 'a', siblings: [{dot: {node: 'n1', counter: 1}, ctx: {n1: 1}, value: 'v'}]}]),
      resps([{id: 'r1', key: 'a', siblings: [...state, ...state]}]),
    ]) {
      expect(asEventualPeerMessage(bad), JSON.stringify(bad).slice(0, 120)).to.equal(null)
    }
  })
})
