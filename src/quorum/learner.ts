/**
 * When a quorum replica may vote again after starting with an empty or damaged disk.
 *
 * A replica that lost its disk may have voted in a term and acked entries it no longer holds. If it
 * voted again in that term, two leaders could be elected in it; if it voted for a candidate lacking
 * an entry it had acked, a committed write could vanish. So it starts as a *learner* (Raft's
 * non-voting member): it follows the leader, stores and acks entries (they are really durable now,
 * so counting them toward a commit is safe), but it neither votes nor stands for election. It becomes
 * a voter again by one of two doors:
 *
 * (a) Caught up with a leader elected without it: since it started, the leader of its current term
 *     reported a commit index that points at an entry of that term, its own log matched the leader's
 *     up to there, and it has applied up to there. (A leader that committed an entry of its own term
 *     has every entry committed before it, so the learner now holds every one of them too.) A leader elected without its vote
 *     needed a majority of the other members; if the old incarnation's vote had made some candidate
 *     win in a term, that majority includes a member of that term or later, so the new leader's term is
 *     at least as high. The learner then records a vote for that leader in that term, so it only
 *     votes in later terms, and its log holds every committed entry, so the election restriction
 *     protects them again. (A gap remains, argued in the README: a candidacy in which the old
 *     incarnation voted, still open and winning later, after elections the learner took part in.)
 * (b) A cluster that never had a log: it has heard every other member since it started, all with empty
 *     logs, and its own log is empty. Nothing was ever committed; it adopts the highest term any member
 *     holds and records a vote in it, so it can never vote twice in a term it may have voted in. This
 *     is how a brand-new cluster, all of whose replicas start empty, elects its first leader; it needs
 *     every member to have started once.
 */

/** What a learner has heard from each other member since it started. */
export interface LearnerState {
  /** Why it is a learner, for status and logs. */
  readonly why: string
  /** It lost data (the disk holds a RECOVERING marker to clear when it is a voter again). */
  readonly lostData: boolean
  readonly heard: Map<string, {term: number; lastLogIndex: number}>
  /**
   * Door (a): the highest commit index a leader reported, after this replica started, in an APPEND
   * this replica's log matched up to that index, where the entry there is of the leader's term. A
   * commit index restored from the damaged disk proves nothing; this one does.
   */
  caughtUpTo: number
}

/**
 * Door (b): the term to adopt (with a vote recorded in it) if every other member has been heard with
 * an empty log and the learner's own log is empty too; null while that is not so.
 */
export function emptyClusterFloor(
  learner: LearnerState,
  others: readonly string[],
  ownTerm: number,
  ownLastIndex: number,
): number | null {
  if (ownLastIndex !== 0) return null
  let floor = ownTerm
  for (const id of others) {
    const h = learner.heard.get(id)
    if (!h || h.lastLogIndex !== 0) return null
    floor = Math.max(floor, h.term)
  }
  return floor
}
