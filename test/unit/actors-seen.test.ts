/**
 * ActorsSeen answers "does the store name an actor of replica X?" (a dot, or a context entry, of X or
 * a later incarnation X.tag) without scanning the store on every question: built on the first one,
 * kept exact by note(), and falling back to a scan past its size bound.
 */
import {expect} from 'chai'
import {ActorsSeen} from '../../src/eventual/actor.js'
import type {Siblings, Version} from '../../src/eventual/types.js'

const v = (node: string, counter: number, ctx: Record<string, number> = {}): Version => ({
  dot: {node, counter},
  ctx,
  value: 'x',
})

describe('ActorsSeen', () => {
  it('finds dots and context entries of an id and of its incarnations, and nothing else', () => {
    const store = new Map<string, Siblings>([
      ['a', [v('n1', 1)]],
      ['b', [v('n2', 3, {'n3.k2x9': 2})]],
    ])
    const seen = new ActorsSeen(() => store.entries())
    expect(seen.mentionsActorOf('n1')).to.equal(true)
    expect(seen.mentionsActorOf('n3'), 'a context entry of n3.k2x9').to.equal(true)
    expect(seen.mentionsActorOf('n4')).to.equal(false)
    expect(seen.mentionsActorOf('n')).to.equal(false) // n1 is not an incarnation of n
  })

  it('stays exact after it was built: what note() is told counts without a rescan', () => {
    const store = new Map<string, Siblings>([['a', [v('n1', 1)]]])
    let scans = 0
    const seen = new ActorsSeen(() => {
      scans++
      return store.entries()
    })
    expect(seen.mentionsActorOf('n5')).to.equal(false)
    const later: Siblings = [v('n2', 1, {'n5.zz': 1})]
    store.set('b', later)
    seen.note(later)
    expect(seen.mentionsActorOf('n5')).to.equal(true)
    expect(seen.mentionsActorOf('n2')).to.equal(true)
    expect(scans, 'one scan, on the first question').to.equal(1)
  })

  it('past its bound it scans on every question instead of growing', () => {
    const store = new Map<string, Siblings>()
    for (let i = 0; i <= ActorsSeen.MAX; i++) store.set(`k${i}`, [v(`a${i}`, 1)])
    let scans = 0
    const seen = new ActorsSeen(() => {
      scans++
      return store.entries()
    })
    expect(seen.mentionsActorOf(`a${ActorsSeen.MAX}`)).to.equal(true)
    expect(seen.mentionsActorOf('n9')).to.equal(false)
    expect(scans).to.be.greaterThan(2)
  })
})
