/**
 * The seed's read loop, made linearizable. The replica serving a read first gets a read index from
 * the leader: the leader's commit index at a moment it proved (by a heartbeat round acked by a
 * majority in its term) that it still led, after it had committed an entry of its own term. Then it
 * asks NR random replicas (NR + NW > N) for their applied index and the key's last applied write, and
 * repeats with fresh random replicas until at least one has applied up to the read index. It answers
 * with the highest version among those.
 *
 * Why that is linearizable: a write acknowledged before the read began was committed, so it is at or
 * below the commit index of any leader that has committed an entry of its own term (Leader
 * Completeness), and the heartbeat round shows no newer leader had taken over when the read index was
 * taken, so nothing committed then is missing from it. A replica that has applied up to j >= readIndex
 * holds every such write, and everything it holds was committed before it answered, so the value it
 * reports is the key's state at some commit point between the read's start and its answer. Replicas
 * that disagree can only differ by how far they have applied; the higher version is the later write.
 */
import type {Rng} from '../core/rng.js'
import type {KeyVersion} from './types.js'

/** One replica's answer in a round. */
export interface StateAnswer {
  readonly from: string
  readonly appliedIndex: number
  readonly state: KeyVersion | null
}

/** The replicas of a new round: `count` of `members`, drawn at random (the serving replica may be one). */
export function pickReadReplicas(members: readonly string[], count: number, rng: Rng): string[] {
  return rng.shuffle([...members]).slice(0, Math.min(count, members.length))
}

/**
 * The answer a round gives: the highest version among answers that applied up to `readIndex`
 * (`{state: null}` when none of them has the key), or undefined when none did and the loop must go on.
 */
export function decideRead(answers: Iterable<StateAnswer>, readIndex: number): {state: KeyVersion | null} | undefined {
  let decided: {state: KeyVersion | null} | undefined
  for (const a of answers) {
    if (a.appliedIndex < readIndex) continue
    if (!decided || (a.state && (!decided.state || a.state.version.index > decided.state.version.index))) {
      decided = {state: a.state}
    }
  }
  return decided
}
