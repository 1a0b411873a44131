/**
 * Quorum-mode state invariants, checked after every Output of every replica (by the simulator and
 * the seeded unit-test network):
 * - election safety: at most one leader per term, ever;
 * - log matching / state-machine safety: every replica that commits index i commits the same entry;
 * - leader completeness: a replica that becomes leader of a term holds every entry committed in an
 *   earlier term, so a committed entry is never lost;
 * - the written set: every value that ever reached any replica's disk (a NO_QUORUM value must not).
 * Violations are collected (with where they happened) rather than thrown inside a replica's call stack.
 */
import type {QuorumRecord} from '../quorum/records.js'
import type {QuorumRole} from '../quorum/types.js'
import type {KeyVersion, LogEntry} from '../quorum/types.js'

/** What the checker reads of a replica (QuorumReplica provides it). */
export interface QuorumView {
  readonly id: string
  readonly currentRole: QuorumRole
  readonly currentTerm: number
  readonly commit: number
  readonly applied: number
  readonly logBase: number
  entryAt(index: number): LogEntry | undefined
  termAt(index: number): number | undefined
  appliedState(): Iterable<[string, KeyVersion]>
}

const VIOLATIONS_MAX = 20

export class QuorumSafetyChecker {
  readonly violations: string[] = []
  readonly leaderOfTerm = new Map<number, string>()
  readonly committed = new Map<number, LogEntry>()
  /**
   * For each committed index, the term of the first replica seen committing it: the entry was
   * committed by a leader of that term or an earlier one, so every leader of a later term must hold it.
   * (A leader of an older term may still be elected late, from delayed votes; it cannot commit.)
   */
  private readonly committedBy = new Map<number, number>()
  /** Every value any replica ever persisted in a log entry. */
  readonly everWritten = new Set<string>()
  private readonly seenCommit = new Map<string, number>()
  private readonly wasLeader = new Map<string, number>()

  /** `where` names the run and moment for messages (seed and tick). */
  constructor(private readonly where: () => string) {}

  persisted(records: readonly QuorumRecord[]): void {
    for (const r of records) {
      if (r.t === 'entries') for (const e of r.entries) if (e.cmd?.value != null) this.everWritten.add(e.cmd.value)
    }
  }

  /** Called after each Output of replica `r` (a crashed replica is simply not observed). */
  observe(r: QuorumView): void {
    const id = r.id
    const term = r.currentTerm
    if (r.currentRole === 'leader') {
      const other = this.leaderOfTerm.get(term)
      if (other !== undefined && other !== id) this.fail(`two leaders in term ${term}: ${other} and ${id}`)
      this.leaderOfTerm.set(term, id)
      if (this.wasLeader.get(id) !== term) {
        this.wasLeader.set(id, term)
        for (const [i, e] of this.committed) {
          if (i <= r.logBase || term <= (this.committedBy.get(i) as number)) continue
          if (r.termAt(i) !== e.term)
            this.fail(
              `new leader ${id} of term ${term} lacks committed entry ${i} (term ${e.term}); it has term ${r.termAt(i)}`,
            )
        }
      }
    }
    const from = this.seenCommit.get(id) ?? 0
    for (let i = Math.max(from, r.logBase) + 1; i <= r.commit; i++) {
      const e = r.entryAt(i)
      if (!e) continue
      const known = this.committed.get(i)
      if (!known) {
        this.committed.set(i, e)
        this.committedBy.set(i, term)
      } else if (known.term !== e.term || JSON.stringify(known.cmd) !== JSON.stringify(e.cmd)) {
        this.fail(`${id} committed ${JSON.stringify(e)} at ${i} but ${JSON.stringify(known)} was committed there`)
      }
    }
    if (r.commit > from) this.seenCommit.set(id, r.commit)
  }

  /** The applied state every replica must have at `index`, from the committed entries (undefined if some are unknown). */
  referenceState(index: number): Map<string, KeyVersion> | undefined {
    const state = new Map<string, KeyVersion>()
    for (let i = 1; i <= index; i++) {
      const e = this.committed.get(i)
      if (!e) return undefined
      if (e.cmd) state.set(e.cmd.key, {value: e.cmd.value, version: {term: e.term, index: e.index}})
    }
    return state
  }

  /** Applied prefixes agree: each replica's applied state equals the committed log's at its applied index. */
  checkAppliedStates(replicas: Iterable<QuorumView>): void {
    for (const r of replicas) {
      const ref = this.referenceState(r.applied)
      if (!ref) continue
      const mine = new Map(r.appliedState())
      if (JSON.stringify([...mine].sort()) !== JSON.stringify([...ref].sort())) {
        this.fail(`${r.id} applied state at ${r.applied} differs from the committed log's`)
      }
    }
  }

  /** The highest index any replica was seen to commit. */
  get highestCommitted(): number {
    let max = 0
    for (const i of this.committed.keys()) max = Math.max(max, i)
    return max
  }

  fail(what: string): void {
    if (this.violations.length < VIOLATIONS_MAX) this.violations.push(`${this.where()}: ${what}`)
  }
}
