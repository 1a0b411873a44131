/** How the linearizability checker names operations in its problems: enough to find them in the history. */
import type {HistoryOp} from './history.js'

/** `#12 put "v" [c1 30–41]`, `#13 read → absent [c2 35–? unknown TIMEOUT]`. */
export function describeOp(op: HistoryOp): string {
  const end = op.status === 'ok' ? `${op.complete}` : `? ${op.status}${op.error === undefined ? '' : ` ${op.error}`}`
  const when = `[${op.client} ${op.invoke}–${end}]`
  if (op.kind === 'put') return `#${op.id} put ${JSON.stringify(op.value)} ${when}`
  if (op.kind === 'delete') return `#${op.id} delete ${when}`
  const seen =
    op.read === undefined || op.read.length === 0 ? 'absent' : op.read.map((r) => JSON.stringify(r.value)).join(', ')
  return `#${op.id} read → ${seen} ${when}`
}
