/**
 * A client's side of an authenticated cluster (KvClient, and the simulator's clients): it seals
 * requests naming the receiving replica's epoch (read from the replica's signed presence key), and
 * opens replies and stored values. Replies need no epoch: the client accepts one only for a request
 * id it is waiting for, and those ids are fresh random tokens.
 */
import {KvError} from '../core/errors.js'
import {encodeStamps, looksSealed, parseEnvelope, seal, verifyTag} from './envelope.js'
import type {KeyRing} from './keys.js'

export interface Unsealed {
  readonly body: string
  /** The signer's current receive epoch (a replica's presence names the epoch to use). */
  readonly ep: string | null
}

export class ClientAuth {
  private seq = 0

  constructor(
    private readonly keys: KeyRing,
    /** The client's sender id (unique per process: its reply channel's id). */
    private readonly from: string,
    /** Random per process, so (from, inc, seq) never repeats. */
    private readonly inc: string,
  ) {}

  /** A request for the channel `label`, naming each receiver's epoch. */
  seal(label: string, epochs: Iterable<readonly [string, string]>, body: string): string {
    return seal(
      this.keys.signing,
      label,
      {from: this.from, inc: this.inc, seq: this.seq++, ep: null, to: encodeStamps(epochs)},
      body,
    )
  }

  /** The body of a reply made by a holder of the secret for `label`, or null. */
  open(raw: string | Buffer, label: string): Unsealed | null {
    if (!looksSealed(raw)) return null
    const env = parseEnvelope(raw)
    const key = env ? this.keys.find(env.kid) : undefined
    if (!env || !key || !verifyTag(key, label, env)) return null
    return {body: env.body.toString('utf8'), ep: env.ep}
  }

  /** A stored value a replica sealed once per key of its ring (one envelope per line): the first that opens. */
  openAny(raw: string, label: string): Unsealed | null {
    for (const line of raw.split('\n')) {
      const opened = this.open(line, label)
      if (opened) return opened
    }
    return null
  }
}

/**
 * What a client makes of a value a replica stored (presence, registry): the body to use, or the
 * UNAUTHENTICATED error when the cluster's signing and the client's secret do not match.
 */
export function openStored(auth: ClientAuth | null, raw: string, label: string, cluster: string): Unsealed {
  if (auth === null) {
    if (looksSealed(raw))
      throw new KvError(
        'UNAUTHENTICATED',
        `cluster "${cluster}" requires a secret (its replicas sign every message); pass --secret-file PATH or set KV_SECRET_FILE`,
      )
    return {body: raw, ep: null}
  }
  if (!looksSealed(raw))
    throw new KvError(
      'UNAUTHENTICATED',
      `the replicas of cluster "${cluster}" run without a secret but this client has one; leave out --secret-file (and KV_SECRET_FILE), or restart the replicas with it`,
    )
  const opened = auth.openAny(raw, label)
  if (!opened)
    throw new KvError(
      'UNAUTHENTICATED',
      `cluster "${cluster}" does not accept this client's secret (its replicas sign with another); check --secret-file or KV_SECRET_FILE`,
    )
  return opened
}
