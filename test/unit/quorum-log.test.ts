/**
 * Proves the quorum replica's log and its durability: the in-memory log keeps indexes and terms
 * straight across truncation and compaction and refuses what Raft forbids; a follower's append skips
 * what is committed, reports where to resume on a mismatch, and never touches a committed entry; and
 * recovery is idempotent: a replica rebuilt from a snapshot plus ANY suffix of its records that starts
 * at or before the snapshot (as after a crash between the snapshot rename and the log truncate, or
 * with Outputs still queued when the snapshot was taken) has exactly the durable state of one rebuilt
 * from all its records, and so does one rebuilt after a torn install.
 *
 * How: direct calls for the log and the append rule; for recovery, real record histories from
 * seeded fault-injected runs of five replicas (quorum-net.ts), with snapshots captured at random
 * moments and compared, replica by replica, against replay from the first record.
 */
import {expect} from 'chai'
import {Rng} from '../../src/core/rng.js'
import {appendFromLeader} from '../../src/quorum/follower-append.js'
import type {QuorumRecord, QuorumSnapshot} from '../../src/quorum/records.js'
import {QuorumReplica} from '../../src/quorum/replica.js'
import {ReplicatedLog} from '../../src/quorum/replicated-log.js'
import type {LogEntry} from '../../src/quorum/types.js'
import {QuorumNet, TEST_TIMING} from './quorum-net.js'

function entry(term: number, index: number): LogEntry {
  return {term, index, cmd: {key: 'k', value: `${term}.${index}`}}
}

function logOf(...terms: number[]): ReplicatedLog {
  const log = new ReplicatedLog()
  terms.forEach((t, i) => log.append(entry(t, i + 1)))
  return log
}

/** A snapshot as a restart reads it back: through JSON (the file's body), sharing nothing with the replica. */
function persisted(snapshot: QuorumSnapshot): QuorumSnapshot {
  return JSON.parse(JSON.stringify(snapshot)) as QuorumSnapshot
}

/** The durable state of a replica, as a comparable value. */
function durable(r: QuorumReplica): unknown {
  const tail = Array.from({length: r.lastLogIndex - r.applied}, (_, i) => r.entryAt(r.applied + 1 + i))
  return {
    term: r.currentTerm,
    vote: r.votedFor,
    commit: r.commit,
    applied: r.applied,
    lastTerm: r.termAt(r.applied),
    state: r.appliedState().sort(),
    tail,
  }
}

function rebuilt(
  id: string,
  ids: string[],
  snapshot: QuorumSnapshot | null,
  records: readonly QuorumRecord[],
): QuorumReplica {
  const r = new QuorumReplica({id, peers: ids, rng: new Rng(1), ...TEST_TIMING})
  r.restore(snapshot, records)
  return r
}

describe('quorum replicated log', () => {
  it('keeps indexes and terms across truncation and compaction, and refuses gaps, falling terms and truncating the base', () => {
    const log = logOf(1, 1, 2, 2, 3)
    expect([log.lastIndex, log.lastTerm, log.termAt(0), log.termAt(3), log.termAt(6)]).to.deep.equal([
      5,
      3,
      0,
      2,
      undefined,
    ])
    log.truncateFrom(4)
    expect([log.lastIndex, log.lastTerm]).to.deep.equal([3, 2])
    log.compactTo(2)
    expect([log.snapshotIndex, log.snapshotTerm, log.termAt(2), log.entryAt(2), log.entryAt(3)?.term]).to.deep.equal([
      2,
      1,
      1,
      undefined,
      2,
    ])
    expect(log.slice(3, 10, 1e9).map((e) => e.index)).to.deep.equal([3])
    expect(log.after(2).map((e) => e.index)).to.deep.equal([3])
    expect(() => log.append(entry(2, 5))).to.throw(/invariant/)
    expect(() => log.append(entry(1, 4))).to.throw(/invariant/)
    expect(() => log.truncateFrom(2)).to.throw(/invariant/)
    log.resetTo(10, 4)
    expect([log.lastIndex, log.lastTerm, log.entryAt(3)]).to.deep.equal([10, 4, undefined])
  })

  it('cuts slices at the byte limit but always sends at least one entry', () => {
    const log = logOf(1, 1, 1)
    expect(log.slice(1, 10, 1).length).to.equal(1)
    expect(log.slice(1, 2, 1e9).length).to.equal(2)
  })
})

describe('a follower appending from its leader', () => {
  it('skips the committed part, appends the rest and reports the last matching index', () => {
    const log = logOf(1, 1, 1)
    const r = appendFromLeader(log, 2, {
      prevIndex: 0,
      prevTerm: 0,
      entries: [entry(1, 1), entry(1, 2), entry(1, 3), entry(2, 4)],
    })
    expect(r).to.deep.equal({success: true, matchIndex: 4, records: [{t: 'entries', entries: [entry(2, 4)]}]})
  })

  it('refuses a gap or a mismatch with a hint, without changing the log', () => {
    const log = logOf(1, 1, 2, 2, 2)
    expect(appendFromLeader(log, 1, {prevIndex: 9, prevTerm: 3, entries: []})).to.deep.include({
      success: false,
      matchIndex: 5,
    })
    // Mismatch at 5 (ours is term 2): resume before our first entry of term 2.
    expect(appendFromLeader(log, 1, {prevIndex: 5, prevTerm: 3, entries: []})).to.deep.include({
      success: false,
      matchIndex: 2,
    })
    // ...but never below the commit index.
    expect(appendFromLeader(log, 4, {prevIndex: 5, prevTerm: 3, entries: []})).to.deep.include({
      success: false,
      matchIndex: 4,
    })
    expect(log.lastIndex).to.equal(5)
  })

  it('truncates a conflicting suffix above the commit index, and crashes loudly rather than rewrite a committed entry', () => {
    const log = logOf(1, 1, 2)
    const r = appendFromLeader(log, 2, {prevIndex: 2, prevTerm: 1, entries: [entry(3, 3)]})
    expect(r.records).to.deep.equal([
      {t: 'truncate', from: 3},
      {t: 'entries', entries: [entry(3, 3)]},
    ])
    expect(log.termAt(3)).to.equal(3)
    expect(() => appendFromLeader(log, 3, {prevIndex: 2, prevTerm: 1, entries: [entry(4, 3)]})).to.throw(/committed/)
  })
})

describe('quorum recovery', function () {
  this.timeout(60_000)

  it('rebuilds the same durable state from a snapshot plus any record suffix that starts at or before it, over 60 seeded runs', () => {
    let compared = 0
    /** Records replayed over a snapshot that already held them, by kind: the delicate part. */
    const stale = new Map<string, number>()
    const problems: string[] = []
    for (let seed = 1; seed <= 60; seed++) {
      const wl = new Rng(seed + 5000)
      // Minority partitions make logs diverge: on odd seeds a tiny in-memory log window makes the
      // leader repair them by snapshot installs, on even seeds by truncating the follower's suffix.
      const retain = seed % 2 ? 3 : 1000
      const net = new QuorumNet(
        seed,
        5,
        {drop: 0.05, duplicate: 0.03, delayTicksMax: 2},
        {...TEST_TIMING, logRetainEntries: retain},
      )
      const captures: {id: string; snapshot: QuorumSnapshot; count: number}[] = []
      for (let t = 0; t < 250; t++) {
        const x = wl.next()
        const node = wl.pick(net.ids)
        if (x < 0.35) net.put(node, wl.pick(['a', 'b', 'c', 'd']), wl.next() < 0.1 ? null : `v${t}`, 1000)
        else if (x < 0.38) net.crash(node)
        else if (x < 0.45) net.restart(node)
        else if (x < 0.48) {
          const shuffled = wl.shuffle([...net.ids])
          net.partition([shuffled.slice(0, 2), shuffled.slice(2)])
        } else if (x < 0.49) net.heal()
        if (t % 5 === 0) {
          for (const r of net.up())
            captures.push({
              id: r.id,
              snapshot: persisted(r.snapshot()),
              count: net.disks.get(r.id)?.records.length ?? 0,
            })
        }
        net.tick()
      }
      const expected = new Map(
        net.ids.map((id) => [
          id,
          JSON.stringify(durable(rebuilt(id, net.ids, null, net.disks.get(id)?.records ?? []))),
        ]),
      )
      for (const c of captures) {
        const records = net.disks.get(c.id)?.records ?? []
        for (const p of new Set([0, c.count, wl.int(c.count + 1)])) {
          for (const r of records.slice(p, c.count)) stale.set(r.t, (stale.get(r.t) ?? 0) + 1)
          const got = JSON.stringify(durable(rebuilt(c.id, net.ids, c.snapshot, records.slice(p))))
          compared++
          if (got !== expected.get(c.id))
            problems.push(
              `seed ${seed} ${c.id}: snapshot at record ${c.count}, replay from ${p}:\n  got      ${got}\n  expected ${expected.get(c.id)}`,
            )
        }
      }
    }
    expect(problems.slice(0, 3).join('\n')).to.equal('')
    expect(compared).to.be.greaterThan(10_000)
    // The histories must hold the records whose replay is delicate, or this proves little.
    expect(stale.get('truncate'), 'truncate records replayed').to.be.greaterThan(20)
    expect(stale.get('install.end'), 'installs replayed').to.be.greaterThan(20)
  })

  it('ignores an install whose records were torn before its end', () => {
    const begin: QuorumRecord[] = [
      {t: 'term', term: 2, vote: null},
      {t: 'entries', entries: [entry(1, 1)]},
      {t: 'commit', index: 1},
      {t: 'install.begin', index: 9, term: 2},
      {t: 'install.keys', index: 9, keys: [['z', {value: 'z', version: {term: 2, index: 8}}]]},
    ]
    const r = rebuilt('n1', ['n1', 'n2', 'n3'], null, begin)
    expect([r.applied, r.stateOf('z'), r.stateOf('k')?.value]).to.deep.equal([1, undefined, '1.1'])
    const whole = rebuilt('n1', ['n1', 'n2', 'n3'], null, [...begin, {t: 'install.end', index: 9, term: 2}])
    expect([whole.applied, whole.stateOf('z')?.value, whole.stateOf('k')]).to.deep.equal([9, 'z', undefined])
  })
})
