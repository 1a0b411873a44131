/**
 * A replica's side of an authenticated cluster: it seals what it sends and opens what it receives,
 * in the ReplicaRunner (so the simulator runs this exact code). No clock and no randomness of its
 * own: ticks and a token source come from the host.
 *
 * Freshness without synchronised clocks (README "Authenticated clusters" argues it):
 * - every replica draws a random receive *epoch* at start and a new one every EPOCH_ROTATE_MS of its
 *   own ticks, and accepts a message only if the message names its current or previous epoch; so a
 *   message recorded earlier is refused once two rotations have passed, and always after a restart
 *   (the new process's epochs are new random tokens that no earlier message could name);
 * - within that window each sender's messages carry (incarnation, sequence), and a replay window per
 *   sender incarnation refuses repeats; windows of senders silent for two rotations are dropped, since
 *   no message they sent can still be fresh;
 * - replicas learn each other's epochs from the messages themselves (every envelope carries the
 *   sender's current epoch), stale ones included: after a partition longer than two rotations both
 *   sides hold old epochs of each other, and only a stale message can break that tie. A message older
 *   (lower sequence, same incarnation) than the one that taught the known epoch teaches nothing, so
 *   a replay can at worst point a replica at an epoch of a restarted peer's earlier process, until
 *   that peer's next message corrects it: a delay, never a forged or repeated message;
 *   clients read the epoch from the signed presence key.
 */
import type {Destination} from '../core/machine.js'
import {
  type ClusterKey,
  type Envelope,
  encodeStamps,
  looksSealed,
  parseEnvelope,
  seal,
  stampFor,
  verifyTag,
} from './envelope.js'
import {LIMITS} from '../core/limits.js'
import type {KeyRing} from './keys.js'
import {ReplayWindow} from './replay-window.js'

/** A replica's receive epoch lasts this long; a message stays acceptable for one to two of them. */
export const EPOCH_ROTATE_MS = 10_000
/** Sender incarnations tracked at once (each costs a 512-byte window); beyond it new senders wait. */
export const SENDERS_TRACKED_MAX = 20_000
/** Peers whose epoch is remembered (bounded like membership, so a broadcast's header stays small). */
export const PEER_EPOCHS_MAX = LIMITS.membersMax
/** A peer not heard from for this many rotations is no longer named in broadcasts (it left, or is away). */
export const PEER_SILENT_ROTATIONS = 6
/** Client reply channels whose key is remembered (replies go out in the key the request came in). */
export const REPLY_KEYS_MAX = 10_000

export type RejectReason = 'no-mac' | 'bad-mac' | 'stale' | 'replayed'

export type Opened =
  | {readonly ok: true; readonly body: Buffer; readonly from: string; readonly kid: string}
  /** `body` and `kid` are set when the MAC was valid but the message is stale: its author holds the secret. */
  | {readonly ok: false; readonly reason: RejectReason; readonly body?: Buffer; readonly kid?: string}

export interface ReplicaAuthOptions {
  readonly id: string
  readonly keys: KeyRing
  /** A fresh random token (base64url); crypto in production, the seeded Rng in the simulator. */
  readonly randomToken: (bytes: number) => string
  readonly tickMs: number
}

interface Epoch {
  readonly token: string
  readonly gen: number
}

interface Sender {
  readonly window: ReplayWindow
  lastGen: number
}

/** The channel label a message is sealed for (the MAC binds it: a message cannot be moved to another channel). */
export function labelOf(to: Destination): string {
  switch (to.kind) {
    case 'node':
      return `node:${to.id}`
    case 'topic':
      return `topic:${to.topic}`
    case 'client':
      return `client:${to.channel}`
  }
}

export const CONTROL_LABEL = 'topic:control'
export const FAULT_KEY_LABEL = 'key:fault'
export const presenceLabel = (id: string): string => `key:alive:${id}`
export const registryLabel = (id: string): string => `key:registry:${id}`
export const hintLabel = (peer: string): string => `hint:${peer}`

export class ReplicaAuth {
  private readonly inc: string
  private seq = 0
  private ticks = 0
  private readonly rotateTicks: number
  private current: Epoch
  private previous: Epoch | null = null
  /** Each peer's epoch, the message (incarnation, sequence) that taught it, and our generation when last heard. */
  private readonly peerEpochs = new Map<string, {ep: string; inc: string; seq: number; heard: number}>()
  private readonly senders = new Map<string, Sender>()
  /** Client reply channel → the key its requests came in (during a rotation a client may hold only the older secret). */
  private readonly replyKeys = new Map<string, string>()
  readonly rejected: Record<RejectReason, number> = {'no-mac': 0, 'bad-mac': 0, stale: 0, replayed: 0}

  constructor(private readonly o: ReplicaAuthOptions) {
    this.inc = o.randomToken(9)
    this.current = {token: o.randomToken(6), gen: 0}
    this.rotateTicks = Math.max(1, Math.ceil(EPOCH_ROTATE_MS / o.tickMs))
  }

  /** The epoch clients must name now (written into the presence key). */
  get epoch(): string {
    return this.current.token
  }

  /** Called on every runner tick: rotates the epoch, forgets senders that can no longer be fresh. */
  tick(): void {
    this.ticks++
    if (this.ticks % this.rotateTicks !== 0) return
    this.previous = this.current
    this.current = {token: this.o.randomToken(6), gen: this.current.gen + 1}
    for (const [k, s] of this.senders) if (s.lastGen < this.previous.gen) this.senders.delete(k)
    const silentBefore = this.current.gen - PEER_SILENT_ROTATIONS
    for (const [id, p] of this.peerEpochs) if (p.heard < silentBefore) this.peerEpochs.delete(id)
  }

  // ---- sending -------------------------------------------------------------------------------

  /** A message to a destination: its receivers' epochs named (inbox: one; topics: every one known, and our own). */
  sealTo(to: Destination, body: string): string {
    let stamps = ''
    if (to.kind === 'node') {
      const known = this.peerEpochs.get(to.id)
      if (known) stamps = encodeStamps([[to.id, known.ep]])
    } else if (to.kind === 'topic') {
      const all: [string, string][] = [[this.o.id, this.current.token]]
      for (const [id, known] of this.peerEpochs) all.push([id, known.ep])
      stamps = encodeStamps(all)
    }
    const key = to.kind === 'client' ? this.keyForReply(to.channel) : this.o.keys.signing
    return this.sealFor(labelOf(to), stamps, body, key)
  }

  /** A verified client request came in with key `kid` and wants replies on `channel`: answer in that key. */
  noteReplyKey(channel: string, kid: string): void {
    if (kid === this.o.keys.signing.id) {
      this.replyKeys.delete(channel)
      return
    }
    if (this.replyKeys.size >= REPLY_KEYS_MAX) this.replyKeys.delete(this.replyKeys.keys().next().value as string)
    this.replyKeys.set(channel, kid)
  }

  private keyForReply(channel: string): ClusterKey {
    const kid = this.replyKeys.get(channel)
    return (kid === undefined ? undefined : this.o.keys.find(kid)) ?? this.o.keys.signing
  }

  /** A value the replica stores in Redis or in a hint queue (presence, registry, hints): MAC only. */
  sealValue(label: string, body: string): string {
    return this.sealFor(label, '', body)
  }

  /**
   * A value clients read (presence, registry), sealed once per key, one envelope per line: during a
   * rotation a client holding only the older secret must still find the replica and its epoch.
   */
  sealForClients(label: string, body: string): string {
    return this.o.keys.all.map((key) => this.sealFor(label, '', body, key)).join('\n')
  }

  private sealFor(label: string, stamps: string, body: string, key: ClusterKey = this.o.keys.signing): string {
    return seal(key, label, {from: this.o.id, inc: this.inc, seq: this.seq++, ep: this.current.token, to: stamps}, body)
  }

  // ---- receiving -----------------------------------------------------------------------------

  /**
   * Checks a message that arrived on the channel `label` (the host knows which): MAC, then
   * freshness, then the replay window. Every refusal is counted by reason.
   */
  open(raw: Buffer | string, label: string): Opened {
    const env = this.verified(raw, label)
    if (!env.ok) return this.reject(env.reason)
    const e = env.env
    const stamp = stampFor(e.to, this.o.id)
    const gen =
      stamp === this.current.token
        ? this.current.gen
        : stamp !== null && stamp === this.previous?.token
          ? this.previous.gen
          : -1
    if (gen < 0) {
      // Not fresh, but its author holds the secret: learn its epoch (a peer that restarted, our own
      // restart, a long partition), so that our next messages name it and its answers name ours.
      this.learn(e)
      return {...this.reject('stale'), body: e.body, kid: e.kid}
    }
    const key = `${e.from}|${e.inc}`
    let sender = this.senders.get(key)
    if (!sender) {
      if (this.senders.size >= SENDERS_TRACKED_MAX) return this.reject('stale')
      sender = {window: new ReplayWindow(), lastGen: gen}
      this.senders.set(key, sender)
    }
    if (!sender.window.accept(e.seq)) return this.reject('replayed')
    sender.lastGen = Math.max(sender.lastGen, this.current.gen)
    this.learn(e)
    return {ok: true, body: e.body, from: e.from, kid: e.kid}
  }

  /** A stored value (hint, fault key): MAC only; replaying one is harmless by design (README). */
  openValue(raw: Buffer | string, label: string): Buffer | null {
    const env = this.verified(raw, label)
    if (!env.ok) {
      this.reject(env.reason)
      return null
    }
    return env.env.body
  }

  private verified(raw: Buffer | string, label: string): {ok: true; env: Envelope} | {ok: false; reason: RejectReason} {
    if (!looksSealed(raw)) return {ok: false, reason: 'no-mac'}
    const env = parseEnvelope(raw)
    const key: ClusterKey | undefined = env ? this.o.keys.find(env.kid) : undefined
    if (!env || !key || !verifyTag(key, label, env)) return {ok: false, reason: 'bad-mac'}
    return {ok: true, env}
  }

  private learn(e: Envelope): void {
    if (e.ep === null || e.from === this.o.id) return
    const known = this.peerEpochs.get(e.from)
    if (known && known.inc === e.inc && known.seq > e.seq) {
      known.heard = this.current.gen // an older message: heard, but it teaches nothing
      return
    }
    if (!known && this.peerEpochs.size >= PEER_EPOCHS_MAX) this.forgetQuietestPeer()
    this.peerEpochs.set(e.from, {ep: e.ep, inc: e.inc, seq: e.seq, heard: this.current.gen})
  }

  /** Full: the peer heard from longest ago makes room (only holders of the secret get in at all). */
  private forgetQuietestPeer(): void {
    let quietest: string | undefined
    let heard = Number.POSITIVE_INFINITY
    for (const [id, p] of this.peerEpochs) {
      if (p.heard < heard) {
        heard = p.heard
        quietest = id
      }
    }
    if (quietest !== undefined) this.peerEpochs.delete(quietest)
  }

  private reject(reason: RejectReason): {ok: false; reason: RejectReason} {
    this.rejected[reason]++
    return {ok: false, reason}
  }
}
