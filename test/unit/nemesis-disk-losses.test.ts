/**
 * What the nemesis gives the eventual checker so that writes lost as their --w allows are excused:
 * each acknowledged write's w (the reply's `replicas`, never fewer than the --w asked for) and the
 * disk losses of its wipe and corrupt faults (only those that started fully, at their start time).
 */
import {expect} from 'chai'
import type {PutResultEventual, PutResultQuorum} from '../../src/core/client-messages.js'
import {writeFields} from '../../src/nemesis/client-worker.js'
import {type FaultRecord, diskLossesOf} from '../../src/nemesis/fault-injector.js'
import type {FaultKind} from '../../src/nemesis/fault-plan.js'

function record(
  seq: number,
  kind: FaultKind,
  nodes: string[],
  startedAt: number | null,
  startError?: string,
): FaultRecord {
  return {
    seq,
    kind,
    nodes,
    majority: false,
    plannedAtMs: startedAt ?? 0,
    holdMs: 1000,
    startedAt,
    endedAt: null,
    notes: [],
    ...(startError ? {startError} : {}),
  }
}

describe('nemesis disk losses for the eventual checker', () => {
  it('takes every wipe and corrupt that started, per replica, at its start, in time order', () => {
    const records = [
      record(1, 'corrupt', ['n4'], 900),
      record(2, 'kill', ['n2'], 100),
      record(3, 'wipe', ['n1'], 300),
      record(4, 'pause', ['n3'], 400),
      record(5, 'wipe', ['n5'], null), // the window ended before it started
      record(6, 'corrupt', ['n3'], 500, 'no log.bin to corrupt'), // its damage may not have been done
    ]
    expect(diskLossesOf(records)).to.deep.equal([
      {replica: 'n1', at: 300, kind: 'wipe'},
      {replica: 'n4', at: 900, kind: 'corrupt'},
    ])
  })
})

describe('nemesis write fields (w recorded for the checker)', () => {
  const eventual: PutResultEventual = {key: 'k', node: 'n2', clock: {n2: 3}, context: 'ctx', replicas: 1}

  it('records the replica default (1) when no --w was given', () => {
    expect(writeFields(eventual, undefined, 5)).to.deep.equal({node: 'n2', clock: {n2: 3}, w: 1})
  })

  it('resolves quorum and all against the cluster size', () => {
    expect(writeFields({...eventual, replicas: 3}, 'quorum', 5).w).to.equal(3)
    expect(writeFields({...eventual, replicas: 5}, 'all', 5).w).to.equal(5)
  })

  it('never records fewer replicas than the --w asked for, nor than the reply says held it', () => {
    const noCount: PutResultEventual = {key: 'k', node: 'n2', clock: {n2: 3}, context: 'ctx'}
    expect(writeFields(noCount, 2, 5).w).to.equal(2)
    expect(writeFields({...eventual, replicas: 3}, 2, 5).w).to.equal(3)
  })

  it('records no w for a quorum-mode write', () => {
    const quorum: PutResultQuorum = {key: 'k', node: 'n1', leader: 'n1', version: {term: 1, index: 4}}
    expect(writeFields(quorum, undefined, 5)).to.deep.equal({node: 'n1'})
  })
})
