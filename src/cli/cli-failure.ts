/**
 * How any failure of a command reaches the user: a code, a one-line message and an exit status.
 * Used by KvCommand.catch; pure so unit tests can check the mapping without spawning the CLI.
 */
import {EXIT_STATUS, type ErrorCode, KvError} from '../core/errors.js'

/** A bug, not an expected failure: no contract code fits, so the JSON says so plainly. */
export type CliFailureCode = ErrorCode | 'INTERNAL'

/** What KvCommand.catch prints and exits with. */
export interface CliFailure {
  readonly code: CliFailureCode
  readonly message: string
  readonly exitStatus: number
}

/** Maps a KvError to its contract code and exit status; anything else is an unexpected error (exit 1). */
export function toCliFailure(error: unknown): CliFailure {
  if (error instanceof KvError)
    return {code: error.code, message: oneLine(error.message), exitStatus: EXIT_STATUS[error.code]}
  const message = error instanceof Error ? error.message : String(error)
  return {
    code: 'INTERNAL',
    message: oneLine(`unexpected failure: ${message} (this is a bug in kv; rerun with DEBUG=kv* and report it)`),
    exitStatus: 1,
  }
}

/** Called by KvCommand.parse: oclif's flag/argument errors become BAD_REQUEST with their own wording. */
export function parseFailure(error: unknown): KvError {
  if (error instanceof KvError) return error
  const message = oneLine(error instanceof Error ? error.message : String(error))
  return new KvError('BAD_REQUEST', message.replace(/\bSee more help with --help\b/i, 'see --help'))
}

/** The contract's JSON error document. */
export function errorJson(failure: CliFailure): {error: {code: string; message: string}} {
  return {error: {code: failure.code, message: failure.message}}
}

/** Strips terminal colours and folds lines: errors are one line on stderr and in JSON. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\u001B\[[0-9;]*m/g, '')
  return plain
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join('; ')
    .replace(/:; /g, ': ')
}

/** True when --json appears among the command's own arguments (before any `--`). */
export function jsonRequested(argv: readonly string[]): boolean {
  const end = argv.indexOf('--')
  const args = end === -1 ? argv : argv.slice(0, end)
  return args.includes('--json')
}
