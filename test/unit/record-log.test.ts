/**
 * Proves RecordLog: what goes in comes back out with its seq, opening never changes the file,
 * and with the recovery policy (the way DurableStore uses it) a torn tail is cut while damage never
 * leaks into the records.
 *
 * How: each test writes real files in its own temp directory, and checks the frame bytes against a
 * builder written here from the documented format (not the code under test). `openRepaired` does what
 * DurableStore.open does with the log: RecordLog.open, planRecovery (no snapshot, no marker),
 * truncateTo, setNextSeq. Torn tails are made by cutting a good log at every byte inside its last
 * frame; corruption by flipping a payload byte or writing garbage, including frames with a good CRC
 * whose payload is not JSON or whose seq is wrong. Group commit is shown by the log's own fsync counter
 * across 100 concurrent appends. A property test (fixed fast-check seed, printed on failure) cuts
 * random logs at random offsets and expects exactly the whole frames before the cut.
 */
import {expect} from 'chai'
import fc from 'fast-check'
import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {crc32} from 'node:zlib'
import {RECORD_BYTES_MAX, RecordLog} from '../../src/storage/record-log.js'
import {planRecovery} from '../../src/storage/recovery-policy.js'

type Rec = {i: number; s: string}

const rec = (i: number): Rec => ({i, s: `value ${i} é€😀`})

/** Bytes of one frame as the format defines it, built independently of the code under test. */
function frame(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(16)
  header.writeUInt32BE(payload.length, 0)
  header.writeBigUInt64BE(BigInt(seq), 8)
  header.writeUInt32BE(crc32(Buffer.concat([header.subarray(8, 16), payload])), 4)
  return Buffer.concat([header, payload])
}

const frameOf = (seq: number, value: unknown): Buffer => frame(seq, Buffer.from(JSON.stringify(value)))

/** Opens the log and repairs it the way DurableStore.open does (no snapshot, no marker). */
async function openRepaired<R>(path: string) {
  const {log, decoded, existed} = await RecordLog.open<R>(path)
  const plan = planRecovery<never, R>({
    snapshot: {kind: 'missing'},
    log: existed ? decoded : null,
    marker: null,
    files: {snapshot: 'snapshot.json', log: path, marker: 'RECOVERING'},
  })
  if (plan.truncateLog !== null) await log.truncateTo(plan.truncateLog.bytes, plan.truncateLog.records)
  log.setNextSeq(plan.nextSeq)
  return {log, decoded, records: plan.records, warnings: plan.warnings, loss: plan.facts.loss}
}

/** Records a repaired reopen finds (closing the log again). */
async function recordsAt(path: string): Promise<{records: unknown[]; warnings: string[]}> {
  const {log, records, warnings} = await openRepaired<unknown>(path)
  await log.close()
  return {records, warnings}
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

  it('creates a missing file and its directories, empty, and says it did not exist', async () => {
    const {log, decoded, existed} = await RecordLog.open<Rec>(path)
    expect(existed).to.equal(false)
    expect(decoded).to.deep.equal({frames: [], goodBytes: 0, bad: null})
    expect(log.bytes).to.equal(0)
    expect(log.lastSeq).to.equal(0)
    expect((await stat(path)).size).to.equal(0)
    await log.close()
    const again = await RecordLog.open<Rec>(path)
    expect(again.existed).to.equal(true)
    await again.log.close()
  })

  it('round-trips records with seq 1, 2, 3… across appends and reopens, in the documented frame format', async () => {
    const first = await RecordLog.open<Rec>(path)
    await first.log.append([rec(0), rec(1)])
    await first.log.append([rec(2)])
    expect(first.log.recordCount).to.equal(3)
    expect(first.log.lastSeq).to.equal(3)
    await first.log.close()

    const bytes = await readFile(path)
    const expected = Buffer.concat([0, 1, 2].map((i) => frameOf(i + 1, rec(i))))
    expect(bytes.equals(expected)).to.equal(true)

    const second = await openRepaired<Rec>(path)
    expect(second.decoded.frames).to.deep.equal([0, 1, 2].map((i) => ({seq: i + 1, record: rec(i)})))
    expect(second.decoded.goodBytes).to.equal(bytes.length)
    expect(second.records).to.deep.equal([rec(0), rec(1), rec(2)])
    expect(second.warnings).to.deep.equal([])
    expect(second.loss).to.equal(null)
    expect(second.log.bytes).to.equal(bytes.length)
    expect(second.log.recordCount).to.equal(3)
    expect(second.log.lastSeq).to.equal(3)
    await second.log.append([rec(3)])
    await second.log.close()
    expect((await readFile(path)).equals(Buffer.concat([expected, frameOf(4, rec(3))]))).to.equal(true)
    expect((await recordsAt(path)).records).to.deep.equal([0, 1, 2, 3].map(rec))
  })

  it('numbers appends from setNextSeq on, and lastSeq follows the appends called', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    log.setNextSeq(41)
    expect(log.lastSeq).to.equal(40)
    const pending = log.append([rec(1), rec(2)])
    expect(log.lastSeq).to.equal(42) // assigned at call time, before the write is durable
    await pending
    await log.close()
    expect((await readFile(path)).equals(Buffer.concat([frameOf(41, rec(1)), frameOf(42, rec(2))]))).to.equal(true)
  })

  it('open changes nothing: a damaged file is decoded but left as it was', async () => {
    const bytes = Buffer.concat([await writeLog([rec(0), rec(1)]), Buffer.from([1, 2, 3])])
    await writeFile(path, bytes)
    const {log, decoded} = await RecordLog.open<Rec>(path)
    expect(decoded.frames.map((f) => f.record)).to.deep.equal([rec(0), rec(1)])
    expect(decoded.goodBytes).to.equal(bytes.length - 3)
    expect(decoded.bad).to.deep.include({offset: bytes.length - 3, goodFrameAfter: false})
    expect(log.bytes).to.equal(bytes.length)
    await log.close()
    expect((await readFile(path)).equals(bytes)).to.equal(true)
  })

  it('recovers every earlier record when the file is cut at any byte inside the last frame', async () => {
    const good = [rec(0), rec(1), rec(2)]
    const bytes = await writeLog([...good, rec(3)])
    const lastStart = bytes.length - frameOf(4, rec(3)).length

    for (let cut = lastStart + 1; cut < bytes.length; cut++) {
      await writeFile(path, bytes.subarray(0, cut))
      const opened = await openRepaired<Rec>(path)
      expect(opened.records, `cut at ${cut}`).to.deep.equal(good)
      expect(opened.loss, `cut at ${cut}`).to.equal(null)
      expect(opened.warnings, `cut at ${cut}`).to.have.length(1)
      expect(opened.warnings[0]).to.include(`torn tail at byte ${lastStart} after 3 good record(s)`)
      expect((await stat(path)).size, `cut at ${cut}`).to.equal(lastStart)
      expect(opened.log.bytes, `cut at ${cut}`).to.equal(lastStart)
      expect(opened.log.recordCount, `cut at ${cut}`).to.equal(3)

      await opened.log.append([rec(9)])
      await opened.log.close()
      const again = await openRepaired<Rec>(path)
      expect(again.records, `reopen after cut at ${cut}`).to.deep.equal([...good, rec(9)])
      expect(
        again.decoded.frames.map((f) => f.seq),
        `reopen after cut at ${cut}`,
      ).to.deep.equal([1, 2, 3, 4])
      expect(again.warnings).to.deep.equal([])
      expect(again.loss).to.equal(null)
      await again.log.close()
    }
  })

  it('stops at a flipped payload byte in a middle frame and calls it lost data, not a torn tail', async () => {
    const bytes = await writeLog([rec(0), rec(1), rec(2)])
    const secondStart = frameOf(1, rec(0)).length
    // 'v' -> 'w' inside a string: still valid JSON, so only the CRC can catch it.
    const damaged = Buffer.from(bytes)
    const at = secondStart + 16 + JSON.stringify(rec(1)).indexOf('value')
    damaged.writeUInt8(damaged.readUInt8(at) ^ 0x01, at)
    await writeFile(path, damaged)

    const {log, decoded, records, warnings, loss} = await openRepaired<Rec>(path)
    expect(decoded.bad).to.deep.equal({offset: secondStart, reason: 'CRC32 mismatch', goodFrameAfter: true})
    expect(records).to.deep.equal([rec(0)])
    expect(warnings).to.deep.equal([])
    expect(loss?.file).to.equal(path)
    expect(loss?.what).to.include(`byte ${secondStart}`).and.include('CRC32 mismatch').and.include('lost')
    expect((await stat(path)).size).to.equal(secondStart)
    await log.close()
  })

  it('treats a flipped payload byte in the last frame like a torn tail (nothing after it to tell them apart)', async () => {
    const bytes = await writeLog([rec(0), rec(1)])
    const secondStart = frameOf(1, rec(0)).length
    const damaged = Buffer.from(bytes)
    damaged.writeUInt8(damaged.readUInt8(bytes.length - 3) ^ 0x01, bytes.length - 3)
    await writeFile(path, damaged)
    const {log, records, warnings, loss} = await openRepaired<Rec>(path)
    expect(records).to.deep.equal([rec(0)])
    expect(loss).to.equal(null)
    expect(warnings).to.have.length(1)
    expect(warnings[0]).to.include('CRC32 mismatch').and.include(`byte ${secondStart}`)
    expect((await stat(path)).size).to.equal(secondStart)
    await log.close()
  })

  const tornPayload = Buffer.concat([frameOf(1, rec(1)).subarray(0, 16), Buffer.from('{"i"')])
  const garbage: Array<[string, Buffer, string]> = [
    ['all 0xff (absurd length)', Buffer.alloc(64, 0xff), 'exceeds'],
    ['all zeros (a zero CRC is wrong even for an empty payload)', Buffer.alloc(64, 0), 'CRC32 mismatch'],
    ['a good CRC over non-JSON text', frame(1, Buffer.from('{not json')), 'not valid JSON'],
    ['a length running past the end', tornPayload, 'torn payload'],
    ['three bytes', Buffer.from([1, 2, 3]), 'torn frame header: 3 of 16'],
    ['text', Buffer.from('hello, this is not a log file at all\n'), 'exceeds'],
  ]
  it('treats a whole frame with a good CRC but seq 0 as lost data, not a torn tail (no crash writes one)', async () => {
    await writeLog([])
    await writeFile(path, frameOf(0, rec(1)))
    const {log, decoded, loss} = await openRepaired<Rec>(path)
    expect(decoded.bad?.reason).to.include('record seq 0')
    expect(decoded.bad?.goodFrameAfter).to.equal(true)
    expect(loss).to.not.equal(null)
    await log.close()
  })

  for (const [name, content, reason] of garbage) {
    it(`treats a garbage file (${name}) as a torn tail: warns once, truncates to empty, appends go on`, async () => {
      await writeLog([])
      await writeFile(path, content)
      const {log, decoded, records, warnings, loss} = await openRepaired<Rec>(path)
      expect(decoded.bad?.reason).to.include(reason)
      expect(records).to.deep.equal([])
      expect(loss).to.equal(null)
      expect(warnings).to.have.length(1)
      expect(warnings[0]).to.include(reason).and.include('torn tail at byte 0')
      expect((await stat(path)).size).to.equal(0)
      await log.append([rec(1)])
      await log.close()
      expect(await recordsAt(path)).to.deep.equal({records: [rec(1)], warnings: []})
    })
  }

  it('stops at a frame whose seq breaks the sequence (records are missing) and keeps what came before', async () => {
    // Frames 1, 2, then 5, 6: two intact frames after the gap, so records were lost, not torn.
    const bytes = Buffer.concat([frameOf(1, rec(1)), frameOf(2, rec(2)), frameOf(5, rec(5)), frameOf(6, rec(6))])
    await writeLog([]) // creates the directory
    await writeFile(path, bytes)
    const gapAt = frameOf(1, rec(1)).length + frameOf(2, rec(2)).length
    const {log, decoded, records, loss} = await openRepaired<Rec>(path)
    expect(decoded.bad?.offset).to.equal(gapAt)
    expect(decoded.bad?.reason).to.include('record seq 5 where 3 was expected')
    expect(decoded.bad?.goodFrameAfter).to.equal(true)
    expect(records).to.deep.equal([rec(1), rec(2)])
    expect(loss?.what).to.include('records are missing')
    await log.close()
  })

  it('group-commits 100 concurrent appends: all kept in call order with far fewer fsyncs', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    const before = log.syncs
    await Promise.all(Array.from({length: 100}, (_, i) => log.append([rec(i)])))
    const syncs = log.syncs - before
    expect(syncs).to.be.at.least(1).and.at.most(10)
    await log.close()
    const {log: again, decoded} = await RecordLog.open<Rec>(path)
    expect(decoded.frames).to.deep.equal(Array.from({length: 100}, (_, i) => ({seq: i + 1, record: rec(i)})))
    expect(decoded.bad).to.equal(null)
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

  it(`refuses a record over ${RECORD_BYTES_MAX} bytes without disturbing other appends or their seq`, async function () {
    this.timeout(20_000)
    const {log} = await RecordLog.open<unknown>(path)
    const ok1 = log.append([rec(1)])
    const huge = log.append(['x'.repeat(RECORD_BYTES_MAX)]) // + 2 quote bytes
    const ok2 = log.append([rec(2)])
    let error: unknown
    await huge.catch((e: unknown) => (error = e))
    expect(error).to.be.instanceOf(RangeError)
    await Promise.all([ok1, ok2])
    expect(log.lastSeq).to.equal(2)
    await log.close()
    const {log: again, decoded} = await RecordLog.open<unknown>(path)
    await again.close()
    expect(decoded.frames).to.deep.equal([
      {seq: 1, record: rec(1)},
      {seq: 2, record: rec(2)},
    ])
    expect(decoded.bad).to.equal(null)
  })

  it('reset empties the file; later appends start a fresh file and keep numbering on', async () => {
    const {log} = await RecordLog.open<Rec>(path)
    await log.append([rec(1)])
    await log.reset()
    expect(log.bytes).to.equal(0)
    expect(log.recordCount).to.equal(0)
    expect((await stat(path)).size).to.equal(0)
    await log.append([rec(2)])
    expect(log.recordCount).to.equal(1)
    await log.close()
    const {log: again, decoded} = await RecordLog.open<Rec>(path)
    await again.close()
    expect(decoded.frames).to.deep.equal([{seq: 2, record: rec(2)}])
  })

  it('truncateTo cuts the file durably and sets the counters; appends land after the cut', async () => {
    const bytes = await writeLog([rec(1), rec(2), rec(3)])
    const firstEnd = frameOf(1, rec(1)).length
    const {log} = await RecordLog.open<Rec>(path)
    await log.truncateTo(firstEnd, 1)
    expect(log.bytes).to.equal(firstEnd)
    expect(log.recordCount).to.equal(1)
    expect((await readFile(path)).equals(bytes.subarray(0, firstEnd))).to.equal(true)
    log.setNextSeq(2)
    await log.append([rec(7)])
    await log.close()
    expect((await recordsAt(path)).records).to.deep.equal([rec(1), rec(7)])
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
      fc.asyncProperty(fc.array(fc.jsonValue(), {maxLength: 8}), fc.nat(), async (values, cutSeed) => {
        const normalised = values.map((v) => JSON.parse(JSON.stringify(v)) as unknown)
        const frames = normalised.map((v, i) => frameOf(i + 1, v))
        const whole = Buffer.concat(frames)
        const cut = whole.length === 0 ? 0 : cutSeed % (whole.length + 1)
        await writeFile(path, whole.subarray(0, cut))
        const {log, records, warnings, loss} = await openRepaired<unknown>(path)
        await log.close()
        let kept = 0
        let end = 0
        for (const frame of frames) {
          if (end + frame.length > cut) break
          end += frame.length
          kept++
        }
        expect(records).to.deep.equal(normalised.slice(0, kept))
        expect(loss).to.equal(null)
        expect(warnings).to.have.length(cut === end ? 0 : 1)
        expect((await stat(path)).size).to.equal(end)
        expect(log.lastSeq).to.equal(kept)
      }),
      {seed, numRuns: 100},
    )
  })
})
