/**
 * Reading `--secret-file` / $KV_SECRET_FILE. The file holds one secret per line (at least 32 bytes
 * each; surrounding whitespace is ignored): the first signs, a second one is an older secret still
 * accepted during a rotation. A file that is missing, unreadable, too short, holds more than two
 * secrets, or can be read by every user on the machine is refused with a message that says what to fix.
 */
import {readFileSync, statSync} from 'node:fs'
import {KvError} from '../core/errors.js'

export const SECRET_BYTES_MIN = 32
export const SECRETS_MAX = 2

/** The secret file a command uses: its flag, else $KV_SECRET_FILE, else none. */
export function secretFilePath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return flag ?? (env.KV_SECRET_FILE || undefined)
}

/** The secrets in `path`, signing secret first; BAD_REQUEST with a clear message for every fault. */
export function readSecretFile(path: string): Buffer[] {
  const fail = (why: string): never => {
    throw new KvError('BAD_REQUEST', `secret file ${path} ${why}`)
  }
  let mode: number
  try {
    const st = statSync(path)
    if (!st.isFile()) fail('is not a regular file; point --secret-file at the file that holds the secret')
    mode = st.mode
  } catch (error) {
    if (error instanceof KvError) throw error
    const code = (error as NodeJS.ErrnoException).code
    return fail(
      code === 'ENOENT'
        ? 'does not exist; create it (see README "Authenticated clusters")'
        : `cannot be read (${code})`,
    )
  }
  if ((mode & 0o006) !== 0)
    fail(
      `is ${(mode & 0o004) !== 0 ? 'readable' : 'writable'} by every user (mode ${(mode & 0o777).toString(8)}); make it private with chmod 600`,
    )
  let text: Buffer
  try {
    text = readFileSync(path)
  } catch (error) {
    return fail(`cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  const secrets = text
    .toString('utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => Buffer.from(line, 'utf8'))
  if (secrets.length === 0)
    fail(`is empty; put a secret of at least ${SECRET_BYTES_MIN} bytes in it (openssl rand -base64 48)`)
  if (secrets.length > SECRETS_MAX)
    fail(
      `holds ${secrets.length} secrets; at most ${SECRETS_MAX} (the current one, then the older one during a rotation)`,
    )
  secrets.forEach((s, i) => {
    if (s.length < SECRET_BYTES_MIN)
      fail(
        `line ${i + 1} holds only ${s.length} bytes; a secret needs at least ${SECRET_BYTES_MIN} (openssl rand -base64 48)`,
      )
  })
  return secrets
}
