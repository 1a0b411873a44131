/**
 * Proves the CLI's error contract by running the real binary (`node bin/run.js …`, built by
 * `npm run build`) as a user would: --help lists every command; bad input and oclif's own parse
 * errors are BAD_REQUEST with exit 2 (as JSON with --json, one stderr line without); an unreachable
 * broker is REDIS_UNAVAILABLE naming the URL; a named replica that is not alive is UNAVAILABLE at
 * once (well before the 5 s reply timeout), against a private redis-server on a free port.
 */
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {resolve} from 'node:path'
import {expect} from 'chai'
import {TestRedis} from '../support/redis-server.js'

const ROOT = resolve(import.meta.dirname, '../..')
const RUN_JS = resolve(ROOT, 'bin/run.js')

interface Run {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/** Runs the CLI with a clean environment (no broker or cluster variables leak in from the shell). */
function kv(args: string[], stdin?: Buffer): Promise<Run> {
  const leaky = new Set(['KV_REDIS_URL', 'REDIS_URL', 'KV_CLUSTER'])
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !leaky.has(name)))
  const started = Date.now()
  return new Promise((done) => {
    const child = execFile(
      process.execPath,
      [RUN_JS, ...args],
      {cwd: ROOT, env, timeout: 30_000},
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        done({code, stdout, stderr, ms: Date.now() - started})
      },
    )
    child.stdin?.on('error', () => {}) // the CLI may stop reading early (that is the point of the limit)
    child.stdin?.end(stdin ?? '')
  })
}

/** The single JSON document a --json run printed. */
function json(run: Run): {error?: {code: string; message: string}} & Record<string, unknown> {
  const lines = run.stdout.trim().split('\n')
  expect(lines, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).to.have.length(1)
  return JSON.parse(lines[0] as string) as never
}

describe('CLI errors (real binary)', function () {
  this.timeout(60_000)

  before(() => {
    if (!existsSync(resolve(ROOT, 'dist/commands/put.js')))
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  })

  it('--help lists every command and topic, and each topic lists its commands', async () => {
    const root = await kv(['--help'])
    expect(root.code).to.equal(0)
    for (const name of ['put', 'read', 'delete', 'status', 'cluster', 'fault', 'node']) {
      expect(root.stdout).to.match(new RegExp(`^\\s+${name}\\s`, 'm'), name)
    }
    const fault = await kv(['fault', '--help'])
    expect(fault.stdout)
      .to.match(/fault heal/)
      .and.to.match(/fault partition/)
    const cluster = await kv(['cluster', '--help'])
    expect(cluster.stdout).to.match(/cluster up/)
    const put = await kv(['put', '--help'])
    expect(put.stdout)
      .to.match(/EXAMPLES/)
      .and.to.match(/--context/)
      .and.to.match(/--timeout/)
  })

  // The unreachable --redis proves validation happens before connecting: else it would be REDIS_UNAVAILABLE.
  it('refuses an empty key with BAD_REQUEST, exit 2, as JSON and as one stderr line', async () => {
    const asJson = await kv(['put', '', 'x', '--json', '--redis', 'redis://127.0.0.1:1'])
    expect(asJson.code).to.equal(2)
    expect(json(asJson).error).to.include({code: 'BAD_REQUEST'})
    const human = await kv(['put', '', 'x'])
    expect(human.code).to.equal(2)
    expect(human.stdout).to.equal('')
    expect(human.stderr).to.match(/^error: the key is empty[^\n]*\n$/)
  })

  it('refuses a value over 1 MiB on stdin (VALUE -) with BAD_REQUEST before connecting', async () => {
    const run = await kv(
      ['put', 'k', '-', '--json', '--redis', 'redis://127.0.0.1:1'],
      Buffer.alloc(1024 * 1024 + 1, 'v'),
    )
    expect(run.code).to.equal(2)
    expect(json(run).error?.message).to.match(/over the limit/)
  })

  it('turns oclif parse errors (unknown flag, bad option, missing argument) into BAD_REQUEST exit 2', async () => {
    for (const args of [
      ['put', 'k', 'v', '--bogus', '--json'],
      ['cluster', 'up', '--mode', 'sideways', '--json'],
      ['read', '--json'],
      ['put', 'k', 'v', '--timeout', 'soon', '--json'],
      ['put', 'k', 'v', '--w', 'most', '--json'],
      ['fault', 'partition', 'n1', '--json'],
    ]) {
      const run = await kv(args)
      expect(run.code, args.join(' ')).to.equal(2)
      expect(json(run).error, args.join(' ')).to.include({code: 'BAD_REQUEST'})
    }
    const human = await kv(['status', '--bogus'])
    expect(human.code).to.equal(2)
    expect(human.stderr).to.match(/^error: Nonexistent flag: --bogus[^\n]*\n$/)
  })

  it('reports an unreachable broker as REDIS_UNAVAILABLE, exit 1, naming the URL', async () => {
    const run = await kv(['status', '--redis', 'redis://127.0.0.1:1', '--json'])
    expect(run.code).to.equal(1)
    const {error} = json(run)
    expect(error?.code).to.equal('REDIS_UNAVAILABLE')
    expect(error?.message).to.include('redis://127.0.0.1:1')
  })

  describe('against a private redis-server', () => {
    let redis: TestRedis | undefined
    const redisUrl = (): string => {
      if (!redis) throw new Error('the broker did not start')
      return redis.url
    }

    before(async function () {
      this.timeout(30_000)
      redis = await TestRedis.start()
    })

    after(async () => {
      await redis?.stop()
    })

    it('reports a named replica that is not alive as UNAVAILABLE, exit 1, at once', async () => {
      const run = await kv([
        'put',
        'k',
        'v',
        '--node',
        'nope',
        '--json',
        '--redis',
        redisUrl(),
        '--cluster',
        `cli-errors-${process.pid}`,
      ])
      expect(run.code).to.equal(1)
      const {error} = json(run)
      expect(error?.code).to.equal('UNAVAILABLE')
      expect(error?.message).to.match(/replica nope is not alive/)
      expect(run.ms, 'must not wait for the 5 s reply timeout').to.be.below(4000)
    })

    it('reports a cluster with no live replica as UNAVAILABLE for a read without --node', async () => {
      const run = await kv([
        'read',
        'k',
        '--json',
        '--redis',
        redisUrl(),
        '--cluster',
        `cli-errors-empty-${process.pid}`,
      ])
      expect(run.code).to.equal(1)
      expect(json(run).error).to.include({code: 'UNAVAILABLE'})
      expect(run.ms).to.be.below(4000)
    })

    it('prints the status of a cluster nobody registered in as JSON, exit 0', async () => {
      const run = await kv(['status', '--json', '--redis', redisUrl(), '--cluster', `cli-errors-none-${process.pid}`])
      expect(run.code).to.equal(0)
      expect(json(run)).to.deep.equal({cluster: `cli-errors-none-${process.pid}`, mode: null, leader: null, nodes: []})
    })
  })
})
