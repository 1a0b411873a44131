/**
 * Child output, one line at a time with the child's name in front, so the interleaved output of
 * five replicas stays readable. Used by the supervisor for replicas and the embedded broker.
 */
import {createInterface} from 'node:readline'
import type {Readable} from 'node:stream'

/** Calls `emit(prefix + line)` for every line `stream` produces, until it ends. */
export function prefixLines(stream: Readable | null, prefix: string, emit: (line: string) => void): void {
  if (!stream) return
  const lines = createInterface({input: stream, crlfDelay: Number.POSITIVE_INFINITY})
  lines.on('line', (line) => emit(`${prefix}${line}`))
}
