/**
 * Deterministic simulation of both modes (src/sim): the real cores on a seeded broker, disks and
 * clock, with crashes, torn unsynced tails, pauses, partitions (also one-way), broker outages and
 * network weather, judged by the checkers of src/check. Proves:
 * - a seed replays exactly (same history, same fault counts), which is what makes a failure debuggable;
 * - KV_SIM_SEEDS seeds per mode (500 by default) run clean;
 * - seeds that once failed stay fixed (regressions pinned to their seeds);
 * - the whole pipeline can fail: with a disk that lies about fsync, the checkers flag some runs; and
 *   with replicas blind to lost data (they carry on after a corrupted disk as if it were whole, as
 *   they did before the recovery policy), the checkers flag some runs too.
 * A failing seed is printed with the command that replays it with a trace.
 */
import {expect} from 'chai'
import {runSeed, type SimMode} from '../../src/sim/run-seed.js'
import {runSeedsInWorkers, type SeedSummary} from '../../src/sim/seed-workers.js'

const SEEDS = Number(process.env.KV_SIM_SEEDS ?? 500)
const JOBS = 2

function replayHint(mode: SimMode, s: SeedSummary): string {
  return `seed ${s.seed}: ${s.verdict}: ${s.problems.slice(0, 2).join(' | ')} (replay: npm run sim -- --mode ${mode} --seed ${s.seed})`
}

/**
 * Seeds the simulator once failed on, rerun in full; the list grows with every fix.
 * quorum 1022, 1290, 1374, 1673, 1734: the leader-completeness check flagged a late leader of an
 * older term (elected from delayed votes after a later term had committed); such a leader is legal
 * and cannot commit, so the checker was wrong, and now checks only leaders of later terms. The
 * simulator's schedules have changed since, so these seeds no longer replay that exact run; the
 * deterministic pin is test/unit/quorum-safety-checker.test.ts.
 */
/*
 * quorum 15, 17, 25: a leader kept its old match index for a follower whose disk was wiped and
 * resent the same APPEND forever (it now resumes from the follower's hint). quorum 645: a learner
 * took the commit index restored from its damaged disk as proof it had caught up, voted, and elected
 * a leader lacking committed entries (it now waits for a commit index a leader reported).
 * eventual 969: a replica that started empty after a wipe ended its catch-up on the first in-sync
 * answer, kept its plain id and reused a dot (it now asks every live peer whether they hold dots of
 * an earlier life of it).
 * eventual 6040, 6497, 9870: a wiped replica came back while the peers that held its old dots were
 * down or cut off, heard "no earlier life" from the rest, kept its plain id and reused a dot (it now
 * keeps its id only if every member said no). eventual 5535, 6595: the checker named the wrong
 * incarnation as a version's dot when an older incarnation first showed up in the history after a
 * newer one (put replies now report their dot; unit pin in test/unit/eventual-history.test.ts).
 * quorum 519: an older snapshot came back; a commit record after the gap called a term-3 leftover
 * committed and the replica applied it (after lost records no commit record is believed now; unit pin
 * in test/unit/quorum-recovery.test.ts).
 * eventual 6213: a crash tore a fresh replica's first append after its incarnation record, dropping the
 * catch-up mark behind it; it restarted as if it held data, with its plain id, and reused a dot (the
 * mark now comes first; unit pin in test/unit/disk-loss-cores.test.ts).
 */
const REGRESSIONS: Record<SimMode, number[]> = {
  quorum: [1022, 1290, 1374, 1673, 1734, 15, 17, 25, 645, 519],
  eventual: [969, 5733, 6040, 6497, 6595, 9870, 5535, 6213],
}

/**
 * The safety problems of the first of seeds 1..200 that a sabotaged run flags (liveness complaints do
 * not count; a core that stops on a broken invariant counts as flagged), or [] if none does.
 */
function firstFlagged(mode: SimMode, sabotage: {lossBlind?: boolean; fsyncLies?: boolean}): string[] {
  for (let seed = 1; seed <= 200; seed++) {
    try {
      // Unsigned, as when these probes were calibrated: signing changes a seed's run, not the checkers.
      const r = runSeed(mode, seed, {...sabotage, searchMs: 1000, settleTicksMax: 200, signed: false})
      const problems = r.verdict.problems.filter((p) => !p.startsWith('liveness'))
      if (problems.length > 0) return problems
    } catch (error) {
      return [`seed ${seed} threw ${(error as Error).message}`]
    }
  }
  return []
}

for (const mode of ['eventual', 'quorum'] as const) {
  describe(`simulation: ${mode} mode`, function () {
    this.timeout(600_000)

    it('replays a seed exactly', () => {
      const a = runSeed(mode, 7)
      const b = runSeed(mode, 7)
      expect(a.history.length).to.be.greaterThan(50)
      expect(JSON.stringify(b.history)).to.equal(JSON.stringify(a.history))
      expect(b.faults).to.deep.equal(a.faults)
      expect(b.cluster).to.deep.equal(a.cluster)
    })

    it(`runs ${SEEDS} seeds clean`, async () => {
      const bad: string[] = []
      let ops = 0
      let faults = 0
      await runSeedsInWorkers(mode, 1, SEEDS, JOBS, (s) => {
        ops += s.okOps
        faults += s.faults
        if (s.verdict !== 'ok') bad.push(replayHint(mode, s))
      })
      expect(bad, bad.join('\n')).to.deep.equal([])
      // The runs did real work under real faults (not an idle cluster that trivially passes).
      expect(ops).to.be.greaterThan(SEEDS * 20)
      expect(faults).to.be.greaterThan(SEEDS * 3)
    })

    if (REGRESSIONS[mode].length > 0) {
      it(`stays fixed on seeds that once failed: ${REGRESSIONS[mode].join(', ')}`, () => {
        for (const seed of REGRESSIONS[mode]) {
          // Pinned as they ran when they failed: unsigned (signing is on for half the seeds since).
          const r = runSeed(mode, seed, {signed: false})
          expect(r.verdict.problems, `seed ${seed}`).to.deep.equal([])
        }
      })
    }

    it('signed runs: an attacker without the secret is refused every time and changes nothing', () => {
      let attacks = 0
      let refused = 0
      // 5054 (eventual): a replay of a put applied just before its replica crashed drew the restarted
      // replica's "epoch refused" answer, which the client took for a certain failure.
      const seeds = [...Array.from({length: 30}, (_, i) => i + 1), ...(mode === 'eventual' ? [5054] : [])]
      for (const seed of seeds) {
        const r = runSeed(mode, seed, {signed: true, searchMs: 2000})
        expect(r.verdict.problems, `seed ${seed}`).to.deep.equal([])
        attacks += r.cluster.attacks ?? 0
        refused += r.cluster.refused ?? 0
      }
      // Replays, moved, tampered, re-keyed and unsigned copies of real messages reached the runners.
      expect(attacks).to.be.greaterThan(300)
      expect(refused).to.equal(attacks)
    })

    it('flags runs whose replicas carry on after lost data as if whole (the pre-recovery behaviour)', () => {
      const flagged = firstFlagged(mode, {lossBlind: true})
      expect(flagged, 'no run was flagged although replicas ignored lost data').to.not.deep.equal([])
    })

    it('flags runs on a disk that lies about fsync (the checkers can fail)', () => {
      // A safety problem, not merely slowness: liveness complaints do not count here. A core that
      // notices the corruption itself and stops on a broken invariant counts as flagged too.
      // Quorum runs catch it rarely since the batched path landed (seed 103 is the first, about 1 in
      // 150): the loop stops at the first flagged seed, so the bound costs nothing when one is found.
      const flagged = firstFlagged(mode, {fsyncLies: true})
      expect(flagged, 'no run was flagged although crashes lost acknowledged records').to.not.deep.equal([])
    })
  })
}
