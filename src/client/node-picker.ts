/**
 * Which replicas exist and which are alive, as the broker records them: each replica registers
 * itself in the members hash at start and keeps its alive key fresh while it serves. KvClient asks
 * here before every request that names no node, and before fault and status broadcasts.
 */
import {type ClientAuth, openStored} from '../auth/client-auth.js'
import {looksSealed} from '../auth/envelope.js'
import {presenceLabel, registryLabel} from '../auth/replica-auth.js'
import {KvError} from '../core/errors.js'
import {LIMITS} from '../core/limits.js'
import type {ClusterNames} from '../redis/channel-names.js'
import type {ClientBroker} from './client-broker.js'
import {sortNatural} from '../core/natural-order.js'

/** The two replication modes, as replicas report them. */
export type Mode = 'eventual' | 'quorum'

/** One registry entry: the id (hash field) and what the replica said about itself, if readable. */
export interface Registration {
  readonly id: string
  readonly mode?: Mode
  readonly startedAt?: number
  /** The members this replica knows (its --peers and those that joined). */
  readonly members?: readonly string[]
}

/** Every replica id the registry knows of: registered ones and the members they name. */
export function knownReplicaIds(registry: readonly Registration[]): Set<string> {
  const known = new Set<string>()
  for (const r of registry) {
    known.add(r.id)
    for (const m of r.members ?? []) known.add(m)
  }
  return known
}

/**
 * Registered replicas in natural id order; unreadable entries keep their id, bad ids are skipped.
 * With a secret, an entry not signed with it keeps only its id (its mode and members may be forged);
 * without one, so does a signed entry. Whether the client may talk to the cluster at all is decided
 * from the presence keys (livePresence).
 */
export async function readRegistry(
  broker: ClientBroker,
  names: ClusterNames,
  auth: ClientAuth | null = null,
): Promise<Registration[]> {
  const hash = await broker.hgetall(names.membersKey)
  const ids = sortNatural(Object.keys(hash).filter((id) => LIMITS.idPattern.test(id))).slice(0, LIMITS.membersMax)
  const out: Registration[] = []
  for (const id of ids) {
    const raw = hash[id] ?? ''
    if (auth === null) {
      out.push(looksSealed(raw) ? {id} : parseRegistration(id, raw))
      continue
    }
    const opened = auth.openAny(raw, registryLabel(id))
    out.push(opened ? parseRegistration(id, opened.body) : {id})
  }
  return out
}

/** Parses one registry value (JSON {id, mode, startedAt, members}); never throws. */
export function parseRegistration(id: string, raw: string | undefined): Registration {
  try {
    const data = JSON.parse(raw ?? '') as Record<string, unknown>
    const mode = data.mode === 'eventual' || data.mode === 'quorum' ? data.mode : undefined
    const startedAt = typeof data.startedAt === 'number' ? data.startedAt : undefined
    const members = Array.isArray(data.members)
      ? data.members
          .filter((m): m is string => typeof m === 'string' && LIMITS.idPattern.test(m))
          .slice(0, LIMITS.membersMax)
      : undefined
    return {id, mode, startedAt, ...(members ? {members} : {})}
  } catch {
    return {id}
  }
}

/** The mode of the most recently started registration that states one. */
export function registryMode(registry: readonly Registration[]): Mode | undefined {
  const withMode = registry.filter((r) => r.mode !== undefined)
  withMode.sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0))
  return withMode[0]?.mode
}

/** A live replica as its presence key shows it: the epoch to name in requests (null without a secret). */
export interface Live {
  readonly id: string
  readonly epoch: string | null
}

/**
 * Registered replicas whose presence key exists right now, in natural order, with the epoch each
 * one's signed presence names. UNAUTHENTICATED when a presence key shows that the cluster's
 * signing and the client's secret do not match (no secret, another one, or one the cluster lacks).
 */
export async function livePresence(
  broker: ClientBroker,
  names: ClusterNames,
  registry: readonly Registration[],
  auth: ClientAuth | null = null,
): Promise<Live[]> {
  const alive = await Promise.all(registry.map(async (r) => presenceOf(broker, names, r.id, auth)))
  return alive.filter((live): live is Live => live !== undefined)
}

async function presenceOf(
  broker: ClientBroker,
  names: ClusterNames,
  id: string,
  auth: ClientAuth | null,
): Promise<Live | undefined> {
  const raw = await broker.get(names.aliveKey(id))
  if (raw === null) return undefined
  return {id, epoch: openStored(auth, raw, presenceLabel(id), names.cluster).ep}
}

/** Called by KvClient when the user named --node: UNAVAILABLE unless its alive key exists. */
export async function requireAlive(
  broker: ClientBroker,
  names: ClusterNames,
  id: string,
  auth: ClientAuth | null = null,
): Promise<Live> {
  const live = await presenceOf(broker, names, id, auth)
  if (live) return live
  throw new KvError(
    'UNAVAILABLE',
    `replica ${id} is not alive (no heartbeat from it in cluster "${names.cluster}"); check kv status, or leave out --node to use any live replica`,
  )
}

/** The error when a request that named no node finds no live replica. */
export function noLiveReplica(names: ClusterNames): KvError {
  return new KvError(
    'UNAVAILABLE',
    `no replica of cluster "${names.cluster}" is alive; start them (kv cluster up) or check --cluster and --redis`,
  )
}

/** A uniformly shuffled copy (the client spreads load; replicas never use this). */
export function shuffled<T>(items: readonly T[], random: () => number = Math.random): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j] as T, out[i] as T] // 0 <= j <= i < out.length
  }
  return out
}
