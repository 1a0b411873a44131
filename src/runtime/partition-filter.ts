/**
 * `kv fault partition`: which peers' messages a replica drops. Replicas in different groups do not
 * hear each other; a replica named in no group is not affected. Clients are never filtered.
 */
export class PartitionFilter {
  private groupOf = new Map<string, number>()

  constructor(private readonly selfId: string) {}

  set(groups: string[][] | null): void {
    this.groupOf = new Map()
    if (!groups) return
    groups.forEach((g, i) => g.forEach((id) => this.groupOf.set(id, i)))
  }

  get active(): boolean {
    return this.groupOf.size > 0
  }

  /** True when a message from `peer` must be dropped (or must not be sent to it). */
  blocks(peer: string): boolean {
    const mine = this.groupOf.get(this.selfId)
    const theirs = this.groupOf.get(peer)
    return mine !== undefined && theirs !== undefined && mine !== theirs
  }
}
