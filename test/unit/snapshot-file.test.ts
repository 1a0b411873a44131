/**
 * Snapshot files: a good snapshot reads back exactly; a missing one is silently null; a damaged one
 * (torn, bit-flipped, bad header, non-JSON body under a valid CRC) is null with one warning and is
 * never half-trusted; a `.tmp` left by a crash mid-write is removed and the old snapshot still wins.
 *
 * How: real files in a fresh temp directory per test. Damaged files are made by editing the bytes
 * writeSnapshot produced, or by building header + body by hand.
 */
import {expect} from 'chai'
import {access, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {encodeSnapshot, readSnapshot, writeSnapshot} from '../../src/storage/snapshot-file.js'

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

  it('round-trips a state, leaves no temp file, and the later write wins', async () => {
    await writeSnapshot(path, {old: true})
    await writeSnapshot(path, state)
    expect(await readSnapshot(path)).to.deep.equal({state, warnings: []})
    expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
  })

  it('writes a header line {format: 1, crc32, length} followed by the JSON body', async () => {
    await writeSnapshot(path, state)
    const bytes = await readFile(path)
    const newline = bytes.indexOf(0x0a)
    const body = bytes.subarray(newline + 1)
    expect(JSON.parse(bytes.subarray(0, newline).toString())).to.deep.equal({format: 1, crc32: crc32(body), length: body.length})
    expect(JSON.parse(body.toString())).to.deep.equal(state)
  })

  it('reads a missing snapshot as null without a warning', async () => {
    expect(await readSnapshot(path)).to.deep.equal({state: null, warnings: []})
  })

  it('removes a leftover .tmp from a crash mid-write and keeps the previous snapshot', async () => {
    await writeSnapshot(path, state)
    await writeFile(path + '.tmp', '{"format":1,"crc32":0,"length":999}\n{"half":')
    expect(await readSnapshot(path)).to.deep.equal({state, warnings: []})
    expect(await readdir(dir)).to.deep.equal(['snapshot.json'])
  })

  it('refuses to write null or undefined, which read back would mean "no snapshot"', () => {
    expect(() => encodeSnapshot(null)).to.throw(TypeError)
    expect(() => encodeSnapshot(undefined)).to.throw(TypeError)
  })

  /** Each damage turns the good file into a bad one; the warning must name why. */
  const damages: Array<[string, (good: Buffer) => Buffer, string]> = [
    ['a flipped body byte', (b) => flip(b, b.length - 5), 'CRC32 mismatch'],
    ['a torn body', (b) => b.subarray(0, b.length - 3), 'torn write'],
    ['trailing bytes', (b) => Buffer.concat([b, Buffer.from('xx')]), 'header says'],
    ['a torn header', (b) => b.subarray(0, 10), 'no header line'],
    ['an empty file', () => Buffer.alloc(0), 'empty'],
    ['a header that is not JSON', (b) => flip(b, 0), 'header is not JSON'],
    ['a header missing crc32', (b) => withHeader(b, (h) => ({format: h.format, length: h.length})), 'header is not'],
    ['an unknown format', (b) => withHeader(b, (h) => ({...h, format: 2})), 'unknown format 2'],
    ['a valid CRC over a non-JSON body', () => handMade(Buffer.from('{"keys":')), 'not valid JSON'],
    ['plain JSON without a header', () => Buffer.from(JSON.stringify(state)), 'no header line'],
  ]
  for (const [name, damage, reason] of damages) {
    it(`reads a snapshot with ${name} as null with one warning`, async () => {
      await writeSnapshot(path, state)
      await writeFile(path, damage(await readFile(path)))
      const {state: read, warnings} = await readSnapshot(path)
      expect(read).to.equal(null)
      expect(warnings).to.have.length(1)
      expect(warnings[0]).to.include(path).and.include(reason)
    })
  }

  it('still reads the untouched file the damage tests start from', async () => {
    // Guards the table above: each case fails only because of its own damage.
    await writeSnapshot(path, state)
    await writeFile(path, Buffer.from(await readFile(path)))
    expect((await readSnapshot(path)).state).to.deep.equal(state)
    await access(path)
  })
})

function flip(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b)
  copy[at] ^= 0x20
  return copy
}

function withHeader(b: Buffer, edit: (h: Record<string, number>) => object): Buffer {
  const newline = b.indexOf(0x0a)
  const header = JSON.parse(b.subarray(0, newline).toString()) as Record<string, number>
  return Buffer.concat([Buffer.from(JSON.stringify(edit(header)) + '\n'), b.subarray(newline + 1)])
}

function handMade(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify({format: 1, crc32: crc32(body), length: body.length}) + '\n'), body])
}
