/**
 * Cluster keys from secrets. The MAC key is HMAC-SHA-256(secret, "kv/1 cluster <name>"): the same
 * secret gives every cluster its own key, so a message of one cluster is never valid in another that
 * shares the secret. A key's id (sent with every message) is a hash of the key, which tells the
 * receiver which of its keys to try (two during a rotation) and says nothing about the secret.
 */
import {createHmac} from 'node:crypto'
import type {ClusterKey} from './envelope.js'

export function clusterKey(secret: Buffer, cluster: string): ClusterKey {
  const key = createHmac('sha256', secret).update(`kv/1 cluster ${cluster}`).digest()
  const id = createHmac('sha256', key).update('kv/1 key id').digest('base64url').slice(0, 8)
  return {id, key}
}

/**
 * The keys a process holds: the first signs, every one verifies (the second is an older secret
 * still accepted while a cluster rotates, see README "Rotating the secret").
 */
export class KeyRing {
  readonly signing: ClusterKey
  private readonly byId: Map<string, ClusterKey>

  constructor(secrets: readonly Buffer[], cluster: string) {
    if (secrets.length === 0) throw new Error('a key ring needs at least one secret')
    const keys = secrets.map((s) => clusterKey(s, cluster))
    this.signing = keys[0] as ClusterKey
    this.byId = new Map(keys.map((k) => [k.id, k]))
  }

  find(id: string): ClusterKey | undefined {
    return this.byId.get(id)
  }

  /** Every key, signing key first. */
  get all(): ClusterKey[] {
    return [...this.byId.values()]
  }
}
