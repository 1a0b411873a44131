/**
 * Who this replica can reach: a member is reachable when it was heard from (directly, or as reported
 * by the live leader's heartbeat) within `suspectTicks`. It decides NO_QUORUM, so it errs towards
 * "reachable": a wrong "reachable" costs a TIMEOUT, a wrong "unreachable" only a refused write that
 * was never appended; neither breaks the promise that NO_QUORUM never commits.
 */

/** Owned by the replica; `heard` is called on every peer message, `reachable` on every client request. */
export class FailureDetector {
  private readonly lastHeard = new Map<string, number>()

  /** Every member counts as heard at `startTick`, so a fresh replica does not refuse writes at once. */
  constructor(
    private readonly self: string,
    readonly members: readonly string[],
    private readonly suspectTicks: number,
    startTick: number,
  ) {
    for (const m of members) this.lastHeard.set(m, startTick)
  }

  heard(id: string, now: number): void {
    const last = this.lastHeard.get(id)
    if (last !== undefined && last < now) this.lastHeard.set(id, now)
  }

  lastHeardTick(id: string): number {
    return id === this.self ? Number.POSITIVE_INFINITY : (this.lastHeard.get(id) ?? Number.NEGATIVE_INFINITY)
  }

  /** `withinTicks` overrides the suspect time (a leader, which hears everyone each heartbeat, uses less). */
  isReachable(id: string, now: number, withinTicks = this.suspectTicks): boolean {
    return id === this.self || now - this.lastHeardTick(id) <= withinTicks
  }

  /** Reachable members, this replica included. */
  reachable(now: number, withinTicks = this.suspectTicks): string[] {
    return this.members.filter((m) => this.isReachable(m, now, withinTicks))
  }
}
