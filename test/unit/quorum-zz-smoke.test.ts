import {expect} from 'chai'
import {QuorumNet} from './quorum-net.js'

describe('smoke', () => {
  it('elects and writes', () => {
    const net = new QuorumNet(1)
    const t = net.runUntil('leader', () => net.servingLeader() !== undefined)
    console.log('elected after', t, 'ticks', net.servingLeader()?.id, 'term', net.servingLeader()?.currentTerm)
    const id = net.put('n1', 'k', 'v')
    const r = net.await(id)
    console.log(JSON.stringify(r))
    const rd = net.read('n3', 'k')
    console.log(JSON.stringify(net.await(rd)))
    console.log(net.checker.violations, net.invalid)
  })
})
