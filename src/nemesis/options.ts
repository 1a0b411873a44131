/**
 * The nemesis's command line: `npm run nemesis -- --mode eventual|quorum --duration SECONDS
 * [--seed N] [--clients 5] [--keys 8] [--faults KIND,…] [--out DIR] [--save] [--secret]` (and a few
 * tuning flags). Parsed into NemesisOptions, which the test builds directly instead.
 */
import {parseArgs} from 'node:util'
import {KvError} from '../core/errors.js'
import {FAULT_KINDS, type FaultKind} from './fault-plan.js'

/** Everything one nemesis run needs; main.ts parses it, the scenario test builds it. */
export interface NemesisOptions {
  readonly mode: 'eventual' | 'quorum'
  /** How long faults are injected (the run also has startup, heal, quiet period and checking). */
  readonly durationS: number
  /** Seeds the fault plan and the clients' choices; printed so a run can be repeated. */
  readonly seed: number
  readonly clients: number
  readonly keys: number
  /** The fault kinds the plan may use (`--faults`); default every kind. */
  readonly faults: readonly FaultKind[]
  /** Where history and replica logs go when the verdict is not ok (or with save). */
  readonly outDir: string
  readonly save: boolean
  /**
   * An authenticated cluster (`--secret`): the run makes a secret file (mode 600) in its temp dir,
   * starts every replica with `--secret-file` and gives every client it creates the secret.
   */
  readonly secret: boolean
  /** Per-operation client timeout. */
  readonly opTimeoutMs: number
  /** A client waits up to this long (uniform) between two operations. */
  readonly thinkMsMax: number
  /** Quiet time after healing, before final states are read. */
  readonly quietS: number
  /** Bound on the linearizability search. */
  readonly checkTimeLimitMs: number
}

export const DEFAULTS = {
  clients: 5,
  keys: 8,
  faults: FAULT_KINDS,
  outDir: './nemesis-out',
  secret: false,
  opTimeoutMs: 2000,
  thinkMsMax: 40,
  quietS: 3,
  checkTimeLimitMs: 60_000,
} as const

export const USAGE = `usage: npm run nemesis -- --mode eventual|quorum --duration SECONDS [--seed N] [--clients ${DEFAULTS.clients}] [--keys ${DEFAULTS.keys}] [--out DIR] [--save] [--secret]
       [--faults KIND,… (${FAULT_KINDS.join(',')})]
       [--op-timeout MS (${DEFAULTS.opTimeoutMs})] [--think MS (${DEFAULTS.thinkMsMax})] [--quiet SECONDS (${DEFAULTS.quietS})] [--check-time-limit MS (${DEFAULTS.checkTimeLimitMs})]`

/** Called by main.ts with process.argv.slice(2); BAD_REQUEST (with the usage) on anything wrong. */
export function parseNemesisArgs(argv: readonly string[], randomSeed: () => number): NemesisOptions {
  let values
  try {
    ;({values} = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        mode: {type: 'string'},
        duration: {type: 'string'},
        seed: {type: 'string'},
        clients: {type: 'string'},
        keys: {type: 'string'},
        faults: {type: 'string'},
        out: {type: 'string'},
        save: {type: 'boolean'},
        secret: {type: 'boolean'},
        'op-timeout': {type: 'string'},
        think: {type: 'string'},
        quiet: {type: 'string'},
        'check-time-limit': {type: 'string'},
      },
    }))
  } catch (error) {
    throw new KvError('BAD_REQUEST', `${(error as Error).message}\n${USAGE}`)
  }
  const mode = values.mode
  if (mode !== 'eventual' && mode !== 'quorum')
    throw new KvError('BAD_REQUEST', `--mode must be eventual or quorum\n${USAGE}`)
  if (values.duration === undefined) throw new KvError('BAD_REQUEST', `--duration SECONDS is required\n${USAGE}`)
  return {
    mode,
    durationS: int(values.duration, '--duration', 1, 24 * 3600),
    seed: values.seed === undefined ? randomSeed() : int(values.seed, '--seed', 0, Number.MAX_SAFE_INTEGER),
    clients: int(values.clients, '--clients', 1, 64, DEFAULTS.clients),
    keys: int(values.keys, '--keys', 1, 1000, DEFAULTS.keys),
    faults: values.faults === undefined ? DEFAULTS.faults : faultKinds(values.faults),
    outDir: values.out ?? DEFAULTS.outDir,
    save: values.save ?? false,
    secret: values.secret ?? DEFAULTS.secret,
    opTimeoutMs: int(values['op-timeout'], '--op-timeout', 100, 60_000, DEFAULTS.opTimeoutMs),
    thinkMsMax: int(values.think, '--think', 0, 10_000, DEFAULTS.thinkMsMax),
    quietS: int(values.quiet, '--quiet', 0, 600, DEFAULTS.quietS),
    checkTimeLimitMs: int(values['check-time-limit'], '--check-time-limit', 100, 3_600_000, DEFAULTS.checkTimeLimitMs),
  }
}

/** `--faults kill,wipe`: known kinds, each once, at least one. */
function faultKinds(text: string): FaultKind[] {
  const kinds = text.split(',').map((k) => k.trim())
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k))
  if (kinds.length === 0 || unknown.length > 0 || new Set(kinds).size !== kinds.length) {
    throw new KvError(
      'BAD_REQUEST',
      `--faults ${JSON.stringify(text)} must list distinct kinds among ${FAULT_KINDS.join(',')}\n${USAGE}`,
    )
  }
  return kinds as FaultKind[]
}

function int(text: string | undefined, flag: string, min: number, max: number, fallback?: number): number {
  if (text === undefined) {
    if (fallback === undefined) throw new KvError('BAD_REQUEST', `${flag} is required\n${USAGE}`)
    return fallback
  }
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new KvError(
      'BAD_REQUEST',
      `${flag} ${JSON.stringify(text)} must be a whole number from ${min} to ${max}\n${USAGE}`,
    )
  return n
}
