/**
 * Actor identities for dots. A replica writes as its own id, until it learns that it may have lost
 * dots it had issued: then it takes a new actor, `<id>.<tag>`, whose counters start from nothing and
 * cannot collide with any dot the old incarnation put out (Riak gives a vnode that lost its data a
 * new actor id for the same reason). '.' never occurs in a replica id (LIMITS.idPattern), so an
 * actor can never be mistaken for another replica.
 */
import type {Rng} from '../core/rng.js'
import type {Siblings} from './types.js'

/** A fresh actor for replica `id`, drawn from the core's seeded generator. */
export function newActor(id: string, rng: Rng): string {
  return `${id}.${rng.nextUint32().toString(36)}`
}

/** True if `actor` is replica `id` itself or one of its later incarnations. */
export function isActorOf(actor: string, id: string): boolean {
  return actor === id || actor.startsWith(`${id}.`)
}

/**
 * Every actor that any version of `keys` names, in its dot or its context. A context entry counts:
 * it means dots of that actor existed, even if the versions carrying them were superseded since.
 */
export class ActorsSeen {
  /** Past this many distinct actors the set is dropped and each question scans the store again. */
  static readonly MAX = 10_000
  private actors: Set<string> | null = null

  constructor(private readonly keys: () => Iterable<readonly [string, Siblings]>) {}

  /** Called with every state stored, so the set (once built) stays exact without rescanning. */
  note(siblings: Siblings): void {
    if (this.actors) this.add(this.actors, siblings)
  }

  /** True if a stored version carries a dot or context entry of `id` or a later incarnation of it. */
  mentionsActorOf(id: string): boolean {
    if (!this.actors) {
      // Built on first need (a peer that started empty asks), not at every restart.
      const actors = new Set<string>()
      for (const [, siblings] of this.keys()) {
        this.add(actors, siblings)
        if (actors.size > ActorsSeen.MAX) return scan(this.keys(), id)
      }
      this.actors = actors
    }
    for (const a of this.actors) if (isActorOf(a, id)) return true
    return false
  }

  private add(actors: Set<string>, siblings: Siblings): void {
    for (const v of siblings) {
      actors.add(v.dot.node)
      for (const a in v.ctx) actors.add(a)
    }
    if (actors.size > ActorsSeen.MAX) this.actors = null
  }
}

function scan(keys: Iterable<readonly [string, Siblings]>, id: string): boolean {
  for (const [, siblings] of keys) {
    for (const v of siblings) {
      if (isActorOf(v.dot.node, id)) return true
      for (const a in v.ctx) if (isActorOf(a, id)) return true
    }
  }
  return false
}
