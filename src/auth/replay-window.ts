/**
 * IPsec's anti-replay window (RFC 4303 §3.4.3) for one sender incarnation: the highest sequence
 * number accepted and a bitmap of the WINDOW below it. A number seen before, or older than the
 * window, is refused; numbers may arrive out of order within the window (sharded pub/sub, hints).
 * Constant memory per sender incarnation.
 */
export const REPLAY_WINDOW = 4096

export class ReplayWindow {
  private highest = -1
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32)

  /** True (and remembered) the first time `seq` is offered; false for a repeat or one too old to tell. */
  accept(seq: number): boolean {
    if (seq > this.highest) {
      const shift = seq - this.highest
      if (shift >= REPLAY_WINDOW) this.bits.fill(0)
      else for (let s = this.highest + 1; s < seq; s++) this.clear(s)
      this.highest = seq
      this.set(seq)
      return true
    }
    if (this.highest - seq >= REPLAY_WINDOW) return false
    if (this.isSet(seq)) return false
    this.set(seq)
    return true
  }

  private slot(seq: number): [number, number] {
    const i = seq % REPLAY_WINDOW
    return [i >>> 5, 1 << (i & 31)]
  }

  private isSet(seq: number): boolean {
    const [w, m] = this.slot(seq)
    return ((this.bits[w] as number) & m) !== 0
  }

  private set(seq: number): void {
    const [w, m] = this.slot(seq)
    this.bits[w] = (this.bits[w] as number) | m
  }

  private clear(seq: number): void {
    const [w, m] = this.slot(seq)
    this.bits[w] = (this.bits[w] as number) & ~m
  }
}
