/**
 * The anti-replay window (src/auth/replay-window.ts, RFC 4303 §3.4.3): each sequence number is
 * accepted once; numbers may arrive out of order within REPLAY_WINDOW of the highest accepted;
 * older ones are refused; a jump forward forgets exactly what fell out of the window. Checked by
 * hand at the edges and against a Set-based model on random sequences.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import {REPLAY_WINDOW, ReplayWindow} from '../../src/auth/replay-window.js'

const W = REPLAY_WINDOW

/** The window's meaning, without bitmaps: accepted once, unless older than W below the highest. */
class ModelWindow {
  private highest = -1
  private readonly seen = new Set<number>()
  accept(seq: number): boolean {
    if (seq > this.highest) {
      this.highest = seq
      this.seen.add(seq)
      return true
    }
    if (this.highest - seq >= W) return false
    if (this.seen.has(seq)) return false
    this.seen.add(seq)
    return true
  }
}

function offer(w: ReplayWindow, seqs: number[]): boolean[] {
  return seqs.map((s) => w.accept(s))
}

describe('auth replay window', () => {
  it('is a whole number of 32-bit words', () => {
    expect(W % 32).to.equal(0)
    expect(W).to.be.greaterThanOrEqual(64)
  })

  it('accepts increasing numbers, starting at 0, and refuses each one the second time', () => {
    const w = new ReplayWindow()
    expect(offer(w, [0, 1, 2, 5, 9])).to.deep.equal([true, true, true, true, true])
    expect(offer(w, [0, 1, 2, 5, 9])).to.deep.equal([false, false, false, false, false])
  })

  it('accepts a number skipped earlier exactly once (out of order within the window)', () => {
    const w = new ReplayWindow()
    expect(offer(w, [0, 3, 1, 2])).to.deep.equal([true, true, true, true])
    expect(offer(w, [1, 2, 3])).to.deep.equal([false, false, false])
    expect(w.accept(10)).to.equal(true)
    expect(offer(w, [7, 7, 4, 4, 9, 8, 5, 6])).to.deep.equal([true, false, true, false, true, true, true, true])
  })

  it('accepts the oldest number still in the window, and refuses the first one below it', () => {
    const w = new ReplayWindow()
    const top = 3 * W + 17
    expect(w.accept(top)).to.equal(true)
    expect(w.accept(top - W), 'just older than the window').to.equal(false)
    expect(w.accept(top - W - 1)).to.equal(false)
    expect(w.accept(0)).to.equal(false)
    expect(w.accept(top - W + 1), 'the oldest in the window').to.equal(true)
    expect(w.accept(top - W + 1)).to.equal(false)
    expect(w.accept(top - 1)).to.equal(true)
  })

  it('a first message with a large sequence number (a sender that ran long before we started) is accepted', () => {
    const w = new ReplayWindow()
    expect(w.accept(1_000_000)).to.equal(true)
    expect(w.accept(999_999)).to.equal(true)
    expect(w.accept(1_000_000)).to.equal(false)
  })

  it('after a jump of exactly W: everything at or below the old highest is too old, the new window is empty', () => {
    const w = new ReplayWindow()
    for (let s = 0; s < 50; s++) w.accept(s)
    const old = 49
    expect(w.accept(old + W)).to.equal(true)
    for (let s = 0; s <= old; s++) expect(w.accept(s), `seq ${s}`).to.equal(false)
    // not seen yet and inside the window: accepted once (their slots once held numbers 0..49's peers)
    for (let s = old + 1; s < old + W; s += 97) {
      expect(w.accept(s), `seq ${s}`).to.equal(true)
      expect(w.accept(s), `seq ${s} again`).to.equal(false)
    }
  })

  it('after a jump of more than W: slots that held old numbers are cleared for the new ones', () => {
    const w = new ReplayWindow()
    const wrong: string[] = []
    const want = (s: number, ok: boolean, what: string) => {
      if (w.accept(s) !== ok) wrong.push(`${what} ${s}`)
    }
    for (let s = 0; s < W; s++) want(s, true, 'first') // every slot set
    const top = W - 1 + W + 5 // jump of W + 5
    want(top, true, 'jump')
    for (let s = top - W + 1; s < top; s++) want(s, true, 'new')
    for (let s = top - W + 1; s <= top; s++) want(s, false, 'again')
    for (let s = 0; s <= top - W; s++) want(s, false, 'old')
    expect(wrong).to.deep.equal([])
  })

  it('after a jump shorter than W: slots between the old and new highest are cleared, the rest kept', () => {
    const w = new ReplayWindow()
    const wrong: string[] = []
    const want = (s: number, ok: boolean, what: string) => {
      if (w.accept(s) !== ok) wrong.push(`${what} ${s}`)
    }
    for (let s = 0; s < W; s++) w.accept(s) // every slot set, highest W - 1
    const jump = 100
    const top = W - 1 + jump
    want(top, true, 'jump')
    // the numbers that fell out: refused as too old
    for (let s = 0; s <= top - W; s++) want(s, false, 'old')
    // the ones still inside that were seen: refused as repeats
    for (let s = top - W + 1; s < W; s++) want(s, false, 'seen')
    // the ones skipped by the jump, whose slots held 0..jump-2: new, accepted once
    for (let s = W; s < top; s++) {
      want(s, true, 'skipped')
      want(s, false, 'skipped again')
    }
    expect(wrong).to.deep.equal([])
  })

  it('slides one at a time over many windows without ever accepting a repeat', () => {
    const w = new ReplayWindow()
    const wrong: number[] = []
    for (let s = 0; s < 3 * W; s++) {
      if (!w.accept(s)) wrong.push(s)
      if (s >= 1 && w.accept(s - 1)) wrong.push(s - 1)
      if (s >= W && w.accept(s - W)) wrong.push(s - W)
    }
    expect(wrong).to.deep.equal([])
  })

  it('agrees with a Set model on random sequences (small steps, reorders, repeats and jumps)', () => {
    const step = fc.oneof(
      {weight: 6, arbitrary: fc.integer({min: -40, max: 40})}, // near the top: repeats, reorders
      {weight: 2, arbitrary: fc.integer({min: -W - 40, max: -W + 40})}, // at the window's edge
      {weight: 1, arbitrary: fc.integer({min: W - 40, max: 3 * W})}, // jumps forward
    )
    fc.assert(
      fc.property(fc.array(step, {minLength: 1, maxLength: 400}), (steps) => {
        const real = new ReplayWindow()
        const model = new ModelWindow()
        let top = 0
        for (const d of steps) {
          const seq = Math.max(0, top + d)
          const got = real.accept(seq)
          const want = model.accept(seq)
          if (got !== want) throw new Error(`seq ${seq} (top ${top}): window ${got}, model ${want}`)
          top = Math.max(top, seq)
        }
      }),
      {numRuns: 300, seed: 20240611},
    )
  })

  it('agrees with the model when every number of a range arrives shuffled, twice', () => {
    fc.assert(
      fc.property(fc.integer({min: 1, max: 2 * W}), fc.integer(), (n, seed) => {
        const seqs = [...Array.from({length: n}, (_, i) => i), ...Array.from({length: n}, (_, i) => i)]
        let state = seed >>> 0
        for (let i = seqs.length - 1; i > 0; i--) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0
          const j = state % (i + 1)
          ;[seqs[i], seqs[j]] = [seqs[j]!, seqs[i]!]
        }
        const real = new ReplayWindow()
        const model = new ModelWindow()
        let accepted = 0
        for (const s of seqs) {
          const got = real.accept(s)
          if (got !== model.accept(s)) throw new Error(`seq ${s}`)
          if (got) accepted++
        }
        // never more than once each
        if (accepted > n) throw new Error(`accepted ${accepted} of ${n}`)
      }),
      {numRuns: 25, seed: 7},
    )
  })
})
