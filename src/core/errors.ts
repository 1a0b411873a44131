/**
 * Expected failures with a stable code (../../README.md, "Errors"). Every layer throws or returns these;
 * the CLI maps `code` to an exit status and the JSON error shape of the contract.
 */
export type ErrorCode =
  'BAD_REQUEST' | 'NO_QUORUM' | 'TIMEOUT' | 'UNAVAILABLE' | 'REDIS_UNAVAILABLE' | 'UNAUTHENTICATED'

export const ERROR_CODES: readonly ErrorCode[] = [
  'BAD_REQUEST',
  'NO_QUORUM',
  'TIMEOUT',
  'UNAVAILABLE',
  'REDIS_UNAVAILABLE',
  'UNAUTHENTICATED',
]

/** Exit status of the CLI for each code: bad input is 2, everything else 1. */
export const EXIT_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 2,
  NO_QUORUM: 1,
  TIMEOUT: 1,
  UNAVAILABLE: 1,
  REDIS_UNAVAILABLE: 1,
  UNAUTHENTICATED: 1,
}

/** A failure the user can act on; `message` says what happened and what to do. */
export class KvError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'KvError'
  }

  toJSON(): {code: ErrorCode; message: string} {
    return {code: this.code, message: this.message}
  }
}

export function isErrorCode(x: unknown): x is ErrorCode {
  return typeof x === 'string' && (ERROR_CODES as readonly string[]).includes(x)
}
