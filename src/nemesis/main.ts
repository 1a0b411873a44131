/**
 * `npm run nemesis -- --mode eventual|quorum --duration SECONDS [--seed N] …`: one Jepsen-style run
 * against real processes (run-nemesis.ts), its summary on stdout, and an exit status a script can
 * use: 0 the verdict is ok, 1 a violation was found, 2 unknown (search bound, interrupted, harness
 * error or bad flags). Ctrl-C stops the run and cleans up; a second Ctrl-C kills everything at once.
 */
import {randomInt} from 'node:crypto'
import {parseNemesisArgs} from './options.js'
import {runNemesis} from './run-nemesis.js'
import {formatSummary} from './summary.js'

const EXIT = {ok: 0, violation: 1, unknown: 2} as const

async function main(): Promise<number> {
  let opts
  try {
    opts = parseNemesisArgs(process.argv.slice(2), () => randomInt(2 ** 31))
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`)
    return EXIT.unknown
  }
  const abort = new AbortController()
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(EXIT.unknown) // the exit hook kills every child
    process.stderr.write(
      'interrupted: stopping the clients, the replicas and redis… (Ctrl-C again to kill them at once)\n',
    )
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  process.stdout.write(`seed ${opts.seed} (repeat this run with --seed ${opts.seed})\n`)
  const report = await runNemesis(opts, {log: (line) => process.stdout.write(`${line}\n`), signal: abort.signal})
  process.stdout.write(`\n${formatSummary(report).join('\n')}\n`)
  if (report.harnessError) process.stderr.write(`harness error: ${report.harnessError}\n`)
  return EXIT[report.verdict.verdict]
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`nemesis failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(EXIT.unknown)
  },
)
