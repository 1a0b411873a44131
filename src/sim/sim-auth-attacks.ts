/**
 * What a broker user without the secret does to a signed simulated cluster: it records messages the
 * replicas accepted and, now and then, hands one back to a replica replayed (as it was, later), moved
 * to another replica's inbox, tampered with (one byte of the body changed), re-signed with a wrong
 * secret, or stripped of its envelope. Every one of them must be refused; SimCluster records any that
 * a runner accepts as a breach, which the seed's verdict reports. Draws from its own Rng, so a seed's
 * other random choices do not depend on it.
 */
import {ClientAuth} from '../auth/client-auth.js'
import {parseEnvelope, stampFor} from '../auth/envelope.js'
import {KeyRing} from '../auth/keys.js'
import type {Rng} from '../core/rng.js'

/** One message a replica accepted: who received it, on which channel label, and the raw envelope. */
export interface Captured {
  readonly to: string
  readonly via: string
  readonly raw: string
}

export interface Attack {
  readonly kind: 'replay' | 'moved' | 'tampered' | 'wrong-key' | 'unsigned'
  readonly to: string
  readonly via: string
  readonly raw: string
}

const CAPTURED_MAX = 64
const WRONG_SECRET = Buffer.from('not the cluster secret, but long enough to be one', 'utf8')

export class SimAuthAttacker {
  private readonly captured: Captured[] = []
  private readonly forger: ClientAuth

  constructor(
    private readonly rng: Rng,
    cluster: string,
  ) {
    this.forger = new ClientAuth(new KeyRing([WRONG_SECRET], cluster), 'n1', 'forged')
  }

  /** Called for some accepted deliveries (the attacker sees the broker's traffic). */
  capture(c: Captured): void {
    if (this.captured.length < CAPTURED_MAX) this.captured.push(c)
    else this.captured[this.rng.int(CAPTURED_MAX)] = c
  }

  /** Whether to attack in this tick. */
  shouldAttack(chance: number): boolean {
    return this.captured.length > 0 && this.rng.next() < chance
  }

  /** One attack built from a captured message; `others` are replicas it may be moved to. */
  next(others: readonly string[]): Attack {
    const c = this.captured[this.rng.int(this.captured.length)] as Captured
    const env = parseEnvelope(c.raw)
    const body = env ? env.body.toString('utf8') : c.raw
    switch (this.rng.int(5)) {
      case 0:
        return {kind: 'replay', ...c}
      case 1: {
        const target = c.via.startsWith('node:') ? others.find((id) => `node:${id}` !== c.via) : undefined
        return target ? {kind: 'moved', to: target, via: `node:${target}`, raw: c.raw} : {kind: 'replay', ...c}
      }
      case 2: {
        const bytes = Buffer.from(c.raw, 'utf8')
        const at = bytes.length - 1 - this.rng.int(Math.min(bytes.length - 1, Math.max(1, body.length)))
        bytes[at] = (bytes[at] as number) ^ (1 + this.rng.int(255))
        return {kind: 'tampered', to: c.to, via: c.via, raw: bytes.toString('latin1')}
      }
      case 3: {
        // Well-formed and naming the receiver's current epoch (headers are cleartext), but with another key.
        const ep = env ? stampFor(env.to, c.to) : null
        return {kind: 'wrong-key', to: c.to, via: c.via, raw: this.forger.seal(c.via, ep ? [[c.to, ep]] : [], body)}
      }
      default:
        return {kind: 'unsigned', to: c.to, via: c.via, raw: body}
    }
  }
}
