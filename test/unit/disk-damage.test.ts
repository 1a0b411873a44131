/**
 * Proves the nemesis's disk damage (src/nemesis/disk-damage.ts) is corruption, never a torn tail:
 * - in log.bin the flipped byte is inside the payload of a frame before the last complete one (also
 *   with a torn partial frame after it), for every position, and the storage layer's own decoder
 *   then reports damage at or before that frame with a good frame after it (lost data, not a torn
 *   tail); logs with fewer than three frames are left alone;
 * - in snapshot.json the byte lies in the body, after the header line;
 * - the frames it finds in a log written by the real RecordLog are exactly the records appended, so
 *   it agrees with the storage layer on the layout;
 * - applyCorrupt changes exactly one byte of the file the plan chose (or of the other one when that
 *   one cannot be damaged), applyWipe leaves no data directory behind.
 * How: logs made with storage's encodeFrame over a grid of positions, and temp directories.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {expect} from 'chai'
import {
  LOG_FRAMES_MIN,
  applyCorrupt,
  applyWipe,
  logFlipOffset,
  logFrames,
  snapshotFlipOffset,
} from '../../src/nemesis/disk-damage.js'
import {decodeFrames, encodeFrame} from '../../src/storage/log-frames.js'
import {RecordLog} from '../../src/storage/record-log.js'

function log(frames: number): Buffer {
  return Buffer.concat(
    Array.from({length: frames}, (_, i) =>
      encodeFrame(i + 1, {key: `k${i}`, value: 'v'.repeat(i * 7), clock: {n1: i}}),
    ),
  )
}

const POSITIONS = Array.from({length: 41}, (_, i) => i / 40)

describe('nemesis disk damage: where a byte is flipped', () => {
  it('log.bin: inside a payload before the last complete frame, seen by storage as lost data', () => {
    for (let n = 0; n < LOG_FRAMES_MIN; n++) expect(logFlipOffset(log(n), 0.5), `${n} frames`).to.equal(null)
    for (let n = LOG_FRAMES_MIN; n <= 9; n++) {
      const clean = log(n)
      const next = encodeFrame(n + 1, {key: 'torn', value: 'x'.repeat(20)})
      for (const torn of [0, 3, 18]) {
        // A crash's torn tail: the start of one more frame.
        const data = Buffer.concat([clean, next.subarray(0, torn)])
        const frames = logFrames(data)
        expect(frames, `${n} frames, torn ${torn}`).to.have.length(n)
        const last = frames.at(-1)?.start ?? 0
        for (const position of POSITIONS) {
          const offset = logFlipOffset(data, position)
          const what = `${n} frames, torn ${torn}, position ${position}`
          expect(offset, what).to.be.a('number')
          const at = offset as number
          expect(at, what).to.be.below(last)
          const hit = frames.find((f) => f.payloadStart <= at && at < f.end)
          expect(hit, `${what}: in a payload`).to.not.equal(undefined)
          const damaged = Buffer.from(data)
          damaged[at] = (damaged[at] as number) ^ 0x5a
          const bad = decodeFrames(damaged).bad
          expect(bad?.offset, what).to.equal(hit?.start)
          expect(bad?.goodFrameAfter, `${what}: not a torn tail`).to.equal(true)
        }
      }
    }
  })

  it('log.bin: position 0.5 is near the middle of the frames before the last', () => {
    const data = log(9)
    const frames = logFrames(data)
    const last = frames.at(-1)?.start ?? 0
    const at = logFlipOffset(data, 0.5) as number
    expect(at).to.be.within(last * 0.3, last * 0.7)
  })

  it('snapshot.json: inside the body, after the header line', () => {
    const body = JSON.stringify({keys: {a: 1, b: [1, 2, 3]}})
    const data = Buffer.from(`{"format":1,"crc32":${crc32(Buffer.from(body))},"length":${body.length}}\n${body}`)
    const newline = data.indexOf(0x0a)
    for (const position of POSITIONS) {
      const at = snapshotFlipOffset(data, position) as number
      expect(at, `position ${position}`).to.be.above(newline).and.below(data.length)
    }
    expect(snapshotFlipOffset(Buffer.from('{"format":1}\n'), 0.5)).to.equal(null)
    expect(snapshotFlipOffset(Buffer.alloc(0), 0.5)).to.equal(null)
  })
})

describe('nemesis disk damage: on a data directory', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kv-disk-damage-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('agrees with the real RecordLog on where frames are, and flips one byte before the last one', async () => {
    const records = Array.from({length: 12}, (_, i) => ({key: `k${i}`, value: `value-${i}`.repeat(3)}))
    const {log: real} = await RecordLog.open<object>(join(dir, 'log.bin'))
    for (const r of records) await real.append([r])
    await real.close()
    const before = readFileSync(join(dir, 'log.bin'))
    const frames = logFrames(before)
    expect(frames).to.have.length(records.length)
    expect(frames.at(-1)?.end).to.equal(before.length)

    const note = await applyCorrupt(dir, {file: 'log', position: 0.5, mask: 0x01})
    const after = readFileSync(join(dir, 'log.bin'))
    const changed = [...after.keys()].filter((i) => after[i] !== before[i])
    expect(changed, note).to.have.length(1)
    expect(changed[0]).to.be.below(frames.at(-1)?.start ?? 0)
    expect(note).to.contain(`flipped byte ${changed[0]} of`).and.contain('log.bin')
  })

  it('takes the other file when the planned one cannot be damaged, and says when neither can', async () => {
    writeFileSync(join(dir, 'log.bin'), log(5))
    const before = readFileSync(join(dir, 'log.bin'))
    const note = await applyCorrupt(dir, {file: 'snapshot', position: 0.3, mask: 0xff})
    expect(note).to.contain('log.bin').and.contain('no snapshot.json')
    expect(readFileSync(join(dir, 'log.bin')).equals(before)).to.equal(false)

    writeFileSync(join(dir, 'log.bin'), log(2))
    expect(await applyCorrupt(dir, {file: 'log', position: 0.3, mask: 0xff})).to.contain('nothing to corrupt')
  })

  it('wipe deletes the whole data directory', async () => {
    mkdirSync(join(dir, 'node'))
    writeFileSync(join(dir, 'node', 'log.bin'), log(4))
    writeFileSync(join(dir, 'node', 'LOCK'), '123')
    const note = await applyWipe(join(dir, 'node'))
    expect(existsSync(join(dir, 'node'))).to.equal(false)
    expect(note).to.contain('wiped').and.contain('log.bin')
  })
})
