/**
 * Proves the built CLI starts lean (needs `npm run build`, which npm test runs first): the build wrote
 * oclif.manifest.json listing every compiled command (a stale one would hide a command), and a run of
 * the real binary loads only its own command module through it: without the manifest oclif imports
 * every command, `kv node start`'s replica runtime and bullmq included, on every run.
 */
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative, resolve} from 'node:path'
import {expect} from 'chai'

const ROOT = resolve(import.meta.dirname, '../..')
const COMMANDS = resolve(ROOT, 'dist/commands')

/** A resolve hook (run on Node's loader thread) that appends each resolved URL to data.out, synchronously. */
const HOOK = `import {appendFileSync} from 'node:fs'
let out
export function initialize(data) { out = data.out }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(out, result.url + '\\n')
  return result
}`

/** The command ids of the compiled command files: dist/commands/fault/heal.js is fault:heal. */
function compiledCommandIds(dir = COMMANDS): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    if (entry.isDirectory()) return compiledCommandIds(join(dir, entry.name))
    if (!entry.name.endsWith('.js')) return []
    return [relative(COMMANDS, join(dir, entry.name)).replace(/\.js$/, '').split('/').join(':')]
  })
}

/** Runs `bin/run.js args` with the hook; every URL the ES module loader resolved. */
async function urlsLoadedByRun(args: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kv-startup-'))
  const out = join(dir, 'urls.txt')
  const register = [
    `import {register} from 'node:module'`,
    `register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOK)}`)}, {data: {out: ${JSON.stringify(out)}}})`,
  ].join('\n')
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !['KV_REDIS_URL', 'REDIS_URL', 'KV_CLUSTER'].includes(name)),
  )
  try {
    await new Promise<void>((done) => {
      execFile(
        process.execPath,
        ['--import', `data:text/javascript,${encodeURIComponent(register)}`, resolve(ROOT, 'bin/run.js'), ...args],
        {cwd: ROOT, env, timeout: 30_000},
        () => done(), // the exit status is not the point here (an unreachable broker is fine)
      )
    })
    return readFileSync(out, 'utf8').split('\n').filter(Boolean)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

describe('CLI startup (real binary)', function () {
  this.timeout(60_000)

  before(() => {
    if (!existsSync(resolve(COMMANDS, 'put.js')))
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
  })

  it('the build wrote oclif.manifest.json listing every compiled command', () => {
    const manifestPath = resolve(ROOT, 'oclif.manifest.json')
    expect(existsSync(manifestPath), 'oclif.manifest.json (written by npm run build)').to.equal(true)
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {commands: Record<string, unknown>}
    expect(Object.keys(manifest.commands).sort()).to.deep.equal(compiledCommandIds().sort())
  })

  it('kv put loads its own command module and no other, and kv --version none', async () => {
    const put = await urlsLoadedByRun(['put', 'k', 'v', '--json', '--redis', 'redis://127.0.0.1:1', '--timeout', '1'])
    const commandsDir = `${new URL(`file://${COMMANDS}`).href}/`
    const putCommands = [...new Set(put.filter((url) => url.startsWith(commandsDir)))]
    expect(putCommands).to.deep.equal([`${commandsDir}put.js`])
    expect(put.filter((url) => /bullmq|\/dist\/(storage|sim|check|nemesis)\//.test(url))).to.deep.equal([])
    const version = await urlsLoadedByRun(['--version'])
    expect(version.filter((url) => url.startsWith(commandsDir))).to.deep.equal([])
  })
})
