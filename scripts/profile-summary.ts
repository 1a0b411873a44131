// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function and by file, top N.
// usage: node --import tsx scripts/profile-summary.ts [--top 25] FILE.cpuprofile…
import {readFileSync} from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: {readonly functionName: string; readonly url: string; readonly lineNumber: number}
}
interface Profile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

const args = process.argv.slice(2)
let top = 25
const files: string[] = []
for (let i = 0; i < args.length; i++) {
  const arg = args[i] ?? ''
  if (arg === '--top') top = Number(args[++i])
  else files.push(arg)
}
const byFn = new Map<string, number>()
const byFile = new Map<string, number>()
let total = 0
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const nodes = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  p.samples.forEach((sample, i) => self.set(sample, (self.get(sample) ?? 0) + (p.timeDeltas[i] ?? 0)))
  for (const [id, us] of self) {
    const n = nodes.get(id)
    if (!n) continue
    const cf = n.callFrame
    const where = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/') || '(native)'
    const fn = `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    byFile.set(where, (byFile.get(where) ?? 0) + us)
    total += us
  }
}
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title} (total ${(total / 1e6).toFixed(2)} s of samples)`)
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
}
show('self time by function', byFn)
show('self time by file', byFile)
