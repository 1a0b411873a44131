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

/** True if any version in `keys` carries a dot or context entry written by an actor of `id`. */
export function mentionsActorOf(keys: Iterable<readonly [string, Siblings]>, id: string): boolean {
  for (const [, siblings] of keys) {
    for (const v of siblings) {
      if (isActorOf(v.dot.node, id)) return true
      for (const a of Object.keys(v.ctx)) if (isActorOf(a, id)) return true
    }
  }
  return false
}
