/**
 * The only randomness the protocol cores and the simulator use: a seeded sfc32 generator (pure).
 * The seed is expanded through splitmix32 so that nearby seeds (1, 2, 3...) give unrelated streams.
 * Same seed ⇒ same sequence on every platform, which is what makes a simulation run replayable from
 * the seed it prints. Not for anything secret.
 */
import {invariant} from './invariant.js'

const TWO_32 = 2 ** 32

function splitmix32(state: number): {state: number; out: number} {
  const next = (state + 0x9e3779b9) | 0
  let z = next
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  z ^= z >>> 16
  return {state: next, out: z >>> 0}
}

/** A seeded pseudo-random generator. Created by drivers and the simulator and passed into the cores. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** `seed` is any safe integer (all 53 bits count), e.g. the `--seed` of a simulation run. */
  constructor(seed: number) {
    invariant(Number.isSafeInteger(seed), `Rng seed must be a safe integer, got ${seed}`)
    // Low and high 32 bits each seed two words through splitmix32, whose output is a bijection of
    // its state: distinct seeds give distinct generator states.
    const low = splitmix32(seed >>> 0)
    const high = splitmix32((Math.floor(seed / TWO_32) ^ 0x6a09e667) >>> 0)
    this.a = low.out
    this.b = high.out
    this.c = splitmix32(low.state).out
    this.d = splitmix32(high.state).out
    for (let i = 0; i < 12; i++) this.nextUint32() // let the state mix before the first output
  }

  /** A uniform 32-bit unsigned integer (sfc32 step). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_32
  }

  /** A uniform integer in [0, maxExclusive), without modulo bias. */
  int(maxExclusive: number): number {
    invariant(
      Number.isSafeInteger(maxExclusive) && maxExclusive >= 1 && maxExclusive <= TWO_32,
      `Rng.int bound must be an integer in 1..2^32, got ${maxExclusive}`,
    )
    const limit = TWO_32 - (TWO_32 % maxExclusive)
    for (;;) {
      const x = this.nextUint32()
      if (x < limit) return x % maxExclusive
    }
  }

  /** A uniform element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    invariant(xs.length > 0, 'Rng.pick from an empty array')
    return xs[this.int(xs.length)] as T
  }

  /** Fisher–Yates shuffle of `xs` in place; returns `xs`. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      const tmp = xs[i] as T
      xs[i] = xs[j] as T
      xs[j] = tmp
    }
    return xs
  }

  /**
   * An independent generator drawn from this one, so that each simulated component gets its own
   * stream and adding draws in one does not shift the others.
   */
  fork(): Rng {
    const hi = this.nextUint32() & 0x1fffff
    const lo = this.nextUint32()
    return new Rng(hi * TWO_32 + lo)
  }
}
