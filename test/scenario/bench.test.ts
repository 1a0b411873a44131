/**
 * `kv bench` as CONTRACT.md gives it, through the real binary against real replicas: the JSON shape
 * with and without --baseline in both modes, every request counted (--ops), reads after the keys were
 * filled, the human report with its histogram, and clear errors (no live replica: UNAVAILABLE at once;
 * bad flags: BAD_REQUEST). It checks that the numbers are there and consistent, never how fast they
 * are: speed is shown by `npm run bench`, not asserted.
 */
import {expect} from 'chai'
import {TestCluster, uniqueCluster} from '../support/cluster.js'
import {cliTarget, parseJson, runCli, useScenario} from './scenario-support.js'

interface BenchJson {
  op: string
  clients: number
  ops: number
  errors: number
  seconds: number
  opsPerSec: number
  latencyMs: {p50: number; p90: number; p99: number; max: number}
  baseline: {roundTripsPerSec: number; latencyMs: {p50: number; p99: number}} | null
  ratio: number | null
}

function expectReport(j: BenchJson, op: string, clients: number, ops: number): void {
  expect(Object.keys(j).sort()).to.deep.equal(
    ['baseline', 'clients', 'errors', 'latencyMs', 'op', 'ops', 'opsPerSec', 'ratio', 'seconds'].sort(),
  )
  expect(j).to.include({op, clients, ops, errors: 0})
  expect(j.seconds).to.be.greaterThan(0)
  expect(j.opsPerSec).to.be.closeTo(ops / j.seconds, ops / j.seconds / 100 + 0.1)
  const l = j.latencyMs
  expect(l.p50).to.be.greaterThan(0)
  expect(l.p50).to.be.at.most(l.p90)
  expect(l.p90).to.be.at.most(l.p99)
  expect(l.p99).to.be.at.most(l.max)
}

describe('kv bench (real binary, real replicas)', function () {
  this.timeout(120_000)
  const scenario = useScenario()

  it('eventual: put with --baseline reports the raw round trips and their ratio; read after filling the keys', async () => {
    const cluster = await scenario.startCluster('bench-ev', ['n1', 'n2', 'n3'])
    const put = await runCli(
      ['bench', ...cliTarget(cluster), '--ops', '300', '--clients', '8', '--baseline', '--json'],
      {
        timeoutMs: 60_000,
      },
    )
    expect(put.code, put.stderr).to.equal(0)
    const p = parseJson(put) as unknown as BenchJson
    expectReport(p, 'put', 8, 300)
    expect(p.baseline).to.not.equal(null)
    const b = p.baseline as NonNullable<BenchJson['baseline']>
    expect(b.roundTripsPerSec).to.be.greaterThan(0)
    expect(b.latencyMs.p50).to.be.at.most(b.latencyMs.p99)
    expect(p.ratio).to.be.closeTo(p.opsPerSec / b.roundTripsPerSec, 0.001)

    const read = await runCli(
      [
        'bench',
        ...cliTarget(cluster),
        '--op',
        'read',
        '--ops',
        '200',
        '--clients',
        '4',
        '--keys',
        '50',
        '--r',
        '2',
        '--json',
      ],
      {timeoutMs: 60_000},
    )
    expect(read.code, read.stderr).to.equal(0)
    const r = parseJson(read) as unknown as BenchJson
    expectReport(r, 'read', 4, 200)
    expect(r).to.include({baseline: null, ratio: null})
    // the prefill wrote every one of the 50 keys
    const c = await cluster.client()
    const got = await c.read('bench-49', {node: 'n2', r: 1})
    expect(got.found).to.equal(true)
    expect(got.values[0]?.value).to.equal('v'.repeat(100))
  })

  it('quorum: mixed load, and the human report with its histogram', async () => {
    const redis = scenario.redis()
    const cluster = new TestCluster(redis.url, uniqueCluster('bench-q'), ['n1', 'n2', 'n3'], 'quorum')
    cluster.startAll()
    try {
      await cluster.waitAlive()
      const mixed = await runCli(
        [
          'bench',
          ...cliTarget(cluster),
          '--op',
          'mixed',
          '--ops',
          '200',
          '--clients',
          '4',
          '--value-bytes',
          '10',
          '--json',
        ],
        {timeoutMs: 60_000},
      )
      expect(mixed.code, mixed.stderr).to.equal(0)
      expectReport(parseJson(mixed) as unknown as BenchJson, 'mixed', 4, 200)
      const human = await runCli(['bench', ...cliTarget(cluster), '--duration', '1', '--clients', '2'], {
        timeoutMs: 60_000,
      })
      expect(human.code, human.stderr).to.equal(0)
      expect(human.stdout).to.match(/^put: [\d.]+ ops\/s, \d+ requests from 2 clients in [\d.]+ s, 0 errors$/m)
      expect(human.stdout).to.match(/^latency \(ms\): p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}max [\d.]+$/m)
      expect(human.stdout).to.match(/^histogram:\n( {2}[\d.]+ – [\d.]+ ms +\d+ +[█▏]*\n?)+/m)
      expect(human.stderr).to.equal('') // no progress bar when stderr is not a terminal
    } finally {
      await cluster.close()
    }
  })

  it('fails clearly: no live replica is UNAVAILABLE at once; bad flags are BAD_REQUEST', async () => {
    const target = ['--redis', scenario.redis().url, '--cluster', uniqueCluster('bench-none')]
    const none = await runCli(['bench', ...target, '--ops', '10', '--json'])
    expect(none.code).to.equal(1)
    expect(parseJson(none)).to.have.nested.property('error.code', 'UNAVAILABLE')
    for (const bad of [
      ['--duration', 'soon'],
      ['--ops', '0'],
      ['--op', 'scan'],
      ['--ops', '5', '--duration', '1'],
      ['--w', 'most'],
    ]) {
      const run = await runCli(['bench', ...target, ...bad, '--json'])
      expect(run.code, `${bad.join(' ')}: ${run.stdout}`).to.equal(2)
      expect(parseJson(run)).to.have.nested.property('error.code', 'BAD_REQUEST')
    }
  })
})
