/**
 * Proves the quorum replica's safety properties under random faults, over many seeds: never two
 * leaders in one term; every replica that commits an index commits the same entry; a new leader holds
 * every entry known committed; applied states agree with the committed log; every acknowledged write
 * is in the committed log at the version it was acknowledged with; a NO_QUORUM write never reaches
 * any replica's disk; every client request gets exactly one reply; no write is committed twice (a
 * duplicated FORWARD is appended once); a read never returns a version older than a write
 * acknowledged before the read was issued; and every peer message the core sends
 * passes the wire validator.
 *
 * How: for each seed, five replicas on the seeded in-memory network (quorum-net.ts) with random loss,
 * duplication and delay run a random workload of puts and reads while replicas crash and restart,
 * partitions come and go, and replicas compact (sometimes keeping records the snapshot already holds,
 * as after a crash mid-compaction). Then every fault is healed and the cluster must converge: one
 * serving leader and every replica applied up to its commit index. The QuorumSafetyChecker (src/check) watches every
 * Output as it happens; the client-level properties are checked at the end. A failure names its seed;
 * QUORUM_SEED=<n> replays one seed, QUORUM_SEEDS=<n> changes how many run.
 */
import {expect} from 'chai'
import type {PutResultQuorum, ReadResult} from '../../src/core/client-messages.js'
import {Rng} from '../../src/core/rng.js'
import {QuorumNet} from './quorum-net.js'
import {CALM} from '../../src/sim/sim-cluster.js'

const SEEDS = process.env.QUORUM_SEED
  ? [Number(process.env.QUORUM_SEED)]
  : Array.from({length: Number(process.env.QUORUM_SEEDS ?? 200)}, (_, i) => i + 1)
const WORKLOAD_TICKS = 300
const KEYS = ['a', 'b', 'c']

interface PutRecord {
  id: string
  key: string
  value: string | null
}

interface RunSummary {
  seed: number
  violations: string[]
  acked: number
  noQuorum: number
  reads: number
}

function runSeed(seed: number): RunSummary {
  const driver = new Rng(seed * 1_000_003 + 17) // the workload's own stream, apart from the network's
  const faults = {drop: driver.next() * 0.1, duplicate: driver.next() * 0.05, delayTicksMax: driver.int(4)}
  const net = new QuorumNet(seed, 5, faults)
  const puts: PutRecord[] = []
  const reads: {id: string; key: string}[] = []
  let n = 0
  for (let t = 0; t < WORKLOAD_TICKS; t++) {
    const x = driver.next()
    const node = driver.pick(net.ids)
    if (x < 0.3) {
      const key = driver.pick(KEYS)
      const value = driver.next() < 0.1 ? null : `v${seed}.${n++}`
      puts.push({id: net.put(node, key, value, 1500), key, value})
    } else if (x < 0.45) {
      const key = driver.pick(KEYS)
      reads.push({id: net.read(node, key, 1500), key})
    } else if (x < 0.47) {
      net.crash(node)
    } else if (x < 0.52) {
      net.restart(node)
    } else if (x < 0.53) {
      const shuffled = driver.shuffle([...net.ids])
      const cut = 1 + driver.int(4)
      net.partition([shuffled.slice(0, cut), shuffled.slice(cut)])
    } else if (x < 0.55) {
      net.heal()
    } else if (x < 0.57) {
      net.compact(node, driver.next() < 0.5 ? 0 : driver.int(6))
    }
    net.tick()
  }
  // Heal everything and let the cluster converge.
  net.heal()
  net.faults = {...CALM, delayTicksMax: 1}
  for (const id of net.ids) net.restart(id)
  net.runUntil(
    'convergence',
    () => {
      const leader = net.servingLeader()
      return (
        leader !== undefined &&
        net.up().every((r) => r.applied === leader.commit && r.lastLogIndex === leader.lastLogIndex)
      )
    },
    600,
  )
  net.run(40) // outstanding client requests reach their deadlines

  const v = net.checker.violations
  net.checker.checkAppliedStates(net.up())
  if (net.invalid > 0) v.push(`seed ${seed}: ${net.invalid} message(s) the core sent failed validation`)
  const states = net.up().map((r) => JSON.stringify(r.appliedState().sort()))
  if (new Set(states).size !== 1) v.push(`seed ${seed}: replicas' applied states differ after convergence`)

  // Values are unique per put, so a value committed twice means a write was applied twice.
  const committedValues = [...net.checker.committed.values()]
    .map((e) => e.cmd?.value)
    .filter((x) => typeof x === 'string')
  if (new Set(committedValues).size !== committedValues.length) v.push(`seed ${seed}: a write was committed twice`)
  let acked = 0
  let noQuorum = 0
  const ackedPuts: {key: string; index: number; repliedAt: number}[] = []
  for (const p of puts) {
    const reply = net.reply(p.id)
    if (!reply) {
      if (!net.lostWithReplica(p.id)) v.push(`seed ${seed}: put ${p.id} never got a reply`)
      continue
    }
    if ((net.replyCounts.get(p.id) ?? 0) > 1)
      v.push(`seed ${seed}: put ${p.id} got ${net.replyCounts.get(p.id)} replies`)
    if (reply.ok) {
      acked++
      const version = (reply.result as PutResultQuorum).version
      const e = net.checker.committed.get(version.index)
      if (!e || e.term !== version.term || e.cmd?.key !== p.key || e.cmd.value !== p.value) {
        v.push(
          `seed ${seed}: put ${p.id} was acknowledged at ${JSON.stringify(version)} but the committed entry there is ${JSON.stringify(e)}`,
        )
      }
      ackedPuts.push({key: p.key, index: version.index, repliedAt: net.repliedAt.get(p.id) as number})
    } else if (reply.error.code === 'NO_QUORUM') {
      noQuorum++
      if (p.value !== null && net.checker.everWritten.has(p.value))
        v.push(`seed ${seed}: put ${p.id} got NO_QUORUM but ${p.value} reached a disk`)
    } else if (reply.error.code !== 'TIMEOUT' && reply.error.code !== 'UNAVAILABLE')
      v.push(`seed ${seed}: put ${p.id} failed with ${reply.error.code}`)
  }
  for (const r of reads) {
    const reply = net.reply(r.id)
    if (!reply) {
      if (!net.lostWithReplica(r.id)) v.push(`seed ${seed}: read ${r.id} never got a reply`)
      continue
    }
    if ((net.replyCounts.get(r.id) ?? 0) > 1)
      v.push(`seed ${seed}: read ${r.id} got ${net.replyCounts.get(r.id)} replies`)
    if (!reply.ok) continue
    const result = reply.result as ReadResult
    const context = /^q1\.(\d+)\.(\d+)$/.exec(result.context)
    const index = context ? Number(context[2]) : -1
    if (index > 0) {
      const e = net.checker.committed.get(index)
      const value = result.found ? result.values[0]?.value : null
      if (!e || e.cmd?.key !== r.key || e.cmd.value !== value)
        v.push(
          `seed ${seed}: read ${r.id} returned ${JSON.stringify(result)} but the committed entry at ${index} is ${JSON.stringify(e)}`,
        )
    }
    const issued = net.issuedAt.get(r.id) as number
    for (const w of ackedPuts) {
      if (w.key === r.key && w.repliedAt < issued && w.index > index) {
        v.push(
          `seed ${seed}: read ${r.id} of ${r.key} returned version index ${index}, older than write ${w.index} acknowledged before it began`,
        )
      }
    }
  }
  return {seed, violations: v, acked, noQuorum, reads: reads.length}
}

describe('quorum replica safety under random faults', function () {
  this.timeout(120_000)

  it(`holds every safety property over ${SEEDS.length} seeded runs with loss, duplication, delay, crashes, partitions and compaction`, () => {
    const violations: string[] = []
    let acked = 0
    let noQuorum = 0
    for (const seed of SEEDS) {
      let s: RunSummary
      try {
        s = runSeed(seed)
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).stack}`, {cause: error})
      }
      violations.push(...s.violations)
      acked += s.acked
      noQuorum += s.noQuorum
    }
    expect(violations, violations.slice(0, 10).join('\n')).to.deep.equal([])
    // The runs must exercise the interesting paths, or passing means little.
    expect(acked, 'acknowledged writes').to.be.greaterThan(SEEDS.length * 10)
    if (SEEDS.length >= 50) expect(noQuorum, 'NO_QUORUM refusals').to.be.greaterThan(0)
  })
})
