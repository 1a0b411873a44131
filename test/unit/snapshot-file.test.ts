/**
 * Proves the snapshot file. Format 3 (written): a good snapshot reads back exactly, keys and all,
 * with the lastSeq it was written with, whether its keys fill one chunk or several; the state is
 * captured when snapshotChunks is called, not when the chunks are produced; a file cut at any chunk
 * boundary or inside any chunk, a flipped byte anywhere (header, head, chunk prefix or body,
 * trailer), a dropped, repeated or swapped chunk, a tampered trailer (even one whose CRC was
 * recomputed) and trailing bytes all read as `bad` with the reason, never as a shorter state; a
 * missing file reads as `missing`; a `.tmp` left by a crash mid-write is removed and the old snapshot
 * still wins. Format 2 (an upgraded replica's file) still reads, and its damage is still `bad`;
 * format 1 and unknown formats are `bad`. decodeSnapshot (the simulator's entry) judges bytes exactly
 * as readSnapshot judges the file; readSnapshot's keys are read lazily and refuse a file replaced
 * since it was verified. The recovery policy makes a bad format-3 snapshot the same data loss as a
 * bad format-2 one.
 *
 * How: real files in a fresh temp directory per test. Damaged files are made by editing the bytes
 * writeSnapshot produced (chunk boundaries found by walking the 12-byte prefixes), or by building a
 * format-2 header + body by hand. Flip positions inside chunk bodies come from a seeded Rng.
 */
import {expect} from 'chai'
import {mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {Rng} from '../../src/core/rng.js'
import {planRecovery} from '../../src/storage/recovery-policy.js'
import {
  decodeSnapshot,
  encodeSnapshot,
  KEYS_PER_CHUNK,
  readSnapshot,
  snapshotChunks,
  SNAPSHOT_FORMAT,
  type SnapshotRead,
  writeSnapshot,
} from '../../src/storage/snapshot-file.js'

type Pair = [string, unknown]
interface State {
  mode: string
  term: number
  members: string[]
  keys: Iterable<Pair>
}

/** `n` keys, among them the awkward ones: `__proto__` as a key and as a clock entry, non-ASCII. */
function makeState(n: number): State & {keys: Pair[]} {
  const keys: Pair[] = [
    ['__proto__', {dot: {node: '__proto__', counter: 1}, ctx: JSON.parse('{"__proto__": 4}') as object, value: 'p'}],
    [
      'é€😀',
      [
        {value: 'é€😀', clock: {n1: 3}},
        {value: null, clock: {n2: 1}},
      ],
    ],
  ]
  for (let i = keys.length; i < n; i++) keys.push([`key-${i}`, {value: `v${i}`, version: {term: 1, index: i}}])
  return {mode: 'test', term: 7, members: ['n1', 'n2'], keys}
}

/** readSnapshot's keys are a lazy iterable: the state with them read into an array. */
function materialised(read: SnapshotRead<unknown>): SnapshotRead<unknown> {
  if (read.kind !== 'ok') return read
  const s = read.state as {keys?: unknown}
  const lazy = typeof s.keys === 'object' && s.keys !== null && !Array.isArray(s.keys) && Symbol.iterator in s.keys
  return lazy ? {...read, state: {...s, keys: [...(s.keys as Iterable<unknown>)]}} : read
}

/** Byte ranges of a format-3 file: header line + head, each chunk's prefix and body, the trailer. */
function layout(b: Buffer): {headEnd: number; chunks: Array<{at: number; body: number; end: number}>; trailer: number} {
  const newline = b.indexOf(0x0a)
  const header = JSON.parse(b.subarray(0, newline).toString()) as {headLength: number}
  const headEnd = newline + 1 + header.headLength
  const chunks: Array<{at: number; body: number; end: number}> = []
  let at = headEnd
  while (b.readUInt32BE(at) !== 0) {
    const end = at + 12 + b.readUInt32BE(at)
    chunks.push({at, body: at + 12, end})
    at = end
  }
  return {headEnd, chunks, trailer: at}
}

describe('snapshot file', () => {
  let dir: string
  let path: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kv-snapshot-'))
    path = join(dir, 'snapshot.json')
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  const small = makeState(5)
  const big = makeState(3 * KEYS_PER_CHUNK + 17)

  async function damaged(bytes: Buffer): Promise<SnapshotRead<unknown>> {
    await writeFile(path, bytes)
    const read = await readSnapshot(path)
    expect(decodeSnapshot(bytes), 'decodeSnapshot agrees').to.deep.equal(materialised(read))
    return read
  }

  describe('format 3', () => {
    it('round-trips a state and its lastSeq, leaves no temp file, and the later write wins', async () => {
      await writeSnapshot(path, {old: true}, 3)
      await writeSnapshot(path, small, 17)
      expect(materialised(await readSnapshot(path))).to.deep.equal({kind: 'ok', state: small, lastSeq: 17})
      expect(decodeSnapshot(await readFile(path))).to.deep.equal({kind: 'ok', state: small, lastSeq: 17})
      expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
    })

    it('round-trips keys spread over several chunks, with __proto__ as a key and as a clock entry', async () => {
      await writeSnapshot(path, big, 40)
      const read = materialised(await readSnapshot(path))
      expect(read).to.deep.equal({kind: 'ok', state: big, lastSeq: 40})
      expect(layout(await readFile(path)).chunks).to.have.length(4)
      const proto = read.kind === 'ok' && (read.state as {keys: Pair[]}).keys[0]
      expect(Object.keys((proto as [string, {ctx: object}])[1].ctx)).to.deep.equal(['__proto__'])
    })

    it('reads the keys lazily, and again on a second iteration', async () => {
      await writeSnapshot(path, big, 1)
      const read = await readSnapshot(path)
      const keys = read.kind === 'ok' ? (read.state as State).keys : []
      expect(Array.isArray(keys)).to.equal(false)
      expect([...keys]).to.deep.equal(big.keys)
      expect([...keys]).to.have.length(big.keys.length)
    })

    it('keeps states without a keys array whole in the head (any JSON value but null)', async () => {
      for (const s of [{keys: {a: 1}, term: 2}, [1, 'two'], 'text', 0, {keys: []}]) {
        await writeSnapshot(path, s, 2)
        expect(materialised(await readSnapshot(path))).to.deep.equal({kind: 'ok', state: s, lastSeq: 2})
      }
    })

    it('keeps a lastSeq beyond 2^32 exactly (seq is a u64 on disk; JS keeps it exact up to 2^53)', async () => {
      const seq = 2 ** 40 + 5
      await writeSnapshot(path, big, seq)
      expect(materialised(await readSnapshot(path))).to.deep.equal({kind: 'ok', state: big, lastSeq: seq})
    })

    it('captures the state when snapshotChunks is called, not when its chunks are produced', () => {
      const state = makeState(KEYS_PER_CHUNK + 3)
      const keys = state.keys
      const expected = structuredClone(state)
      function* generated(): Generator<Pair> {
        yield* keys
      }
      const chunks = snapshotChunks({...state, keys: generated()}, 4)
      // A core goes on: adds a key, replaces a value (never mutating it), changes a scalar field.
      keys.push(['late', 1])
      keys[0] = ['__proto__', 'replaced']
      state.members.push('n3')
      const fromArray = snapshotChunks(state, 4)
      keys.push(['later', 2])
      expect(decodeSnapshot(Buffer.concat([...chunks]))).to.deep.equal({kind: 'ok', state: expected, lastSeq: 4})
      const second = decodeSnapshot(Buffer.concat([...fromArray]))
      expect(second.kind === 'ok' && (second.state as State & {keys: Pair[]}).keys.length).to.equal(
        expected.keys.length + 1,
      )
    })

    it('writes a header line, the head, chunks of at most KEYS_PER_CHUNK keys with CRCs, and a trailer', async () => {
      expect(SNAPSHOT_FORMAT).to.equal(3)
      await writeSnapshot(path, big, 9)
      const b = await readFile(path)
      const newline = b.indexOf(0x0a)
      const head = Buffer.from(JSON.stringify({mode: 'test', term: 7, members: ['n1', 'n2']}))
      expect(JSON.parse(b.subarray(0, newline).toString())).to.deep.equal({
        format: 3,
        lastSeq: 9,
        keys: true,
        headLength: head.length,
        headCrc: crc32(head, crc32('9\n')),
      })
      const {chunks, trailer} = layout(b)
      let chain = crc32(u32(crc32(head, crc32('9\n'))))
      let keys = 0
      for (const c of chunks) {
        const count = b.readUInt32BE(c.at + 4)
        expect(count).to.be.within(1, KEYS_PER_CHUNK)
        expect(b.readUInt32BE(c.at + 8)).to.equal(crc32(b.subarray(c.body, c.end), crc32(b.subarray(c.at, c.at + 8))))
        expect(JSON.parse(b.subarray(c.body, c.end).toString())).to.have.length(count)
        chain = crc32(b.subarray(c.at + 8, c.at + 12), chain)
        keys += count
      }
      expect(keys).to.equal(big.keys.length)
      expect(b.length - trailer).to.equal(28)
      const t = b.subarray(trailer)
      expect([t.readUInt32BE(0), t.readUInt32BE(4), t.readUInt32BE(12), t.readUInt32BE(20)]).to.deep.equal([
        0,
        chunks.length,
        keys,
        9,
      ])
      expect(t.readUInt32BE(24)).to.equal(crc32(t.subarray(0, 24), chain))
    })

    it('reads a missing snapshot as missing', async () => {
      expect(await readSnapshot(path)).to.deep.equal({kind: 'missing'})
    })

    it('removes a leftover .tmp from a crash mid-write and keeps the previous snapshot', async () => {
      await writeSnapshot(path, small, 2)
      await writeFile(path + '.tmp', encodeSnapshot(big, 3).subarray(0, 1000))
      expect(materialised(await readSnapshot(path))).to.deep.equal({kind: 'ok', state: small, lastSeq: 2})
      expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
    })

    it('removes a leftover .tmp even when there is no snapshot yet (the first write crashed)', async () => {
      await writeFile(path + '.tmp', 'half')
      expect(await readSnapshot(path)).to.deep.equal({kind: 'missing'})
      expect(await readdir(dir)).to.deep.equal([])
    })

    it('refuses to write null or undefined, which read back would mean "no snapshot", and non-pair keys', () => {
      expect(() => encodeSnapshot(null, 0)).to.throw(TypeError)
      expect(() => encodeSnapshot(undefined, 0)).to.throw(TypeError)
      expect(() => encodeSnapshot({keys: [['a', 1], 'b']}, 0)).to.throw(TypeError)
    })

    it('leaves the previous snapshot and no temp file when producing the chunks fails mid-write', async () => {
      await writeSnapshot(path, small, 2)
      const bad = {keys: [...big.keys.slice(0, 2 * KEYS_PER_CHUNK), ['x', 10n]]}
      let error: unknown = null
      await writeSnapshot(path, bad, 3).catch((e: unknown) => (error = e))
      expect(error).to.be.instanceOf(TypeError)
      expect(materialised(await readSnapshot(path))).to.deep.equal({kind: 'ok', state: small, lastSeq: 2})
      expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
    })

    it('reads a file cut at every chunk boundary, and inside every prefix, body and the trailer, as bad', async () => {
      await writeSnapshot(path, big, 5)
      const good = await readFile(path)
      const {headEnd, chunks, trailer} = layout(good)
      const cuts = [0, 1, headEnd - 1, headEnd, trailer, trailer + 1, trailer + 27]
      for (const c of chunks) cuts.push(c.at, c.at + 5, c.body, c.body + 1, (c.body + c.end) >> 1, c.end - 1)
      for (const cut of cuts) {
        const read = await damaged(good.subarray(0, cut))
        expect(read.kind, `cut at ${cut}`).to.equal('bad')
      }
      const atBoundary = await damaged(good.subarray(0, (chunks[2] as {at: number}).at))
      expect(atBoundary.kind === 'bad' && atBoundary.reason).to.include('torn write')
    })

    it('reads a flipped bit anywhere outside the bodies, and at sampled places in every body, as bad', async () => {
      await writeSnapshot(path, big, 5)
      const good = await readFile(path)
      const {headEnd, chunks, trailer} = layout(good)
      const rng = new Rng(7)
      const places: number[] = []
      for (let i = 0; i < headEnd; i++) places.push(i)
      for (const c of chunks) {
        for (let i = c.at; i < c.body; i++) places.push(i)
        for (let n = 0; n < 40; n++) places.push(c.body + rng.int(c.end - c.body))
      }
      for (let i = trailer; i < good.length; i++) places.push(i)
      for (const at of places) {
        for (const bit of [0x01, 0x20, 0x80]) {
          const bytes = Buffer.from(good)
          bytes[at] = (bytes[at] as number) ^ bit
          const read = decodeSnapshot(bytes)
          expect(read.kind, `bit ${bit} of byte ${at} flipped`).to.equal('bad')
        }
      }
      // A sample through readSnapshot too (decodeSnapshot is the same code over a buffer).
      const bytes = Buffer.from(good)
      const at = (chunks[1] as {body: number}).body + 3
      bytes[at] = (bytes[at] as number) ^ 0x04
      const read = await damaged(bytes)
      expect(read.kind === 'bad' && read.reason).to.include('chunk 1 CRC32 mismatch')
    })

    it('reads a dropped, a repeated and two swapped chunks as bad', async () => {
      await writeSnapshot(path, big, 5)
      const good = await readFile(path)
      const {headEnd, chunks, trailer} = layout(good)
      const part = (i: number) => good.subarray((chunks[i] as {at: number}).at, (chunks[i] as {end: number}).end)
      const rebuilt = (order: number[]) =>
        Buffer.concat([good.subarray(0, headEnd), ...order.map(part), good.subarray(trailer)])
      expect((await damaged(rebuilt([0, 1, 2, 3]))).kind, 'the untouched order').to.equal('ok')
      for (const order of [
        [0, 1, 3],
        [0, 1, 2, 2, 3],
        [1, 0, 2, 3],
      ]) {
        const read = await damaged(rebuilt(order))
        expect(read.kind, `chunks ${order.join(',')}`).to.equal('bad')
        expect(read.kind === 'bad' && read.reason).to.include('trailer')
      }
    })

    it('reads a tampered trailer count or lastSeq as bad, even with its CRC recomputed', async () => {
      await writeSnapshot(path, big, 5)
      const good = await readFile(path)
      const {trailer} = layout(good)
      for (const [at, value] of [
        [12, big.keys.length - 1],
        [20, 6],
        [4, 3],
      ] as const) {
        const bytes = Buffer.from(good)
        bytes.writeUInt32BE(value, trailer + at)
        const read = await damaged(bytes)
        expect(read.kind === 'bad' && read.reason).to.include('trailer CRC32 mismatch')
        // A writer bug rather than damage: the CRC matches the lie.
        bytes.writeUInt32BE(crc32(bytes.subarray(trailer, trailer + 24), chainOf(good)), trailer + 24)
        const forged = await damaged(bytes)
        expect(forged.kind === 'bad' && forged.reason).to.include('trailer says')
      }
    })

    it('reads a header with a changed lastSeq, trailing bytes, and an unknown format as bad', async () => {
      await writeSnapshot(path, big, 5)
      const good = await readFile(path)
      const cases: Array<[Buffer, string]> = [
        [withHeader(good, (h) => ({...h, lastSeq: 6})), 'head CRC32 mismatch'],
        [Buffer.concat([good, Buffer.from('xx')]), 'bytes after the trailer'],
        [withHeader(good, (h) => ({...h, format: 4})), 'header is not'],
        [withHeader(good, (h) => ({...h, keys: false})), 'without keys'],
        [Buffer.from(JSON.stringify(big)), 'no header line'],
        [Buffer.alloc(0), 'empty'],
      ]
      for (const [bytes, reason] of cases) {
        const read = await damaged(bytes)
        expect(read.kind === 'bad' && read.reason).to.include(reason)
      }
    })

    it('throws (a writer bug, not damage) when a CRC-valid chunk is not JSON pairs: decode says bad, lazy keys throw', async () => {
      await writeSnapshot(path, small, 5)
      const good = await readFile(path)
      const {chunks} = layout(good)
      const c = chunks[0] as {at: number; body: number; end: number}
      const body = Buffer.from('["x"]')
      const prefix = Buffer.alloc(12)
      prefix.writeUInt32BE(body.length, 0)
      prefix.writeUInt32BE(1, 4)
      prefix.writeUInt32BE(crc32(body, crc32(prefix.subarray(0, 8))), 8)
      const head = good.subarray(0, c.at)
      const t = Buffer.alloc(28)
      t.writeUInt32BE(1, 4)
      t.writeUInt32BE(1, 12)
      t.writeUInt32BE(5, 20)
      const headCrc = (JSON.parse(good.subarray(0, good.indexOf(0x0a)).toString()) as {headCrc: number}).headCrc
      t.writeUInt32BE(crc32(t.subarray(0, 24), crc32(prefix.subarray(8), crc32(u32(headCrc)))), 24)
      const bytes = Buffer.concat([head, prefix, body, t])
      expect(decodeSnapshot(bytes)).to.deep.equal({
        kind: 'bad',
        reason: 'chunk 0 is not a JSON array of 1 [key, value] pairs',
      })
      await writeFile(path, bytes)
      const read = await readSnapshot(path)
      expect(read.kind).to.equal('ok')
      expect(() => [...(read.kind === 'ok' ? (read.state as State).keys : [])]).to.throw(/not a JSON array/)
    })

    it("refuses to iterate keys of a file replaced since it was verified (two snapshots' keys never mix)", async () => {
      await writeSnapshot(path, big, 5)
      const read = await readSnapshot(path)
      await writeSnapshot(path, makeState(big.keys.length), 6)
      expect(() => [...(read.kind === 'ok' ? (read.state as State).keys : [])]).to.throw(/after it was verified/)
    })
  })

  describe('format 2 (still read)', () => {
    const v2state = {mode: 'test', keys: [['a', 1]], term: 3}

    it('reads a good format-2 file, keys as an array', async () => {
      await writeFile(path, handMade(Buffer.from(JSON.stringify(v2state)), 8))
      expect(await readSnapshot(path)).to.deep.equal({kind: 'ok', state: v2state, lastSeq: 8})
    })

    const damages: Array<[string, (good: Buffer) => Buffer, string]> = [
      ['a flipped body byte', (b) => flip(b, b.length - 5), 'CRC32 mismatch'],
      ['a torn body', (b) => b.subarray(0, b.length - 3), 'torn write'],
      ['trailing bytes', (b) => Buffer.concat([b, Buffer.from('xx')]), 'header says'],
      ['a torn header', (b) => b.subarray(0, 10), 'no header line'],
      ['a header that is not JSON', (b) => flip(b, 0), 'header is not JSON'],
      [
        'a header missing crc32',
        (b) => withHeader(b, (h) => ({format: h.format, length: h.length, lastSeq: h.lastSeq})),
        'header is not',
      ],
      [
        'a header missing lastSeq (a format-1 file)',
        (b) => withHeader(b, (h) => ({format: 1, crc32: h.crc32, length: h.length})),
        'header is not',
      ],
      ['a negative lastSeq', (b) => withHeader(b, (h) => ({...h, lastSeq: -1})), 'header is not'],
      ['a changed lastSeq', (b) => withHeader(b, (h) => ({...h, lastSeq: 6})), 'CRC32 mismatch'],
      ['an unknown format', (b) => withHeader(b, (h) => ({...h, format: 7})), 'unknown format 7'],
      ['a valid CRC over a non-JSON body', () => handMade(Buffer.from('{"keys":'), 0), 'not valid JSON'],
    ]
    for (const [name, damage, reason] of damages) {
      it(`reads a format-2 snapshot with ${name} as bad, saying why (and decodeSnapshot agrees)`, async () => {
        const read = await damaged(damage(handMade(Buffer.from(JSON.stringify(v2state)), 5)))
        expect(read.kind).to.equal('bad')
        expect(read.kind === 'bad' && read.reason).to.include(reason)
      })
    }
  })

  it('the recovery policy makes a bad format-3 snapshot the same data loss as a bad format-2 one', () => {
    const v3 = encodeSnapshot(big, 4)
    const v2 = handMade(Buffer.from(JSON.stringify({...big, keys: big.keys})), 4)
    const files = {snapshot: 'snapshot.json', log: 'log.bin', marker: 'RECOVERING'}
    const log = {frames: [{seq: 5, record: 'r5'}], goodBytes: 10, bad: null}
    const plans = [v3.subarray(0, v3.length - 40), flip(v3, v3.length - 100), flip(v2, v2.length - 5)].map((bytes) =>
      planRecovery<unknown, string>({snapshot: decodeSnapshot(bytes), log, marker: null, files}),
    )
    for (const plan of plans) {
      expect(plan.snapshot).to.equal(null)
      expect(plan.records).to.deep.equal(['r5'])
      expect(plan.nextSeq).to.equal(6)
      expect(plan.facts.empty).to.equal(false)
      expect(plan.facts.loss?.file).to.equal('snapshot.json')
      expect(plan.facts.loss?.what).to.match(/^the snapshot is unreadable \(.+\): the state compacted into it is lost$/)
    }
    // And a good one of each is no loss, with the same state.
    const good = [v3, v2].map((bytes) =>
      planRecovery<unknown, string>({snapshot: decodeSnapshot(bytes), log, marker: null, files}),
    )
    for (const plan of good) {
      expect(plan.facts.loss).to.equal(null)
      expect(plan.snapshot).to.deep.equal(big)
    }
  })
})

/** The trailer's running CRC of a good format-3 file: the head's CRC, then each chunk's. */
function chainOf(b: Buffer): number {
  const headCrc = (JSON.parse(b.subarray(0, b.indexOf(0x0a)).toString()) as {headCrc: number}).headCrc
  let chain = crc32(u32(headCrc))
  for (const c of layout(b).chunks) chain = crc32(b.subarray(c.at + 8, c.at + 12), chain)
  return chain
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

function flip(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b)
  copy.writeUInt8(copy.readUInt8(at) ^ 0x20, at) // readUInt8 throws past the end
  return copy
}

function withHeader(b: Buffer, edit: (h: Record<string, number>) => object): Buffer {
  const newline = b.indexOf(0x0a)
  const header = JSON.parse(b.subarray(0, newline).toString()) as Record<string, number>
  return Buffer.concat([Buffer.from(JSON.stringify(edit(header)) + '\n'), b.subarray(newline + 1)])
}

/** A format-2 file, as the previous build wrote them. */
function handMade(body: Buffer, lastSeq: number): Buffer {
  return Buffer.concat([
    Buffer.from(
      JSON.stringify({format: 2, crc32: crc32(body, crc32(`${lastSeq}\n`)), length: body.length, lastSeq}) + '\n',
    ),
    body,
  ])
}
