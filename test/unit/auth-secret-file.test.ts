/**
 * Reading the cluster secret (src/auth/secret-file.ts): every fault is BAD_REQUEST with a message
 * that names the file and says what to do; a private file with one or two long-enough secrets is
 * read with whitespace and CRLF trimmed, signing secret first. And which file a command uses.
 */
import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {SECRETS_MAX, SECRET_BYTES_MIN, readSecretFile, secretFilePath} from '../../src/auth/secret-file.js'
import {KvError} from '../../src/core/errors.js'

const S1 = 'A'.repeat(SECRET_BYTES_MIN)
const S2 = 'b9/+Z'.repeat(10) // 50 bytes, base64-looking
const S3 = 'c'.repeat(40)

let dir = ''

function file(name: string, content: string | Buffer, mode = 0o600): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  chmodSync(path, mode) // explicit: the umask must not decide
  return path
}

/** The KvError readSecretFile throws for `path` (fails the test if it returns or throws anything else). */
function refusal(path: string): KvError {
  try {
    readSecretFile(path)
  } catch (error) {
    expect(error).to.be.instanceOf(KvError)
    const e = error as KvError
    expect(e.code).to.equal('BAD_REQUEST')
    expect(e.message, 'names the file').to.include(path)
    return e
  }
  throw new Error(`readSecretFile(${path}) accepted it`)
}

const strings = (bufs: Buffer[]): string[] => bufs.map((b) => b.toString('utf8'))

describe('auth secret file', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kv-secret-test-'))
  })
  after(() => {
    rmSync(dir, {recursive: true, force: true})
  })

  describe('refuses', () => {
    it('a missing file, pointing at the README', () => {
      const e = refusal(join(dir, 'does-not-exist'))
      expect(e.message).to.match(/does not exist/)
      expect(e.message).to.match(/create it/)
      expect(e.message).to.include('README')
    })

    it('a directory', () => {
      const sub = join(dir, 'a-dir')
      mkdirSync(sub, {mode: 0o700})
      const e = refusal(sub)
      expect(e.message).to.match(/not a regular file/)
    })

    it('a file every user can read (644, 604, 777), saying to chmod 600 and showing the mode', () => {
      for (const mode of [0o644, 0o604, 0o777]) {
        const path = file(`open-${mode.toString(8)}`, `${S1}\n`, mode)
        const e = refusal(path)
        expect(e.message).to.match(/readable by every user/)
        expect(e.message).to.include(`mode ${mode.toString(8)}`)
        expect(e.message).to.include('chmod 600')
      }
    })

    it('a file every user can write (602, 622): another user could swap the secret', () => {
      for (const mode of [0o602, 0o622]) {
        const e = refusal(file(`writable-${mode.toString(8)}`, `${S1}\n`, mode))
        expect(e.message).to.match(/writable by every user/)
        expect(e.message).to.include('chmod 600')
      }
    })

    it('checks the mode before reading: a world-readable file is refused even if its content is fine', () => {
      const e = refusal(file('open-good-content', `${S1}\n${S2}\n`, 0o644))
      expect(e.message).to.match(/readable by every user/)
    })

    it('an empty file, and one of only whitespace and blank lines, saying how to make a secret', () => {
      for (const [name, content] of [
        ['empty', ''],
        ['blank', ' \n\r\n\t\n   '],
      ] as const) {
        const e = refusal(file(name, content))
        expect(e.message, name).to.match(/is empty/)
        expect(e.message).to.include(`at least ${SECRET_BYTES_MIN} bytes`)
        expect(e.message).to.include('openssl rand')
      }
    })

    it('a secret one byte too short (31 bytes), naming the line and its length', () => {
      const e = refusal(file('short', `${'x'.repeat(SECRET_BYTES_MIN - 1)}\n`))
      expect(e.message).to.include('line 1')
      expect(e.message).to.include(`only ${SECRET_BYTES_MIN - 1} bytes`)
      expect(e.message).to.include('openssl rand')
    })

    it('a short second secret, naming line 2', () => {
      const e = refusal(file('short-second', `${S1}\nshort\n`))
      expect(e.message).to.include('line 2 holds only 5 bytes')
    })

    it('counts bytes, not characters: 16 two-byte characters (32 bytes) pass, 15 (30 bytes) do not', () => {
      expect(strings(readSecretFile(file('utf8-ok', 'é'.repeat(16))))).to.deep.equal(['é'.repeat(16)])
      expect(refusal(file('utf8-short', 'é'.repeat(15))).message).to.include('only 30 bytes')
    })

    it('three secrets, saying at most two', () => {
      const e = refusal(file('three', `${S1}\n${S2}\n${S3}\n`))
      expect(SECRETS_MAX).to.equal(2)
      expect(e.message).to.include('holds 3 secrets')
      expect(e.message).to.include(`at most ${SECRETS_MAX}`)
    })

    it('a file it cannot read (skipped when running as root, who can read any file)', function () {
      if (process.getuid?.() === 0) this.skip() // root ignores permission bits: nothing to test
      const path = file('unreadable', `${S1}\n`, 0o000)
      const e = refusal(path)
      expect(e.message).to.match(/cannot be read \(EACCES\)/)
    })
  })

  describe('accepts', () => {
    it('mode 600 with one secret', () => {
      expect(strings(readSecretFile(file('one-600', `${S1}\n`, 0o600)))).to.deep.equal([S1])
    })

    it('mode 640 and 400 (group-readable, read-only) with one secret', () => {
      expect(strings(readSecretFile(file('one-640', S1, 0o640)))).to.deep.equal([S1])
      expect(strings(readSecretFile(file('one-400', S1, 0o400)))).to.deep.equal([S1])
    })

    it('two secrets, signing (first line) first, with CRLF, blank lines and surrounding spaces trimmed', () => {
      const path = file('two', `\r\n  ${S2}  \r\n\r\n\t${S1}\t\r\n\n`, 0o640)
      const got = readSecretFile(path)
      expect(strings(got)).to.deep.equal([S2, S1])
      expect(got.every((b) => Buffer.isBuffer(b))).to.equal(true)
      expect(got[0]!.length).to.equal(S2.length)
    })

    it('exactly SECRET_BYTES_MIN bytes', () => {
      expect(readSecretFile(file('exact', S1))[0]!.length).to.equal(SECRET_BYTES_MIN)
    })

    it('keeps inner spaces of a secret (only the ends are trimmed)', () => {
      const inner = `${'k'.repeat(20)} ${'m'.repeat(20)}`
      expect(strings(readSecretFile(file('inner', `  ${inner}  \n`)))).to.deep.equal([inner])
    })
  })

  describe('secretFilePath', () => {
    it('prefers the flag to $KV_SECRET_FILE', () => {
      expect(secretFilePath('/from/flag', {KV_SECRET_FILE: '/from/env'})).to.equal('/from/flag')
    })

    it('uses $KV_SECRET_FILE without a flag, and none when it is unset or empty', () => {
      expect(secretFilePath(undefined, {KV_SECRET_FILE: '/from/env'})).to.equal('/from/env')
      expect(secretFilePath(undefined, {})).to.equal(undefined)
      expect(secretFilePath(undefined, {KV_SECRET_FILE: ''})).to.equal(undefined)
    })

    it('reads process.env by default', () => {
      const saved = process.env.KV_SECRET_FILE
      try {
        process.env.KV_SECRET_FILE = '/default/env/path'
        expect(secretFilePath(undefined)).to.equal('/default/env/path')
        expect(secretFilePath('/flag')).to.equal('/flag')
      } finally {
        if (saved === undefined) delete process.env.KV_SECRET_FILE
        else process.env.KV_SECRET_FILE = saved
      }
    })
  })
})
