/**
 * The human summary of a nemesis run, printed by main.ts and shown by the scenario test: operations
 * by kind and status, error codes, faults by kind, durations, the verdict with its problems, and
 * where the history was saved. Pure: report in, lines out.
 */
import type {OpKind, OpStatus} from '../check/history.js'
import {FAULT_KINDS} from './fault-plan.js'
import type {NemesisReport} from './run-nemesis.js'

const KINDS: readonly OpKind[] = ['put', 'delete', 'read']
const STATUSES: readonly OpStatus[] = ['ok', 'fail', 'unknown']

/** Counts of operations by kind and status: counts.put.ok, … */
export function opCounts(report: NemesisReport): Record<OpKind, Record<OpStatus, number>> {
  const counts = Object.fromEntries(KINDS.map((k) => [k, {ok: 0, fail: 0, unknown: 0}])) as Record<
    OpKind,
    Record<OpStatus, number>
  >
  for (const op of report.ops) counts[op.kind][op.status]++
  return counts
}

/** Faults that actually started, by kind (a fault skipped because the window ended is not counted). */
export function faultCounts(report: NemesisReport): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0]))
  for (const f of report.faults)
    if (f.startedAt !== null && f.startError === undefined) counts[f.kind] = (counts[f.kind] ?? 0) + 1
  return counts
}

/** The summary as lines (no trailing newline). */
export function formatSummary(report: NemesisReport): string[] {
  const o = report.options
  const lines: string[] = []
  lines.push(
    `nemesis ${o.mode}, seed ${o.seed}: ${(report.faultWindowMs / 1000).toFixed(1)} s of faults, ${(report.totalMs / 1000).toFixed(1)} s in all, ${o.clients} clients on ${o.keys} keys`,
  )
  const counts = opCounts(report)
  lines.push(`operations: ${report.ops.length}`)
  for (const k of KINDS)
    lines.push(`  ${k.padEnd(7)}${STATUSES.map((s) => `${s} ${String(counts[k][s]).padStart(6)}`).join('   ')}`)
  const errors = new Map<string, number>()
  for (const op of report.ops) if (op.error) errors.set(op.error, (errors.get(op.error) ?? 0) + 1)
  if (errors.size > 0)
    lines.push(
      `  errors: ${[...errors]
        .sort((a, b) => b[1] - a[1])
        .map(([e, n]) => `${e} ${n}`)
        .join(', ')}`,
    )
  const faults = faultCounts(report)
  const majority = report.faults.filter((f) => f.majority && f.startedAt !== null).length
  const failed = report.faults.filter((f) => f.startError !== undefined)
  lines.push(
    `faults: ${Object.entries(faults)
      .map(([k, n]) => `${k} ${n}`)
      .join(
        ', ',
      )}${majority ? ` (${majority} took a majority away)` : ''}${failed.length ? `; ${failed.length} could not start` : ''}`,
  )
  if (o.mode === 'quorum') lines.push(`status samples: ${report.statusSamples.length}`)
  if (report.finalsConverged !== undefined)
    lines.push(
      `final states: ${report.finalsConverged ? 'every replica agrees' : 'replicas still disagree at the deadline'}`,
    )
  if (report.rejected) lines.push(...rejectedLines(report.rejected))
  const warnings = Object.entries(report.replicaWarnings)
  if (warnings.length) lines.push(`replica WARN lines: ${warnings.map(([id, n]) => `${id} ${n}`).join(', ')}`)
  if (report.suspiciousLogLines.length) {
    lines.push('suspicious replica log lines:')
    for (const l of report.suspiciousLogLines) lines.push(`  ${l.slice(0, 300)}`)
  }
  const stats = Object.entries(report.verdict.stats)
    .map(([k, v]) => `${k} ${Math.round(v * 100) / 100}`)
    .join(', ')
  lines.push(`verdict: ${report.verdict.verdict.toUpperCase()}${stats ? ` (${stats})` : ''}`)
  for (const p of report.verdict.problems) lines.push(`  - ${p}`)
  for (const n of report.verdict.notes ?? []) lines.push(`  note: ${n}`)
  if (report.savedTo) lines.push(`history and replica logs saved to ${report.savedTo}`)
  return lines
}

const REASONS = ['no-mac', 'bad-mac', 'stale', 'replayed'] as const

/**
 * A signed run's refused messages per replica. Without an attacker, 'stale' around restarts (and
 * epoch rotations) is expected; any no-mac or bad-mac means a replica or client of the cluster's own
 * sent something the others could not verify, which is a bug, so it is called out.
 */
function rejectedLines(rejected: NonNullable<NemesisReport['rejected']>): string[] {
  const fmt = (counts: Record<string, number> | null | undefined): string =>
    counts ? REASONS.map((r) => counts[r] ?? 0).join('/') : 'no answer'
  const ids = [...new Set([...Object.keys(rejected.final), ...Object.keys(rejected.overStarts)])].sort()
  const lines = [
    `signed: refused messages (${REASONS.join('/')})`,
    `  since its last start (a last status): ${ids.map((id) => `${id} ${fmt(rejected.final[id])}`).join(', ')}`,
    `  over all its starts:                  ${ids.map((id) => `${id} ${fmt(rejected.overStarts[id] ?? {})}`).join(', ')}`,
  ]
  const forged = (counts: Record<string, number> | null | undefined): number =>
    (counts?.['no-mac'] ?? 0) + (counts?.['bad-mac'] ?? 0)
  const unverifiable = ids.reduce((sum, id) => sum + forged(rejected.overStarts[id]), 0)
  if (unverifiable > 0)
    lines.push(`  ${unverifiable} no-mac/bad-mac refusals with no attacker in the run: a bug, see the replica logs`)
  return lines
}
