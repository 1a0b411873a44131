/**
 * How the simulator builds each mode's real core from a disk, and what its runner needs: the
 * mode's peer-message validator and tick length, as runtime/run-replica.ts passes them.
 */
import type {RecoveryFacts} from '../core/recovery-facts.js'
import type {Rng} from '../core/rng.js'
import {DEFAULT_EVENTUAL_TIMING, EventualReplica} from '../eventual/replica.js'
import type {EventualRecord, EventualSnapshot} from '../eventual/records.js'
import {asEventualPeerMessage} from '../eventual/validate-messages.js'
import {DEFAULT_QUORUM_TIMING, type QuorumConfig} from '../quorum/config.js'
import type {QuorumRecord, QuorumSnapshot} from '../quorum/records.js'
import {QuorumReplica} from '../quorum/replica.js'
import {asQuorumPeerMessage} from '../quorum/validate-messages.js'
import type {CoreFactory} from './sim-cluster.js'

/** Batch limits a seed runs with (undefined: the real defaults). */
export interface BatchLimits {
  readonly batchEntriesMax?: number
  readonly replHoldKeysMax?: number
}

export function eventualFactory(peers: readonly string[], limits: BatchLimits = {}): CoreFactory<EventualReplica> {
  return {
    create(id: string, rng: Rng, snapshot: unknown, records: readonly unknown[], facts: RecoveryFacts) {
      const core = new EventualReplica({id, peers, rng, ...DEFAULT_EVENTUAL_TIMING, ...limits})
      core.restore(snapshot as EventualSnapshot | null, records as EventualRecord[], facts)
      return core
    },
    asPeerMessage: asEventualPeerMessage,
    tickMs: DEFAULT_EVENTUAL_TIMING.tickMs,
    hintedHandoff: true,
  }
}

/** The quorum replica's settings other than identity and randomness. */
export type QuorumTiming = Omit<QuorumConfig, 'id' | 'peers' | 'rng'>

/**
 * The simulator runs the real defaults, varying only `logRetainEntries` (a small value makes lagging
 * replicas take the snapshot-install path); unit tests pass shorter timeouts.
 */
export function quorumFactory(
  peers: readonly string[],
  timing: QuorumTiming = DEFAULT_QUORUM_TIMING,
): CoreFactory<QuorumReplica> {
  return {
    create(id: string, rng: Rng, snapshot: unknown, records: readonly unknown[], facts: RecoveryFacts) {
      const core = new QuorumReplica({id, peers, rng, ...timing})
      core.restore(snapshot as QuorumSnapshot | null, records as QuorumRecord[], facts)
      return core
    },
    asPeerMessage: asQuorumPeerMessage,
    tickMs: timing.tickMs,
    hintedHandoff: false,
  }
}
