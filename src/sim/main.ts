/**
 * `npm run sim -- --mode eventual|quorum --seeds 1000 [--from 1] [--jobs N]` runs many seeds
 * (split across worker threads) and prints each failing seed with the command that replays it;
 * `npm run sim -- --mode quorum --seed 42` replays one seed exactly and prints its trace.
 * `--ticks T` sets the length of the faulty phase (default 400 ticks) for longer runs.
 * Exit status: 0 when every seed is clean, 1 when any seed found a violation, 2 on bad usage or
 * when a search bound left a verdict unknown.
 */
import {availableParallelism} from 'node:os'
import {parseArgs} from 'node:util'
import {runSeed, type SimMode} from './run-seed.js'
import {runSeedsInWorkers, type SeedSummary} from './seed-workers.js'

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run sim -- --mode eventual|quorum (--seeds N [--from S] [--jobs J] | --seed N [--quiet]) [--ticks T]\n`,
  )
  process.exit(2)
}

function wholeNumber(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n))
    usage(`--${name} must be a whole number, got ${JSON.stringify(raw)}`)
  return n
}

async function main(): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        mode: {type: 'string'},
        seeds: {type: 'string'},
        seed: {type: 'string'},
        from: {type: 'string'},
        jobs: {type: 'string'},
        quiet: {type: 'boolean'},
        ticks: {type: 'string'},
      },
      strict: true,
    })
  } catch (error) {
    usage((error as Error).message)
  }
  const {values} = parsed
  const mode = values.mode
  if (mode !== 'eventual' && mode !== 'quorum') usage('--mode must be eventual or quorum')
  const faultTicks = values.ticks === undefined ? undefined : wholeNumber('ticks', values.ticks, 0)
  if (values.seed !== undefined) {
    replay(mode, wholeNumber('seed', values.seed, 0), values.quiet ?? false, faultTicks)
    return
  }
  const count = wholeNumber('seeds', values.seeds, 100)
  const from = wholeNumber('from', values.from, 1)
  const jobs = Math.max(1, wholeNumber('jobs', values.jobs, availableParallelism()))
  const started = performance.now()
  let done = 0
  const failures: SeedSummary[] = []
  const totals = {ops: 0, okOps: 0, faults: 0, unknown: 0}
  await runSeedsInWorkers(
    mode,
    from,
    count,
    jobs,
    (s) => {
      done++
      totals.ops += s.ops
      totals.okOps += s.okOps
      totals.faults += s.faults
      if (s.verdict === 'unknown') totals.unknown++
      if (s.verdict !== 'ok') {
        failures.push(s)
        process.stdout.write(
          `${s.verdict.toUpperCase()} seed ${s.seed}: ${s.problems.slice(0, 3).join(' | ')}\n  replay: npm run sim -- --mode ${mode} --seed ${s.seed}${faultTicks === undefined ? '' : ` --ticks ${faultTicks}`}\n`,
        )
      }
      if (done % 100 === 0)
        process.stdout.write(`  ${done}/${count} seeds, ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
    },
    faultTicks,
  )
  const secs = (performance.now() - started) / 1000
  const bad = failures.filter((f) => f.verdict === 'violation').length
  process.stdout.write(
    `${mode}: ${count} seeds (${from}..${from + count - 1}) in ${secs.toFixed(1)} s on ${jobs} thread(s): ${count - failures.length} clean, ${bad} violation(s), ${totals.unknown} unknown; ` +
      `${totals.ops} client operations (${totals.okOps} ok), ${totals.faults} faults\n`,
  )
  process.exit(bad > 0 ? 1 : totals.unknown > 0 ? 2 : 0)
}

function replay(mode: SimMode, seed: number, quiet: boolean, faultTicks: number | undefined): void {
  const r = runSeed(mode, seed, {
    ...(quiet ? {} : {trace: (line: string) => process.stdout.write(`${line}\n`)}),
    ...(faultTicks === undefined ? {} : {faultTicks}),
  })
  const ok = r.history.filter((o) => o.status === 'ok').length
  process.stdout.write(
    `\n${mode} seed ${seed}: ${r.verdict.verdict} after ${r.ticks} ticks; ${r.history.length} operations (${ok} ok)\n`,
  )
  process.stdout.write(
    `faults: ${JSON.stringify(r.faults)}\nnetwork: ${JSON.stringify(r.cluster)}\nchecks: ${JSON.stringify(r.verdict.stats)}\n`,
  )
  for (const p of r.verdict.problems) process.stdout.write(`  ${p}\n`)
  process.exit(r.verdict.verdict === 'ok' ? 0 : r.verdict.verdict === 'violation' ? 1 : 2)
}

main().catch((error: unknown) => {
  process.stderr.write(`sim failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(2)
})
