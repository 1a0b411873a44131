#!/usr/bin/env node
// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function and by file, top N.
// usage: node scripts/profile-summary.mjs [--top 25] FILE.cpuprofile…
import {readFileSync} from 'node:fs'

const args = process.argv.slice(2)
let top = 25
const files = []
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i])
  else files.push(args[i])
}
const byFn = new Map()
const byFile = new Map()
let total = 0
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'))
  const nodes = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map()
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt)
  }
  for (const [id, us] of self) {
    const n = nodes.get(id)
    const cf = n.callFrame
    const where = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist|src)\//, '$1/') || '(native)'
    const fn = `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + us)
    byFile.set(where, (byFile.get(where) ?? 0) + us)
    total += us
  }
}
const show = (title, m) => {
  console.log(`\n${title} (total ${(total / 1e6).toFixed(2)} s of samples)`)
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`)
}
show('self time by function', byFn)
show('self time by file', byFile)
