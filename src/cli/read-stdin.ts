/**
 * `kv put KEY -`: the value comes from stdin, read to the end, byte for byte (no newline is
 * stripped). Reading stops as soon as the input passes the value limit, so a huge pipe is refused
 * without being held in memory.
 */
import {KvError} from '../core/errors.js'
import {LIMITS} from '../core/limits.js'

/** Called by the put command when VALUE is `-`. */
export async function readStdinValue(input: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = []
  let bytes = 0
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    bytes += buffer.length
    if (bytes > LIMITS.valueBytesMax) {
      throw new KvError('BAD_REQUEST', `the value on stdin is over the limit of ${LIMITS.valueBytesMax} bytes (1 MiB)`)
    }
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}
