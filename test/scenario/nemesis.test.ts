/**
 * A short Jepsen-style nemesis run per mode, against real processes: a private redis-server, five
 * replicas started through bin/run.js, five clients doing random puts, deletes and reads through the
 * client library while a seeded schedule kills -9 and restarts replicas, SIGSTOPs and SIGCONTs them,
 * partitions them (`kv fault partition`), restarts the broker, and kills replicas to wipe their data
 * directory or flip one byte of their log or snapshot before restarting them; then everything is
 * healed and the recorded history is judged.
 *
 * What it proves, for this seed's schedule (printed, and repeatable with `npm run nemesis -- --seed`):
 * - quorum: the history (including a final read of every key through every replica) is linearizable,
 *   no two replicas ever claimed to lead the same term, the schedule took a majority away at least
 *   once, and the cluster recovered (one agreed leader, every replica serving) after healing;
 * - eventual: after healing all replicas converge to the same state, no acknowledged write is lost,
 *   siblings are truly concurrent and nothing is read that was never written;
 * - in both: no replica crashed, and the run did real work under every fault kind (lower bounds on
 *   ok operations and on executed faults, so a run where nothing happened cannot pass as "ok").
 * A shorter signed quorum run (`--secret`: every replica and client holds one cluster secret) checks
 * the same under restarts, which change replicas' epochs, and that no replica refused a message of
 * the cluster's own as unsigned or forged (no-mac, bad-mac); stale ones around restarts are expected.
 * The nemesis is called as a function; it stops every process it started, whatever the outcome.
 */
import {expect} from 'chai'
import {FAULT_KINDS, planFaults} from '../../src/nemesis/fault-plan.js'
import {Rng} from '../../src/core/rng.js'
import {DEFAULTS, type NemesisOptions} from '../../src/nemesis/options.js'
import {REPLICA_IDS, runNemesis} from '../../src/nemesis/run-nemesis.js'
import {faultCounts, formatSummary, opCounts} from '../../src/nemesis/summary.js'

/** A seed whose 22 s plan holds every fault kind in both modes (and two majority faults in quorum). */
const SEED = Number(process.env.NEMESIS_SEED ?? 2026)
const DURATION_S = 22

/** The signed run: a seed whose 12 s quorum plan holds every fault kind (about 22 s in all). */
const SIGNED_SEED = Number(process.env.NEMESIS_SIGNED_SEED ?? 410)
const SIGNED_DURATION_S = 12

/** Lower bounds for "the run did something": a healthy 22 s run does several hundred ok operations. */
const OK_WRITES_MIN = 40
const OK_READS_MIN = 40
const READS_SEEING_A_VALUE_MIN = 10

function options(mode: 'eventual' | 'quorum'): NemesisOptions {
  return {...DEFAULTS, mode, durationS: DURATION_S, seed: SEED, save: false}
}

describe('nemesis: seeded faults against real processes, judged by the checkers', function () {
  this.timeout(240_000)

  for (const mode of ['eventual', 'quorum'] as const) {
    it(`${mode} mode stays correct under kill -9, SIGSTOP, partitions, broker restarts and disk wipes and corruption (seed ${SEED})`, async () => {
      const plan = planFaults(new Rng(SEED).fork(), REPLICA_IDS, mode, DURATION_S * 1000)
      expect(
        FAULT_KINDS.filter((k) => !plan.some((f) => f.kind === k)),
        `seed ${SEED} plans every fault kind`,
      ).to.deep.equal([])

      const report = await runNemesis(options(mode))
      const summary = formatSummary(report).join('\n')
      console.log(summary.replace(/^/gm, '      '))

      expect(report.harnessError, summary).to.equal(undefined)
      expect(report.verdict.verdict, summary).to.equal('ok')
      expect(report.crashes, summary).to.deep.equal([])

      const ops = opCounts(report)
      expect(ops.put.ok + ops.delete.ok, `ok writes\n${summary}`).to.be.at.least(OK_WRITES_MIN)
      expect(ops.read.ok, `ok reads\n${summary}`).to.be.at.least(OK_READS_MIN)
      const seeing = report.ops.filter(
        (op) => op.kind === 'read' && op.status === 'ok' && (op.read?.length ?? 0) > 0,
      ).length
      expect(seeing, `reads that saw a value\n${summary}`).to.be.at.least(READS_SEEING_A_VALUE_MIN)
      const faults = faultCounts(report)
      for (const kind of FAULT_KINDS) expect(faults[kind], `${kind} faults executed\n${summary}`).to.be.at.least(1)

      if (mode === 'quorum') {
        expect(
          report.faults.some((f) => f.majority && f.startedAt !== null),
          `a majority fault ran\n${summary}`,
        ).to.equal(true)
        expect(report.statusSamples.length, `status samples\n${summary}`).to.be.at.least(DURATION_S * 2)
        expect(
          report.statusSamples.some((s) => s.role === 'leader'),
          'a leader was sampled',
        ).to.equal(true)
      } else {
        expect(report.finalsConverged, `final states converged\n${summary}`).to.equal(true)
        expect(Object.keys(report.finals ?? {}).sort(), 'every replica was read at the end').to.deep.equal([
          ...REPLICA_IDS,
        ])
      }
    })
  }

  it(`a signed quorum cluster stays correct under the same faults and refuses none of its own messages as forged (seed ${SIGNED_SEED})`, async () => {
    const report = await runNemesis({
      ...options('quorum'),
      durationS: SIGNED_DURATION_S,
      seed: SIGNED_SEED,
      secret: true,
    })
    const summary = formatSummary(report).join('\n')
    console.log(summary.replace(/^/gm, '      '))

    expect(report.harnessError, summary).to.equal(undefined)
    expect(report.verdict.verdict, summary).to.equal('ok')
    expect(report.crashes, summary).to.deep.equal([])
    const ops = opCounts(report)
    expect(ops.put.ok + ops.delete.ok, `ok writes\n${summary}`).to.be.at.least(OK_WRITES_MIN)
    expect(ops.read.ok, `ok reads\n${summary}`).to.be.at.least(OK_READS_MIN)
    const faults = faultCounts(report)
    for (const kind of ['kill', 'wipe', 'redis-restart'])
      expect(faults[kind], `${kind} faults executed\n${summary}`).to.be.at.least(1)

    const rejected = report.rejected
    expect(rejected, 'a signed run reports refusals').to.not.equal(undefined)
    for (const id of REPLICA_IDS) {
      expect(rejected?.final[id], `${id} answered the last status\n${summary}`).to.not.equal(null)
      const counts = rejected?.overStarts[id] ?? {}
      expect((counts['no-mac'] ?? 0) + (counts['bad-mac'] ?? 0), `${id} no-mac/bad-mac\n${summary}`).to.equal(0)
    }
  })
})
