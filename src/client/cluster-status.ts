/**
 * Assembling `kv status` from what each registered replica answered. Pure: KvClient.status gathers
 * the answers, this decides the cluster's mode and leader and fills in the silent nodes.
 */
import type {NodeStatus} from '../core/client-messages.js'
import {compareNatural} from '../core/natural-order.js'
import {type Mode, type Registration, registryMode} from './node-picker.js'

/** What `kv status` prints with --json, and what KvClient.status returns. */
export interface ClusterStatus {
  cluster: string
  /** From the answering replicas, else the registry; null when no replica ever registered. */
  mode: Mode | null
  /** eventual: always null; quorum: the leader named by the answers with the highest term. */
  leader: string | null
  /** Every registered replica in natural id order; silent ones are `alive: false`. */
  nodes: NodeStatus[]
}

/** Called by KvClient.status once every replica answered or its wait ran out (undefined = silent). */
export function assembleClusterStatus(
  cluster: string,
  registry: readonly Registration[],
  answers: ReadonlyMap<string, NodeStatus | undefined>,
): ClusterStatus {
  const answered = registry.map((r) => answers.get(r.id)).filter((s): s is NodeStatus => s !== undefined)
  const mode = answered[0]?.mode ?? registryMode(registry) ?? null
  const nodes = registry.map((r): NodeStatus => {
    const answer = answers.get(r.id)
    if (answer) return {...answer, id: r.id, alive: true}
    const nodeMode = r.mode ?? mode ?? 'eventual'
    return {id: r.id, alive: false, role: nodeMode === 'quorum' ? 'follower' : 'replica', keys: 0, mode: nodeMode}
  })
  nodes.sort((a, b) => compareNatural(a.id, b.id))
  return {cluster, mode, leader: mode === 'quorum' ? leaderOf(answered) : null, nodes}
}

/**
 * The leader according to the answers of the highest term: a node that says it leads that term wins,
 * else the leader most nodes of that term name (ties broken by id, so the output is stable).
 */
export function leaderOf(answers: readonly NodeStatus[]): string | null {
  const withTerm = answers.filter((s) => typeof s.term === 'number')
  if (withTerm.length === 0) return null
  const term = Math.max(...withTerm.map((s) => s.term as number))
  const current = withTerm.filter((s) => s.term === term)
  const self = current.find((s) => s.role === 'leader')
  if (self) return self.id
  const votes = new Map<string, number>()
  for (const s of current) if (typeof s.leader === 'string') votes.set(s.leader, (votes.get(s.leader) ?? 0) + 1)
  const ranked = [...votes].sort((a, b) => b[1] - a[1] || compareNatural(a[0], b[0]))
  return ranked[0]?.[0] ?? null
}
