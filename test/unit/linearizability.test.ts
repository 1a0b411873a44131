/**
 * Proves checkLinearizable judges quorum histories as a per-key register should: it accepts
 * hand-made linearizable histories (sequential, concurrent writes seen either way, unknown writes
 * seen or never seen, failed writes, deletes, time ties, many keys) and rejects the classic
 * violations (stale read, value never written, value of a failed write, non-monotonic reads, a read
 * older than an earlier read in real time, a read with two values, one bad key among good ones),
 * naming the key and the read at fault, or the longest linearizable prefix and the ops that could
 * not come next.
 * How: hand-made histories; a thousand seeded random histories that are linearizable by
 * construction (accepted), then mutated to read a value that cannot be read (rejected); small random
 * histories compared with a brute-force reference that tries every order (the evidence that the
 * search's prunings and the unknown-write reductions lose no linearization and invent none); a
 * pathological history under a 1 ms bound ('unknown', never 'ok'); a generous speed bound on a
 * 2000-op history.
 */
import {expect} from 'chai'
import type {HistoryOp} from '../../src/check/history.js'
import {checkLinearizable} from '../../src/check/linearizability.js'
import {Rng} from '../../src/core/rng.js'
import {bruteForceLinearizable, linearizableHistory, type DraftOp, type GenOptions} from './register-history.js'

/** Builds one history with ids in call order; each op is [invoke, complete] (null: no reply). */
function historyOf(build: (h: Builder) => void): HistoryOp[] {
  const ops: HistoryOp[] = []
  build(new Builder(ops))
  return ops
}

class Builder {
  constructor(private readonly ops: HistoryOp[]) {}

  put(
    key: string,
    value: string,
    invoke: number,
    complete: number | null,
    status: HistoryOp['status'] = 'ok',
    client = 'c1',
  ): void {
    this.add({kind: 'put', key, value, invoke, complete, status, client})
  }

  del(key: string, invoke: number, complete: number | null, status: HistoryOp['status'] = 'ok', client = 'c1'): void {
    this.add({kind: 'delete', key, value: null, invoke, complete, status, client})
  }

  /** `seen`: null = not found, a string = that value, an array = several values. */
  read(key: string, seen: string | null | string[], invoke: number, complete: number, client = 'c2'): void {
    const values = seen === null ? [] : typeof seen === 'string' ? [seen] : seen
    this.add({kind: 'read', key, invoke, complete, status: 'ok', client, read: values.map((value) => ({value}))})
  }

  private add(op: Omit<HistoryOp, 'id'>): void {
    this.ops.push({
      id: this.ops.length,
      ...op,
      ...(op.status === 'fail' ? {error: 'NO_QUORUM'} : op.status === 'unknown' ? {error: 'TIMEOUT'} : {}),
    })
  }
}

function expectOk(history: readonly HistoryOp[]): void {
  const v = checkLinearizable(history)
  expect(v.problems).to.deep.equal([])
  expect(v.verdict).to.equal('ok')
}

function expectViolation(history: readonly HistoryOp[]): string[] {
  const v = checkLinearizable(history)
  expect(v.verdict).to.equal('violation')
  expect(v.problems).to.not.have.lengthOf(0)
  return [...v.problems]
}

describe('checkLinearizable: accepted histories', () => {
  it('accepts the empty history and a sequential one', () => {
    expectOk([])
    expectOk(
      historyOf((h) => {
        h.read('k', null, 0, 1)
        h.put('k', 'a', 2, 3)
        h.read('k', 'a', 4, 5)
        h.put('k', 'b', 6, 7)
        h.read('k', 'b', 8, 9)
      }),
    )
  })

  it('accepts a read that sees either of two overlapping writes, or neither while they run', () => {
    for (const seen of ['a', 'b']) {
      expectOk(
        historyOf((h) => {
          h.put('k', 'a', 0, 10, 'ok', 'c1')
          h.put('k', 'b', 1, 9, 'ok', 'c3')
          h.read('k', null, 2, 3)
          h.read('k', seen, 11, 12)
        }),
      )
    }
  })

  it('accepts an unknown write seen later, even long after its client gave up', () => {
    expectOk(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 2, null, 'unknown')
        h.read('k', 'a', 50, 51)
        h.read('k', 'b', 100, 101)
      }),
    )
  })

  it('accepts an unknown write never seen, and an unknown delete never seen', () => {
    expectOk(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 2, null, 'unknown')
        h.del('k', 3, null, 'unknown')
        h.read('k', 'a', 5, 6)
        h.read('k', 'a', 7, 8)
      }),
    )
  })

  it('accepts an unknown write of a value another put also wrote, seen only later', () => {
    // Values are meant to be unique; when they are not, "a" read first comes from the ok put and
    // the unknown put must still be free to land after "b".
    expectOk(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.read('k', 'a', 2, 3)
        h.put('k', 'b', 4, 5)
        h.put('k', 'a', 6, null, 'unknown')
        h.read('k', 'b', 7, 8)
        h.read('k', 'a', 9, 10)
      }),
    )
  })

  it('accepts a failed write never seen', () => {
    expectOk(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 2, 3, 'fail')
        h.read('k', 'a', 4, 5)
      }),
    )
  })

  it('accepts a delete followed by reads of not-found', () => {
    expectOk(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.read('k', 'a', 2, 3)
        h.del('k', 4, 5)
        h.read('k', null, 6, 7)
      }),
    )
  })

  it('treats ops touching at one instant as concurrent (calls sort before returns at equal times)', () => {
    // The write completes at 5 and the read is invoked at 5: either order is possible.
    expectOk(
      historyOf((h) => {
        h.put('k', 'a', 0, 5)
        h.read('k', null, 5, 6)
      }),
    )
    expectOk(
      historyOf((h) => {
        h.read('k', 'a', 0, 5)
        h.put('k', 'a', 5, 6)
      }),
    )
  })

  it('accepts many keys, each linearizable on its own', () => {
    expectOk(
      historyOf((h) => {
        for (let k = 0; k < 20; k++) {
          h.put(`k${k}`, `a${k}`, k, k + 10)
          h.read(`k${k}`, k % 2 === 0 ? `a${k}` : null, k + 1, k + 2)
          h.read(`k${k}`, `a${k}`, k + 11, k + 12)
        }
      }),
    )
  })
})

describe('checkLinearizable: rejected histories', () => {
  it('rejects a stale read after a completed write, naming the key and the ops', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 2, 3)
        h.read('k', 'a', 4, 5)
      }),
    )
    expect(problems).to.deep.equal([
      'key "k": #2 read → "a" [c2 4–5] is stale: #1 put "b" [c1 2–3] overwrote "a" after the only put of it (#0 put "a" [c1 0–1]) took effect (by 1) and before this read was invoked',
    ])
  })

  it('rejects a stale read of an unknown write, which took effect by the time a first read saw it', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, null, 'unknown')
        h.read('k', 'a', 2, 3)
        h.put('k', 'b', 4, 5)
        h.read('k', 'a', 6, 7)
      }),
    )
    expect(problems).to.have.length(1)
    expect(problems[0])
      .to.include('#3 read → "a" [c2 6–7] is stale: #2 put "b" [c1 4–5] overwrote "a"')
      .and.include('took effect (by 3)')
  })

  it('rejects a read of a value never written', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.read('k', 'zzz', 2, 3)
      }),
    )
    expect(problems).to.deep.equal(['key "k": #1 read → "zzz" [c2 2–3] saw "zzz", which no put on this key wrote'])
  })

  it('rejects a read of a failed (NO_QUORUM) write', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, 1, 'fail')
        h.read('k', 'a', 2, 3)
      }),
    )
    expect(problems).to.deep.equal([
      'key "k": #1 read → "a" [c2 2–3] saw "a", which only a failed put on this key wrote',
    ])
  })

  it('rejects a read that returned before the put of its value was invoked', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.read('k', 'a', 0, 1)
        h.put('k', 'a', 2, null, 'unknown')
      }),
    )
    expect(problems).to.deep.equal([
      'key "k": #0 read → "a" [c2 0–1] saw "a" before any put of it was invoked (#1 put "a" [c1 2–? unknown TIMEOUT])',
    ])
  })

  it('rejects reads seeing a, then b, then a again (writes a then b), with the longest prefix found', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 2, 10) // concurrent with every read, so no read is stale on its own
        h.read('k', 'a', 3, 4)
        h.read('k', 'b', 5, 6)
        h.read('k', 'a', 7, 8)
      }),
    )
    expect(problems).to.deep.equal([
      'key "k": not linearizable. Longest linearizable prefix: 2 ops (#0 put "a" [c1 0–1]; #2 read → "a" [c2 3–4]), leaving "a". ' +
        'None of these could be linearized next: #1 put "b" [c1 2–10]; #3 read → "b" [c2 5–6]; ' +
        'the writes among them would overwrite "a", which these reads have yet to see: #4 read → "a" [c2 7–8]',
    ])
  })

  it('rejects a read of the old value after another read (earlier in real time) saw the new one', () => {
    expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 2, 20)
        h.read('k', 'b', 3, 4, 'c2')
        h.read('k', 'a', 5, 6, 'c3')
      }),
    )
  })

  it('rejects a read returning two values', () => {
    const problems = expectViolation(
      historyOf((h) => {
        h.put('k', 'a', 0, 1)
        h.put('k', 'b', 0, 1, 'ok', 'c3')
        h.read('k', ['a', 'b'], 2, 3)
      }),
    )
    expect(problems).to.have.length(1)
    expect(problems[0]).to.include('returned 2 values')
  })

  it('rejects a violation on one key among several, and names only that key', () => {
    const problems = expectViolation(
      historyOf((h) => {
        for (let k = 0; k < 6; k++) {
          h.put(`k${k}`, `a${k}`, 0, 1)
          h.put(`k${k}`, `b${k}`, 2, 3)
          h.read(`k${k}`, k === 3 ? `a${k}` : `b${k}`, 4, 5)
        }
      }),
    )
    expect(problems).to.have.length(1)
    expect(problems[0]).to.match(/^key "k3": #11 read → "a3" .* is stale/)
  })

  it('caps the lists in a problem', () => {
    const [problem] = expectViolation(
      historyOf((h) => {
        for (let i = 0; i < 29; i++) h.put('k', `v${i}`, 2 * i, 2 * i + 1)
        h.put('k', 'v29', 58, 300)
        h.read('k', 'v29', 60, 61)
        for (let i = 0; i < 30; i++) h.read('k', 'v28', 70, 200, `r${i}`)
      }),
    )
    expect(problem).to.include('Longest linearizable prefix: 29 ops (… 21 earlier, then #21 put "v21" [c1 42–43]; ')
    expect(problem).to.include(
      'None of these could be linearized next: #29 put "v29" [c1 58–300]; #30 read → "v29" [c2 60–61]; the writes among them',
    )
    expect(problem).to.include('#38 read → "v28" [r7 70–200] (+22 more)')
  })
})

const RANDOM: GenOptions = {
  ops: 200,
  keys: 5,
  clients: 6,
  maxLatency: 12,
  failRate: 0.1,
  unknownWriteRate: 0.1,
  unknownReadRate: 0.05,
}

function okReads(history: readonly DraftOp[]): DraftOp[] {
  return history.filter((op) => op.kind === 'read' && op.status === 'ok')
}

describe('checkLinearizable: random histories', () => {
  it('accepts 1000 seeded histories linearizable by construction', () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const v = checkLinearizable(linearizableHistory(new Rng(seed), RANDOM))
      expect(v.verdict, `seed ${seed}: ${v.problems.join('\n')}`).to.equal('ok')
    }
  })

  it("rejects them once one read returns a value never written, or a failed write's value", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = new Rng(seed)
      const history = linearizableHistory(rng, RANDOM)
      const victim = rng.pick(okReads(history))
      victim.read = [{value: 'never-written'}]
      const v = checkLinearizable(history)
      expect(v.verdict, `seed ${seed}`).to.equal('violation')
      expect(v.problems[0]).to.include(`key "${victim.key}"`).and.to.include(`#${victim.id} read → "never-written"`)

      const failed = history.find((op) => op.kind === 'put' && op.status === 'fail' && op.key === victim.key)
      if (failed === undefined) continue
      victim.read = [{value: failed.value as string}]
      expect(checkLinearizable(history).verdict, `seed ${seed}, failed write`).to.equal('violation')
    }
  })

  it('agrees with a brute-force search on 3000 small two-key histories, half of them mutated', () => {
    const small: GenOptions = {
      ops: 14,
      keys: 2,
      clients: 4,
      maxLatency: 6,
      failRate: 0.1,
      unknownWriteRate: 0.25,
      unknownReadRate: 0.05,
    }
    let rejected = 0
    for (let seed = 1; seed <= 3000; seed++) {
      const rng = new Rng(seed)
      const history = linearizableHistory(rng, small)
      const reads = okReads(history)
      if (reads.length > 0 && rng.next() < 0.5) {
        const victim = rng.pick(reads)
        const puts = history.filter((op) => op.kind === 'put' && op.key === victim.key)
        const choice = rng.int(puts.length + 1)
        victim.read = choice === puts.length ? [] : [{value: puts[choice]!.value as string}]
      }
      const expected = ['k0', 'k1'].every((key) => bruteForceLinearizable(history.filter((op) => op.key === key)))
      if (!expected) rejected++
      expect(checkLinearizable(history).verdict, `seed ${seed}`).to.equal(expected ? 'ok' : 'violation')
    }
    expect(rejected).to.be.above(300) // the comparison exercised both answers
  })
})

describe('checkLinearizable: bounds', () => {
  /**
   * n concurrent writes and n concurrent reads each seeing one of them, then a write z seen at once
   * and a read of the first value, after z began: impossible, but no write surely fell between, so
   * only the search finds it, after trying the 2^(n-1) sets of the other writes.
   */
  function pathological(n: number): HistoryOp[] {
    return historyOf((h) => {
      for (let i = 0; i < n; i++) h.put('k', `v${i}`, 0, 100, 'ok', `w${i}`)
      for (let i = 0; i < n; i++) h.read('k', `v${(i * 7) % n}`, 0, 100, `r${i}`)
      h.put('k', 'z', 110, 500)
      h.read('k', 'z', 120, 121)
      h.read('k', 'v0', 130, 131)
    })
  }

  it('gives unknown, never ok, when the time bound runs out', () => {
    const v = checkLinearizable(pathological(20), {timeLimitMs: 1})
    expect(v.verdict).to.equal('unknown')
    expect(v.problems[0]).to.include('time bound reached')
  })

  it('decides the same shape when it is small enough', () => {
    expect(checkLinearizable(pathological(5)).verdict).to.equal('violation')
  })

  it('still reports a violation found on another key after the bound ran out', () => {
    const bad = historyOf((h) => {
      h.put('small', 'a', 0, 1)
      h.put('small', 'b', 2, 10)
      h.read('small', 'b', 3, 4)
      h.read('small', 'a', 5, 6)
    }).map((op) => ({...op, id: op.id + 1000}))
    const v = checkLinearizable([...pathological(20), ...bad], {timeLimitMs: 1})
    expect(v.verdict).to.equal('violation')
    expect(v.problems.some((p) => p.startsWith('key "small": not linearizable'))).to.equal(true)
  })

  it('checks a 2000-op history with unknown writes in well under a second', () => {
    const history = linearizableHistory(new Rng(7), {...RANDOM, ops: 2000, keys: 10, clients: 10})
    checkLinearizable(history) // warm up the JIT
    const started = performance.now()
    const v = checkLinearizable(history)
    expect(v.verdict).to.equal('ok')
    expect(v.stats.ops).to.be.above(1000)
    expect(performance.now() - started).to.be.below(500)
  })
})
