/**
 * Reading the replica registry (what clients use to find replicas): entries parse without ever
 * throwing, the members a replica names count as known ids (so `kv fault partition` can name a
 * member that is down after a broker restart wiped its entry; found by the nemesis), and the mode
 * comes from the most recently started replica.
 */
import {expect} from 'chai'
import {knownReplicaIds, parseRegistration, registryMode} from '../../src/client/node-picker.js'

describe('replica registry', () => {
  it('parses what the driver writes, members included', () => {
    const raw = JSON.stringify({id: 'n1', mode: 'quorum', startedAt: 1000, pid: 7, members: ['n1', 'n2', 'n3']})
    expect(parseRegistration('n1', raw)).to.deep.equal({
      id: 'n1',
      mode: 'quorum',
      startedAt: 1000,
      members: ['n1', 'n2', 'n3'],
    })
  })

  it('never throws on garbage, and drops member ids that are not ids', () => {
    expect(parseRegistration('n1', '{not json')).to.deep.equal({id: 'n1'})
    expect(parseRegistration('n1', undefined)).to.deep.equal({id: 'n1'})
    expect(parseRegistration('n1', JSON.stringify({members: ['n2', 5, '', 'a b', {}]})).members).to.deep.equal(['n2'])
  })

  it('knows registered ids and the members they name', () => {
    const known = knownReplicaIds([parseRegistration('n1', JSON.stringify({members: ['n1', 'n2', 'n3']})), {id: 'n4'}])
    expect([...known].sort()).to.deep.equal(['n1', 'n2', 'n3', 'n4'])
  })

  it('takes the mode of the most recently started replica', () => {
    const older = parseRegistration('n1', JSON.stringify({mode: 'eventual', startedAt: 1000}))
    const newer = parseRegistration('n2', JSON.stringify({mode: 'quorum', startedAt: 2000}))
    expect(registryMode([older, newer])).to.equal('quorum')
    expect(registryMode([newer, older])).to.equal('quorum')
  })
})
