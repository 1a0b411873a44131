/**
 * RecordLog: what goes in comes back out, and damage on disk never leaks into the records.
 *
 * How: each test writes real files in its own temp directory. Torn tails are made by cutting a good
 * log at every byte inside its last frame; corruption by flipping a payload byte or writing garbage,
 * including bytes that frame correctly but are not JSON. Group commit is shown by the log's own fsync
 * counter across 100 concurrent appends. A property test (fixed fast-check seed, printed on failure)
 * cuts random logs at random offsets and expects exactly the whole frames before the cut.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {RECORD_BYTES_MAX, RecordLog} from '../../src/storage/record-log.js'

type Rec = {i: number; s: string}

const rec = (i: number): Rec => ({i, s: `value ${i} é€😀`})

/** Bytes of one frame as the format defines it, built independently of the code under test. */
function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(8)
  header.writeUInt32BE(payload.length, 0)
  header.writeUInt32BE(crc32(payload), 4)
  return Buffer.concat([header, payload])
}

describe('RecordLog', () => {
  let dir: string
  let path: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kv-record-log-'))
    path = join(dir, 'nested', 'log.bin')
  })
  afterEach(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  /** Writes records through a fresh log, closes it, and returns the file's bytes. */
  async function writeLog(records: Rec[]): Promise<Buffer> {
    const {log} = await RecordLog.open<Rec>(path)
    await log.append(records)
    await log.close()
    return readFile(path)
  }

  it('creates a missing file and its directories, empty and without warnings', async () => {
    const {log, records, warnings} = await RecordLog.open<Rec>(path)
    expect(records).to.deep.equal([])
    expect(warnings).to.deep.equal([])
    expect(log.bytes).to.equal(0)
    expect((await stat(path)).size).to.equal(0)
    await log.close()
  })

  it('round-trips records across appends and reopens, in the documented frame format', async () => {
    const first = await RecordLog.open<Rec>(path)
    await first.log.append([rec(0), rec(1)])
    await first.log.append([rec(2)])
    expect(first.log.recordCount).to.equal(3)
    await first.log.close()

    const bytes = await readFile(path)
    const expected = Buffer.concat([0, 1, 2].map((i) => frame(Buffer.from(JSON.stringify(rec(i))))))
    expect(bytes.equals(expected)).to.equal(true)

    const second = await RecordLog.open<Rec>(path)
    expect(second.records).to.deep.equal([rec(0), rec(1), rec(2)])
    expect(second.warnings).to.deep.equal([])
    expect(second.log.bytes).to.equal(bytes.length)
    await second.log.append([rec(3)])
    await second.log.close()
    expect((await RecordLog.open<Rec>(path).then(async (o) => (await o.log.close(), o.records)))).to.deep.equal(
      [0, 1, 2, 3].map(rec),
    )
  })

  it('recovers every earlier record when the file is cut at any byte inside the last frame', async () => {
    const good = [rec(0), rec(1), rec(2)]
    const bytes = await writeLog([...good, rec(3)])
    const lastStart = bytes.length - frame(Buffer.from(JSON.stringify(rec(3)))).length

    for (let cut = lastStart + 1; cut < bytes.length; cut++) {
      await writeFile(path, bytes.subarray(0, cut))
      const opened = await RecordLog.open<Rec>(path)
      expect(opened.records, `cut at ${cut}`).to.deep.equal(good)
      expect(opened.warnings, `cut at ${cut}`).to.have.length(1)
      expect(opened.warnings[0]).to.include(`dropped ${cut - lastStart} bytes`)
      expect((await stat(path)).size, `cut at ${cut}`).to.equal(lastStart)

      await opened.log.append([rec(9)])
      await opened.log.close()
      const again = await RecordLog.open<Rec>(path)
      expect(again.records, `reopen after cut at ${cut}`).to.deep.equal([...good, rec(9)])
      expect(again.warnings).to.deep.equal([])
      await again.log.close()
    }
  })

  it('stops at a flipped payload byte: earlier records kept, the rest cut off', async () => {
    const bytes = await writeLog([rec(0), rec(1), rec(2)])
    const secondStart = frame(Buffer.from(JSON.stringify(rec(0)))).length
    // 'v' -> 'w' inside a string: still valid JSON, so only the CRC can catch it.
    const damaged = Buffer.from(bytes)
    damaged[secondStart + 8 + JSON.stringify(rec(1)).indexOf('value')] ^= 0x01
    await writeFile(path, damaged)

    const {log, records, warnings} = await RecordLog.open<Rec>(path)
    expect(records).to.deep.equal([rec(0)])
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.include('CRC32 mismatch').and.include(`dropped ${bytes.length - secondStart} bytes`)
    expect((await stat(path)).size).to.equal(secondStart)
    await log.close()
  })

  const garbage: Array<[string, Buffer, string]> = [
    ['all 0xff (absurd length)', Buffer.alloc(64, 0xff), 'exceeds'],
    ['all zeros (empty payload is not JSON)', Buffer.alloc(64, 0), 'not valid JSON'],
    ['a good CRC over non-JSON text', frame(Buffer.from('{not json')), 'not valid JSON'],
    ['a length running past the end', Buffer.from([0, 0, 1, 0, 1, 2, 3, 4, 5]), 'torn payload'],
    ['three bytes', Buffer.from([1, 2, 3]), 'torn frame header'],
    ['text', Buffer.from('hello, this is not a log file at all\n'), 'exceeds'],
  ]
  for (const [name, content, reason] of garbage) {
    it(`treats a garbage file (${name}) as empty, warns once and truncates it`, async () => {
      await writeLog([])
      await writeFile(path, content)
      const {log, records, warnings} = await RecordLog.open<Rec>(path)
      expect(records).to.deep.equal([])
      expect(warnings).to.have.length(1)
      expect(warnings[0]).to.include(reason).and.include(`dropped ${content.length} bytes`)
      expect((await stat(path)).size).to.equal(0)
      await log.append([rec(1)])
      await log.close()
      expect((await RecordLog.open<Rec>(path).then(async (o) => (await o.log.close(), o.records)))).to.deep.equal([rec(1)])
    })
  }

  it('group-commits 100 concurrent appends: all kept in call order with far fewer fsyncs', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    const before = log.syncs
    await Promise.all(Array.from({length: 100}, (_, i) => log.append([rec(i)])))
    const syncs = log.syncs - before
    expect(syncs).to.be.at.least(1).and.at.most(10)
    await log.close()
    const {log: again, records} = await RecordLog.open<Rec>(path)
    expect(records).to.deep.equal(Array.from({length: 100}, (_, i) => rec(i)))
    await again.close()
  })

  it('has fsynced before an append resolves (one fsync for a lone append)', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    const before = log.syncs
    await log.append([rec(1), rec(2)])
    expect(log.syncs).to.equal(before + 1)
    expect(log.bytes).to.equal((await stat(path)).size)
    await log.close()
  })

  it(`refuses a record over ${RECORD_BYTES_MAX} bytes without disturbing other appends`, async function () {
    this.timeout(20_000)
    const {log} = await RecordLog.open<unknown>(path)
    const ok1 = log.append([rec(1)])
    const huge = log.append(['x'.repeat(RECORD_BYTES_MAX)]) // + 2 quote bytes
    const ok2 = log.append([rec(2)])
    let error: unknown
    await huge.catch((e: unknown) => (error = e))
    expect(error).to.be.instanceOf(RangeError)
    await Promise.all([ok1, ok2])
    await log.close()
    expect((await RecordLog.open<unknown>(path).then(async (o) => (await o.log.close(), o.records)))).to.deep.equal([rec(1), rec(2)])
  })

  it('reset empties the file; later appends start a fresh log', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    await log.append([rec(1)])
    await log.reset()
    expect(log.bytes).to.equal(0)
    expect(log.recordCount).to.equal(0)
    expect((await stat(path)).size).to.equal(0)
    await log.append([rec(2)])
    await log.close()
    expect((await RecordLog.open<Rec>(path).then(async (o) => (await o.log.close(), o.records)))).to.deep.equal([rec(2)])
  })

  it('refuses appends after close, and close is idempotent', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    const pending = log.append([rec(1)])
    await Promise.all([log.close(), log.close()])
    await pending
    let error: unknown
    await log.append([rec(2)]).catch((e: unknown) => (error = e))
    expect(String(error)).to.include('closed')
  })

  it('keeps exactly the whole frames before any cut of any log (property, seeded)', async () => {
    const seed = 20240611
    await writeLog([]) // creates the directory
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), {maxLength: 8}),
        fc.nat(),
        async (values, cutSeed) => {
          const normalised = values.map((v) => JSON.parse(JSON.stringify(v)) as unknown)
          const frames = normalised.map((v) => frame(Buffer.from(JSON.stringify(v))))
          const whole = Buffer.concat(frames)
          const cut = whole.length === 0 ? 0 : cutSeed % (whole.length + 1)
          await writeFile(path, whole.subarray(0, cut))
          const {log, records, warnings} = await RecordLog.open<unknown>(path)
          await log.close()
          let kept = 0
          let end = 0
          while (kept < frames.length && end + frames[kept].length <= cut) end += frames[kept++].length
          expect(records).to.deep.equal(normalised.slice(0, kept))
          expect(warnings).to.have.length(cut === end ? 0 : 1)
          expect((await stat(path)).size).to.equal(end)
        },
      ),
      {seed, numRuns: 100},
    )
  })
})
