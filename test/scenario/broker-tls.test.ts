/**
 * Proves that a cluster works over `rediss://` against a broker whose certificate the system does not
 * know, once NODE_EXTRA_CA_CERTS names its CA, and that a certificate signed by another CA is refused
 * with a message that says what to do. How: the test makes a CA and a server certificate for
 * IP:127.0.0.1 with `openssl` (and a second, unrelated CA), starts a TLS-only redis-server on a free
 * port, runs three replicas and the CLI with NODE_EXTRA_CA_CERTS=ca.crt (put, read, status); then the
 * CLI and `kv node start` with the other CA must fail with REDIS_UNAVAILABLE / a non-zero exit and a
 * one-line "TLS certificate … is not trusted … NODE_EXTRA_CA_CERTS" message.
 */
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {expect} from 'chai'
import {RUN_JS, TestCluster, uniqueCluster} from '../support/cluster.js'
import {TestRedis} from '../support/redis-server.js'
import {waitFor} from '../support/wait.js'
import {parseJson, printLogTails, runCli} from './scenario-support.js'

const IDS = ['n1', 'n2', 'n3']

/** Runs one openssl command (its words split at spaces) in `dir`, where the PEM files live. */
function openssl(dir: string, command: string): void {
  execFileSync('openssl', command.split(' '), {cwd: dir, stdio: ['ignore', 'pipe', 'pipe']})
}

describe('a broker over TLS (rediss://)', function () {
  this.timeout(60_000)
  const dir = mkdtempSync(join(tmpdir(), 'kv-tls-'))
  const name = uniqueCluster('tls')
  let redis: TestRedis | undefined
  let cluster: TestCluster | undefined
  let trusted = {NODE_EXTRA_CA_CERTS: ''}
  let untrusted = {NODE_EXTRA_CA_CERTS: ''}

  const url = (): string => {
    if (!redis) throw new Error('the broker did not start')
    return redis.url
  }

  before(async function () {
    this.timeout(30_000)
    const pem = (file: string): string => join(dir, file)
    for (const ca of ['ca', 'other-ca'])
      openssl(dir, `req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kv-test-${ca} -keyout ${ca}.key -out ${ca}.crt`)
    openssl(dir, 'req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr')
    writeFileSync(pem('server.ext'), 'subjectAltName=IP:127.0.0.1\n')
    openssl(
      dir,
      'x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt',
    )
    const ca = pem('ca.crt')
    trusted = {NODE_EXTRA_CA_CERTS: ca}
    untrusted = {NODE_EXTRA_CA_CERTS: pem('other-ca.crt')}
    redis = await TestRedis.start({tls: {certFile: pem('server.crt'), keyFile: pem('server.key'), caFile: ca}})
  })

  afterEach(async function () {
    this.timeout(30_000)
    if (this.currentTest?.state === 'failed') printLogTails([cluster], 30)
    await cluster?.close()
    cluster = undefined
  })

  after(async () => {
    await redis?.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  it('runs a cluster over rediss:// with NODE_EXTRA_CA_CERTS naming the CA: put, read, status', async () => {
    expect(url()).to.match(/^rediss:\/\//)
    cluster = new TestCluster(url(), name, IDS, 'eventual', {env: trusted})
    cluster.startAll()
    const kv = async (args: string[]) => {
      const run = await runCli([...args, '--redis', url(), '--cluster', name, '--json'], {env: trusted})
      return {run, json: parseJson(run)}
    }
    // The test process itself cannot trust the CA (NODE_EXTRA_CA_CERTS is read at start), so it
    // watches the cluster through the CLI.
    await waitFor(
      'three replicas alive over TLS',
      async () => {
        const {json} = await kv(['status'])
        const nodes = (json.nodes ?? []) as {alive: boolean; peersAlive?: string[]}[]
        return nodes.filter((n) => n.alive && n.peersAlive?.length === 3).length === 3
      },
      {timeoutMs: 30_000, intervalMs: 250},
    )
    const put = await kv(['put', 'colour', 'blue', '--w', 'all'])
    expect(put.run.code, put.run.stdout + put.run.stderr).to.equal(0)
    for (const id of IDS) {
      const read = await kv(['read', 'colour', '--node', id, '--r', '1'])
      expect(read.json.values, id).to.deep.equal([{value: 'blue', clock: put.json.clock}])
    }
    const status = await kv(['status'])
    expect(status.json.cluster).to.equal(name)
    expect((status.json.nodes as {alive: boolean}[]).every((n) => n.alive)).to.equal(true)
  })

  it('refuses a broker certificate signed by another CA, saying to set NODE_EXTRA_CA_CERTS', async () => {
    const run = await runCli(['status', '--redis', url(), '--cluster', name, '--json'], {env: untrusted})
    expect(run.code, run.stdout + run.stderr).to.equal(1)
    const error = (parseJson(run).error ?? {}) as {code?: string; message?: string}
    expect(error.code).to.equal('REDIS_UNAVAILABLE')
    expect(error.message).to.match(/TLS certificate at rediss:\/\/127\.0\.0\.1:\d+\/? is not trusted/)
    expect(error.message).to.include('NODE_EXTRA_CA_CERTS')

    const human = await runCli(['read', 'colour', '--redis', url(), '--cluster', name], {env: untrusted})
    expect(human.code).to.equal(1)
    expect(human.stderr).to.match(/^error: the broker's TLS certificate [^\n]* is not trusted [^\n]*\n$/)
  })

  it('stops `kv node start` within seconds when the broker certificate is not trusted', async () => {
    const started = Date.now()
    const child = spawn(
      process.execPath,
      [RUN_JS, 'node', 'start', '--id', 'n9', '--peers', 'n9', '--cluster', name, '--data-dir', join(dir, 'n9')].concat(
        ['--redis', url()],
      ),
      {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...untrusted}},
    )
    let stderr = ''
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      child.on('exit', (exitCode) => {
        clearTimeout(timer)
        done(exitCode)
      })
    })
    expect(code, stderr).to.be.a('number').and.not.equal(0)
    expect(Date.now() - started, 'exits within seconds').to.be.below(10_000)
    const errors = stderr.split('\n').filter((line) => line.startsWith('error: '))
    expect(errors, stderr).to.have.length(1)
    expect(errors[0]).to.match(/TLS certificate .* is not trusted .*NODE_EXTRA_CA_CERTS/)
  })
})
