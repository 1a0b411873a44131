/**
 * The quorum-mode election-safety check on sampled `status` answers: at most one replica may claim
 * to lead any one term. Sampling can miss a short-lived second leader, so `ok` means none was seen;
 * a violation is definite, since each sample is a replica's own claim.
 */
import type {Verdict} from '../check/history.js'

/** One replica's answer to a status poll (t: ms since the run started). */
export interface StatusSample {
  readonly t: number
  readonly node: string
  readonly term: number
  readonly role: string
  readonly leader: string | null
}

/** Called by the nemesis after a quorum run; a violation names the term and both claimants. */
export function checkLeaderPerTerm(samples: readonly StatusSample[]): Verdict {
  const claims = new Map<number, Map<string, number>>() // term → leader → first time seen
  for (const s of samples) {
    if (s.role !== 'leader') continue
    const byNode = claims.get(s.term) ?? new Map<string, number>()
    if (!byNode.has(s.node)) byNode.set(s.node, s.t)
    claims.set(s.term, byNode)
  }
  const problems: string[] = []
  for (const [term, byNode] of [...claims].sort((a, b) => a[0] - b[0])) {
    if (byNode.size < 2) continue
    const who = [...byNode].map(([node, t]) => `${node} (first at ${(t / 1000).toFixed(3)} s)`).join(', ')
    problems.push(`term ${term}: ${byNode.size} replicas claimed to lead it: ${who}`)
  }
  return {
    verdict: problems.length > 0 ? 'violation' : 'ok',
    problems,
    stats: {statusSamples: samples.length, termsWithLeader: claims.size},
  }
}
