/**
 * Human output of the CLI (without --json): short, aligned, and stable. Pure functions from the
 * contract's result shapes to text; the commands print what these return.
 */
import type {ClusterStatus} from '../client/cluster-status.js'
import type {ClusterReport} from '../cluster/supervisor.js'
import {outOfRange} from '../core/invariant.js'
import {sortNatural} from '../core/natural-order.js'
import type {Clock} from '../eventual/types.js'
import type {LogVersion, PutResult, ReadResult, ReadValue} from '../core/client-messages.js'

/** A vector clock as `{n1:2, n3:1}`, entries in natural id order. */
export function formatClock(clock: Clock): string {
  return `{${sortNatural(Object.keys(clock))
    .map((id) => `${id}:${clock[id]}`)
    .join(', ')}}`
}

/** A quorum log position as `term 3, index 17`. */
export function formatVersion(version: LogVersion): string {
  return `term ${version.term}, index ${version.index}`
}

/** Rows padded into columns two spaces apart; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? outOfRange(i))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** A value as typed when it is plain text; quoted (JSON) when empty or holding control characters. */
export function showValue(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.length === 0 || /[\u0000-\u001F\u007F]/.test(value) || value.trim() !== value
    ? JSON.stringify(value)
    : value
}

/** `kv put` / `kv delete`: what was stored where, and the clock or log position it got. */
export function formatPut(result: PutResult, verb: 'stored' | 'deleted'): string {
  const head = `${verb} ${showValue(result.key)} via ${result.node}`
  if ('version' in result)
    return `${head}\n${table([
      ['  leader', result.leader],
      ['  version', formatVersion(result.version)],
    ])}`
  const rows = [['  clock', formatClock(result.clock)]]
  if (result.replicas !== undefined) rows.push(['  replicas', String(result.replicas)])
  rows.push(['  context', result.context])
  return `${head}\n${table(rows)}`
}

function stamp(v: ReadValue): string {
  if (v.version) return formatVersion(v.version)
  if (v.clock) return formatClock(v.clock)
  return ''
}

/** `kv read`: the value (or siblings with their clocks), and the context to write back with. */
export function formatRead(result: ReadResult): string {
  const key = showValue(result.key)
  const [only] = result.values
  if (!result.found || only === undefined) return `${key}: not found (asked ${result.node})`
  if (result.values.length === 1 && !result.conflict) {
    const details = table([
      [only.version ? '  version' : '  clock', stamp(only)],
      ['  context', result.context],
      ['  node', result.node],
    ])
    return `${key}: ${showValue(only.value)}\n${details}`
  }
  const lines = [`${key}: ${result.values.length} conflicting values (asked ${result.node})`]
  lines.push(table(result.values.map((v, i) => [`  ${i + 1}.`, showValue(v.value), stamp(v)])))
  lines.push(`  context  ${result.context}`)
  lines.push(`resolve with: kv put ${shellWord(result.key)} VALUE --context ${result.context}`)
  return lines.join('\n')
}

/** The warning `kv read` prints when fewer replicas answered than it wanted (a weaker read). */
export function readShortfall(result: ReadResult): string | undefined {
  const r = result.replicas
  if (!r || r.answered >= r.wanted) return undefined
  return `only ${r.answered} of ${r.wanted} replicas answered; the result may be missing recent writes`
}

/** `kv status`: a header line and one aligned row per replica. */
export function formatStatus(status: ClusterStatus): string {
  const quorum = status.mode === 'quorum'
  const header =
    `cluster ${status.cluster}  mode ${status.mode ?? 'unknown'}` +
    (quorum ? `  leader ${status.leader ?? 'none'}` : '')
  if (status.nodes.length === 0) return `${header}\nno replicas registered; start some with: kv cluster up`
  const head = quorum
    ? ['ID', 'ALIVE', 'ROLE', 'KEYS', 'TERM', 'COMMIT', 'NOTE']
    : ['ID', 'ALIVE', 'ROLE', 'KEYS', 'NOTE']
  const rows = status.nodes.map((n) => {
    const note = n.partitioned ? 'partitioned' : ''
    const base = [n.id, n.alive ? 'yes' : 'no', n.alive ? n.role : '-', n.alive ? String(n.keys) : '-']
    if (!quorum) return [...base, note]
    return [
      ...base,
      n.alive && n.term !== undefined ? String(n.term) : '-',
      n.alive && n.commitIndex !== undefined ? String(n.commitIndex) : '-',
      note,
    ]
  })
  const alive = status.nodes.filter((n) => n.alive).length
  return `${header}  alive ${alive}/${status.nodes.length}\n${table([head, ...rows])}`
}

/** `kv fault partition`: the groups as `[n2] | [n1, n3]`. */
export function formatPartition(groups: readonly (readonly string[])[]): string {
  return `partitioned: ${groups.map((g) => `[${g.join(', ')}]`).join(' | ')}\nundo with: kv fault heal`
}

/** A word safe to paste into a POSIX shell. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

/** `kv cluster up`, once every replica serves: where they are and what to type next. */
export function formatClusterReady(report: ClusterReport, extraFlags: string): string {
  const broker = `${report.redis}${report.embeddedRedis ? ' (private redis-server, stopped on exit)' : ''}`
  const lines = [
    `cluster ${report.cluster} is up: ${report.nodes.length} replicas, mode ${report.mode}, broker ${broker}`,
    table(report.nodes.map((n) => [`  ${n.id}`, `pid ${n.pid}`, n.dataDir])),
    'try:',
    ...['put greeting hello', 'read greeting', 'status'].map((c) => `  kv ${c}${extraFlags}`),
    'press Ctrl-C to stop every replica',
  ]
  return lines.join('\n')
}
