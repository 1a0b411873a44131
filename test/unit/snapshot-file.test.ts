/**
 * Proves the snapshot file: a good snapshot reads back exactly, with the lastSeq it was written
 * with; a missing one reads as `missing`; a damaged one (torn, bit-flipped, bad header, a format-1
 * file, non-JSON body under a valid CRC) reads as `bad` with the reason and is never half-trusted; a
 * `.tmp` left by a crash mid-write is removed and the old snapshot still wins. decodeSnapshot (the simulator's entry)
 * judges bytes exactly as readSnapshot judges the file.
 *
 * How: real files in a fresh temp directory per test. Damaged files are made by editing the bytes
 * writeSnapshot produced, or by building header + body by hand.
 */
import {expect} from 'chai'
import {access, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {
  decodeSnapshot,
  encodeSnapshot,
  readSnapshot,
  SNAPSHOT_FORMAT,
  writeSnapshot,
} from '../../src/storage/snapshot-file.js'

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

  const state = {keys: {a: [{value: 'é€😀', clock: {n1: 3}}], b: []}, term: 7, list: [1, 'two', true, null]}

  it('round-trips a state and its lastSeq, leaves no temp file, and the later write wins', async () => {
    await writeSnapshot(path, {old: true}, 3)
    await writeSnapshot(path, state, 17)
    expect(await readSnapshot(path)).to.deep.equal({kind: 'ok', state, lastSeq: 17})
    expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
  })

  it('keeps a lastSeq beyond 2^32 exactly (seq is a u64 on disk; JS keeps it exact up to 2^53)', async () => {
    const big = 2 ** 40 + 5
    await writeSnapshot(path, state, big)
    expect(await readSnapshot(path)).to.deep.equal({kind: 'ok', state, lastSeq: big})
  })

  it('writes a header line {format: 2, crc32 (over lastSeq and body), length, lastSeq} followed by the JSON body', async () => {
    expect(SNAPSHOT_FORMAT).to.equal(2)
    await writeSnapshot(path, state, 9)
    const bytes = await readFile(path)
    const newline = bytes.indexOf(0x0a)
    const body = bytes.subarray(newline + 1)
    expect(JSON.parse(bytes.subarray(0, newline).toString())).to.deep.equal({
      format: 2,
      crc32: crc32(body, crc32('9\n')),
      length: body.length,
      lastSeq: 9,
    })
    expect(JSON.parse(body.toString())).to.deep.equal(state)
    expect(bytes.equals(encodeSnapshot(state, 9))).to.equal(true)
  })

  it('reads a missing snapshot as missing', async () => {
    expect(await readSnapshot(path)).to.deep.equal({kind: 'missing'})
  })

  it('removes a leftover .tmp from a crash mid-write and keeps the previous snapshot', async () => {
    await writeSnapshot(path, state, 4)
    await writeFile(path + '.tmp', '{"format":2,"crc32":0,"length":999,"lastSeq":8}\n{"half":')
    expect(await readSnapshot(path)).to.deep.equal({kind: 'ok', state, lastSeq: 4})
    expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
  })

  it('removes a leftover .tmp even when there is no snapshot yet (the first write crashed)', async () => {
    await writeFile(path + '.tmp', 'half')
    expect(await readSnapshot(path)).to.deep.equal({kind: 'missing'})
    expect(await readdir(dir)).to.deep.equal([])
  })

  it('refuses to write null or undefined, which read back would mean "no snapshot"', () => {
    expect(() => encodeSnapshot(null, 0)).to.throw(TypeError)
    expect(() => encodeSnapshot(undefined, 0)).to.throw(TypeError)
  })

  /** Each damage turns the good file into a bad one; the warning must name why. */
  const damages: Array<[string, (good: Buffer) => Buffer, string]> = [
    ['a flipped body byte', (b) => flip(b, b.length - 5), 'CRC32 mismatch'],
    ['a torn body', (b) => b.subarray(0, b.length - 3), 'torn write'],
    ['trailing bytes', (b) => Buffer.concat([b, Buffer.from('xx')]), 'header says'],
    ['a torn header', (b) => b.subarray(0, 10), 'no header line'],
    ['an empty file', () => Buffer.alloc(0), 'empty'],
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
    [
      'a changed lastSeq (it would skip log records silently)',
      (b) => withHeader(b, (h) => ({...h, lastSeq: 6})),
      'CRC32 mismatch',
    ],
    ['an unknown format', (b) => withHeader(b, (h) => ({...h, format: 3})), 'unknown format 3'],
    ['a valid CRC over a non-JSON body', () => handMade(Buffer.from('{"keys":')), 'not valid JSON'],
    ['plain JSON without a header', () => Buffer.from(JSON.stringify(state)), 'no header line'],
  ]
  for (const [name, damage, reason] of damages) {
    it(`reads a snapshot with ${name} as bad, saying why (and decodeSnapshot agrees)`, async () => {
      await writeSnapshot(path, state, 5)
      const damaged = damage(await readFile(path))
      await writeFile(path, damaged)
      const read = await readSnapshot(path)
      expect(read.kind).to.equal('bad')
      expect(read.kind === 'bad' && read.reason).to.include(reason)
      expect(decodeSnapshot(damaged)).to.deep.equal(read)
    })
  }

  it('still reads the untouched file the damage tests start from', async () => {
    // Guards the table above: each case fails only because of its own damage.
    await writeSnapshot(path, state, 5)
    const bytes = Buffer.from(await readFile(path))
    await writeFile(
      path,
      withHeader(bytes, (h) => h),
    )
    expect(await readSnapshot(path)).to.deep.equal({kind: 'ok', state, lastSeq: 5})
    expect(decodeSnapshot(bytes)).to.deep.equal({kind: 'ok', state, lastSeq: 5})
    await access(path)
  })
})

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

function handMade(body: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(JSON.stringify({format: 2, crc32: crc32(body, crc32('0\n')), length: body.length, lastSeq: 0}) + '\n'),
    body,
  ])
}
