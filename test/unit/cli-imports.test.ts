/**
 * Proves that the client commands load only client code: importing put/read/delete/status/fault
 * (as oclif does, one command module per run) must not pull in bullmq, the simulator, the checkers,
 * the nemesis, the storage engine or the replica runtime, which only `kv node start` needs. Each
 * import runs in a fresh `node` with a resolve hook that appends every resolved URL to a file; the
 * positive control shows the hook does see a heavy import when there is one.
 */
import {execFile} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {pathToFileURL} from 'node:url'
import {expect} from 'chai'

const ROOT = resolve(import.meta.dirname, '../..')

/** What a client command must never load. */
const SERVER_SIDE =
  /bullmq|\/src\/(sim|check|nemesis|storage)\/|\/core\/replica-core\.|\/runtime\/(replica-runner|run-replica)\.|\/redis\/(hint-queues|redis-replica-host)\.|\/cluster\/supervisor\./

const CLIENT_COMMANDS = ['put', 'read', 'delete', 'status', 'fault/partition', 'fault/heal']

/** A resolve hook (run on Node's loader thread) that appends each resolved URL to data.out, synchronously. */
const HOOK = `import {appendFileSync} from 'node:fs'
let out
export function initialize(data) { out = data.out }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(out, result.url + '\\n')
  return result
}`

/** Every URL resolved while a fresh node (with tsx, as mocha runs the sources) imports `file`. */
async function urlsLoadedBy(file: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-imports-'))
  const out = join(dir, 'urls.txt')
  const script = [
    `import {register} from 'node:module'`,
    `register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)}, {data: {out: ${JSON.stringify(out)}}})`,
    `await import(${JSON.stringify(pathToFileURL(resolve(ROOT, file)).href)})`,
  ].join('\n')
  try {
    await new Promise<void>((done, fail) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', script],
        {cwd: ROOT, timeout: 30_000},
        (error, _stdout, stderr) => {
          if (error) fail(new Error(`importing ${file} failed: ${stderr}`))
          else done()
        },
      )
    })
    return readFileSync(out, 'utf8').split('\n').filter(Boolean)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

describe('CLI client commands load only client code', function () {
  this.timeout(60_000)

  it('the hook sees a server-side import when there is one (positive control)', async () => {
    const urls = await urlsLoadedBy('src/redis/hint-queues.ts')
    expect(urls.filter((url) => SERVER_SIDE.test(url))).to.not.have.length(0)
  })

  for (const command of CLIENT_COMMANDS) {
    it(`kv ${command.replace('/', ' ')} loads no bullmq, simulator, checker, nemesis, storage or replica code`, async () => {
      const urls = await urlsLoadedBy(`src/commands/${command}.ts`)
      expect(
        urls.some((url) => url.endsWith(`/src/commands/${command}.ts`)),
        'the command itself was loaded',
      ).to.equal(true)
      expect(urls.filter((url) => SERVER_SIDE.test(url))).to.deep.equal([])
    })
  }

  it('kv node start and kv cluster up load their runtime only when they run', async () => {
    for (const command of ['node/start', 'cluster/up']) {
      const urls = await urlsLoadedBy(`src/commands/${command}.ts`)
      expect(
        urls.filter((url) => SERVER_SIDE.test(url)),
        command,
      ).to.deep.equal([])
    }
  })
})
