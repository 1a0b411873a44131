/**
 * Sibling sets of dotted versions (pure). A key's state is its Siblings; replicas combine states with
 * mergeSiblings and coordinators add writes with writeVersion. Because a version is superseded by
 * dot coverage alone (not by comparing whole clocks), a sibling set never holds more versions than
 * there were truly concurrent writes, which is what saved Riak from sibling explosion.
 */
import {invariant} from '../core/invariant.js'
import {LIMITS, utf8Bytes} from '../core/limits.js'
import type {Clock, Siblings, Version} from './types.js'
import {
  clockGet,
  clockToCanonicalJson,
  clockWith,
  compareClocks,
  covers,
  isPlainRecord,
  isValidClock,
  mergeClocks,
  normalizeClock,
} from './vector-clock.js'

/**
 * Most versions a sibling set read from the outside may hold. Well above LIMITS.siblingsPerKeyMax
 * (which bounds client writes) so that a merge of states written under partitions is still accepted,
 * but small enough that the quadratic concurrency check stays cheap.
 */
export const SIBLINGS_WIRE_MAX = 64

/** The clock shown to users for one version: ctx ⊔ {dot}. */
export function versionClock(v: Version): Clock {
  return clockWith(v.ctx, v.dot)
}

/** Whether `a` replaces `b`: a's writer had seen b's write. Equal dots are one write, never superseding. */
export function supersedes(a: Version, b: Version): boolean {
  if (a.dot.node === b.dot.node && a.dot.counter === b.dot.counter) return false
  return covers(a.ctx, b.dot)
}

/** Canonical JSON of one version; also the deterministic tie-break between forged copies of a dot. */
function canonicalVersion(v: Version): string {
  const dot = `{"node":${JSON.stringify(v.dot.node)},"counter":${v.dot.counter}}`
  return `{"dot":${dot},"ctx":${clockToCanonicalJson(v.ctx)},"value":${JSON.stringify(v.value)}}`
}

/**
 * Most distinct actor names kept for sharing. Actors are few (members and their later incarnations),
 * but they arrive from peers, so the table is bounded; past it names are simply not shared.
 */
const SHARED_ACTORS_MAX = 4096
const sharedActors = new Map<string, string>()

/**
 * One string object per actor name: a decoded snapshot or message gives every dot its own copy of
 * "n3", which at a million keys is tens of MB of identical strings.
 */
function sharedActor(node: string): string {
  const seen = sharedActors.get(node)
  if (seen !== undefined) return seen
  if (sharedActors.size < SHARED_ACTORS_MAX) sharedActors.set(node, node)
  return node
}

function canonicalCopy(v: Version): Version {
  const dot = Object.freeze({node: sharedActor(v.dot.node), counter: v.dot.counter})
  return Object.freeze({dot, ctx: normalizeClock(v.ctx), value: v.value})
}

function byDot(a: Version, b: Version): number {
  if (a.dot.node !== b.dot.node) return a.dot.node < b.dot.node ? -1 : 1
  return a.dot.counter - b.dot.counter
}

/**
 * The join of two states of one key: union deduplicated by dot, superseded versions dropped, sorted
 * by (dot.node, dot.counter). Called by the eventual replica on every replicated or anti-entropy
 * state, and with `[]` to canonicalise a state accepted by isValidSiblings. Commutative, associative
 * and idempotent on states produced by writeVersion and mergeSiblings.
 */
export function mergeSiblings(a: Siblings, b: Siblings): Siblings {
  // One version alone (a snapshot or log key being canonicalised, mostly): nothing to deduplicate,
  // supersede or sort, so skip the map and the quadratic filter that restore would pay per key.
  const only = a.length + b.length === 1 ? (a[0] ?? b[0]) : undefined
  if (only !== undefined) return Object.freeze([canonicalCopy(only)])
  const byKey = new Map<string, Version>()
  for (const v of [...a, ...b]) {
    // ':' cannot occur in an id (LIMITS.idPattern), so the key names the dot unambiguously.
    const key = `${v.dot.node}:${v.dot.counter}`
    const seen = byKey.get(key)
    if (seen === undefined) {
      byKey.set(key, v)
    } else if (seen !== v) {
      // Two different bodies under one dot can only be forged or corrupt; pick one deterministically
      // so that every replica converges on the same choice.
      const x = canonicalVersion(seen)
      const y = canonicalVersion(v)
      if (y < x) byKey.set(key, v)
    }
  }
  const all = [...byKey.values()]
  const kept = all.filter((v) => !all.some((w) => supersedes(w, v)))
  kept.sort(byDot)
  return Object.freeze(kept.map(canonicalCopy))
}

/**
 * Join of versionClock over all siblings, tombstones included. Returned to readers as the context;
 * a put carrying it supersedes every sibling they saw.
 */
export function contextOf(s: Siblings): Clock {
  let c: Clock = {}
  for (const v of s) c = mergeClocks(c, versionClock(v))
  return normalizeClock(c)
}

/**
 * The coordinator's new version of a key and the resulting state. Called by the eventual replica for
 * every put and delete (value null). Without `context` the write supersedes everything the
 * coordinator holds; with it, exactly the versions the context covers (the others stay siblings).
 * The counter exceeds both the local context and the supplied one, so a dot is never reused.
 */
export function writeVersion(
  local: Siblings,
  coordinator: string,
  value: string | null,
  context?: Clock,
): {siblings: Siblings; version: Version} {
  invariant(LIMITS.actorPattern.test(coordinator), `bad coordinator actor ${coordinator}`)
  const seen = contextOf(local)
  const counter = Math.max(clockGet(seen, coordinator), context === undefined ? 0 : clockGet(context, coordinator)) + 1
  invariant(Number.isSafeInteger(counter), `counter overflow at ${coordinator}`)
  const ctx = context === undefined ? seen : normalizeClock(context)
  const version = canonicalCopy({dot: {node: coordinator, counter}, ctx, value})
  const siblings = mergeSiblings(local, [version])
  invariant(
    siblings.some((v) => v.dot.node === coordinator && v.dot.counter === counter),
    'a fresh write must survive the merge',
  )
  return {siblings, version}
}

/** The versions that carry a value (tombstones left out): what a get returns. */
export function liveValues(s: Siblings): Version[] {
  return s.filter((v) => v.value !== null)
}

/** Whether a get finds the key: some sibling is not a tombstone. */
export function isFound(s: Siblings): boolean {
  return s.some((v) => v.value !== null)
}

function hasExactKeys(x: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(x)
  return own.length === keys.length && keys.every((k) => Object.hasOwn(x, k))
}

function isValidVersion(x: unknown): x is Version {
  if (!isPlainRecord(x) || !hasExactKeys(x, ['dot', 'ctx', 'value'])) return false
  const {dot, ctx, value} = x
  if (!isPlainRecord(dot) || !hasExactKeys(dot, ['node', 'counter'])) return false
  const {node, counter} = dot
  if (typeof node !== 'string' || !LIMITS.actorPattern.test(node)) return false
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter <= 0) return false
  if (!isValidClock(ctx)) return false
  if (clockGet(ctx, node) >= counter) return false // a write cannot have seen itself
  if (value !== null && (typeof value !== 'string' || utf8Bytes(value) > LIMITS.valueBytesMax)) return false
  return true
}

/**
 * Whether untrusted input (a peer's replicated or anti-entropy state) is a sibling set: an array of
 * at most SIBLINGS_WIRE_MAX well-formed versions with distinct dots, pairwise concurrent, none whose
 * ctx covers its own dot. Order is not checked: callers canonicalise with mergeSiblings(x, []).
 */
export function isValidSiblings(x: unknown): x is Siblings {
  if (!Array.isArray(x) || x.length > SIBLINGS_WIRE_MAX) return false
  for (let i = 0; i < x.length; i++) {
    if (!Object.hasOwn(x, i) || !isValidVersion(x[i])) return false
  }
  const vs = x as Version[]
  const dots = new Set<string>()
  for (const v of vs) {
    const key = `${v.dot.node}:${v.dot.counter}`
    if (dots.has(key)) return false
    dots.add(key)
  }
  for (const a of vs) for (const b of vs) if (supersedes(a, b)) return false
  return true
}

/**
 * Canonical JSON of a state (siblings by dot, clock keys sorted), independent of input order and key
 * order. Anti-entropy hashes it; sameSiblings compares with it.
 */
export function canonicalSiblings(s: Siblings): string {
  return `[${[...s].sort(byDot).map(canonicalVersion).join(',')}]`
}

function sortedByDot(s: Siblings): boolean {
  for (let i = 1; i < s.length; i++) if (byDot(s[i - 1] as Version, s[i] as Version) >= 0) return false
  return true
}

/**
 * Whether two states are the same set of versions. Used by the replica to skip no-op merges, on
 * every replicated key, so it compares in place instead of building canonical strings: states made
 * by mergeSiblings/writeVersion are sorted by dot, and for any other order it falls back to them.
 */
export function sameSiblings(a: Siblings, b: Siblings): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Version
    const y = b[i] as Version
    if (x.dot.node !== y.dot.node || x.dot.counter !== y.dot.counter) {
      // Two sorted states that differ in a dot differ; only unsorted input needs the slow way.
      return !(sortedByDot(a) && sortedByDot(b)) && canonicalSiblings(a) === canonicalSiblings(b)
    }
    if (x.value !== y.value || compareClocks(x.ctx, y.ctx) !== 'equal') return false
  }
  return true
}
