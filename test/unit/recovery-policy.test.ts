/**
 * Proves the recovery policy's line between a torn tail and lost data, on real data directories
 * opened with DurableStore.open:
 * - a torn tail (a cut at any byte inside the last frame, or garbage appended) is one warning, no
 *   loss; the log is cut to its good prefix and later appends reopen cleanly;
 * - a damaged frame followed by intact ones (any flipped byte of a middle frame) is loss naming
 *   log.bin: only the prefix comes back, the RECOVERING marker is written, and it keeps reporting loss
 *   on every open until markRecovered;
 * - an unreadable snapshot (flipped body byte, truncated, garbage) is loss naming snapshot.json;
 * - a missing snapshot beside a log that starts after record 1 is loss;
 * - an older snapshot put back (the log starts after the record it ends at) is loss;
 * - a missing log.bin beside a snapshot is loss;
 * - `empty` is true only for a directory with nothing in it;
 * - records at or below the snapshot's lastSeq (a crash between the snapshot rename and the log
 *   truncate) are skipped, not replayed, and numbering goes on after them.
 * Plus direct planRecovery cases: several losses at once, nextSeq, truncateLog, the marker alone.
 *
 * How: each test gets a fresh temp directory, writes through DurableStore (append, compact), closes
 * it, damages the files with plain fs calls (cut, flip a byte, append bytes, delete, copy back an old
 * snapshot, writeSnapshot over a log) and reopens. Garbage bytes come from a fixed SHA-256, so every
 * run sees the same bytes. Frame boundaries are found with decodeFrames on the undamaged file.
 */
import {expect} from 'chai'
import {createHash} from 'node:crypto'
import {access, copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {DurableStore} from '../../src/storage/durable-store.js'
import {decodeFrames, encodeFrame, type DecodedLog} from '../../src/storage/log-frames.js'
import {planRecovery, type DiskContents} from '../../src/storage/recovery-policy.js'
import {writeSnapshot, type SnapshotRead} from '../../src/storage/snapshot-file.js'

type State = {applied: number[]}
type Rec = number

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  )

describe('recovery policy', () => {
  let dir: string
  let snapshotPath: string
  let logPath: string
  let markerPath: string
  const opened: Array<DurableStore<State, Rec>> = []

  async function openStore(at = dir) {
    const result = await DurableStore.open<State, Rec>(at)
    opened.push(result.store)
    return result
  }

  /** Opens, runs `work` on the store, closes. */
  async function withStore(work: (store: DurableStore<State, Rec>) => Promise<void>): Promise<void> {
    const {store} = await openStore()
    try {
      await work(store)
    } finally {
      await store.close()
    }
  }

  /** Byte offsets where each frame of log.bin starts, plus the file length at the end. */
  async function frameStarts(): Promise<number[]> {
    const data = await readFile(logPath)
    const decoded = decodeFrames(data)
    expect(decoded.bad, 'the undamaged log decodes whole').to.equal(null)
    const starts = [0]
    for (const f of decoded.frames) starts.push((starts.at(-1) as number) + encodeFrame(f.seq, f.record).length)
    expect(starts.at(-1)).to.equal(data.length)
    return starts
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kv-recovery-policy-'))
    snapshotPath = join(dir, 'snapshot.json')
    logPath = join(dir, 'log.bin')
    markerPath = join(dir, 'RECOVERING')
  })
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()))
    await rm(dir, {recursive: true, force: true})
  })

  describe('torn tail: a warning, no loss', () => {
    /** Snapshot of 1..2, then 3..6 in the log: the torn frame is record 6. */
    async function writeData(): Promise<Buffer> {
      await withStore(async (store) => {
        await store.append([1, 2])
        await store.compact({applied: [1, 2]})
        await store.append([3, 4])
        await store.append([5, 6])
      })
      return readFile(logPath)
    }

    /** Opens the damaged directory and checks the torn-tail outcome, then appends and reopens. */
    async function expectTornTail(label: string, goodBytes: number): Promise<void> {
      const {store, recovered} = await openStore()
      expect(recovered.facts, label).to.deep.equal({loss: null, empty: false})
      expect(recovered.snapshot, label).to.deep.equal({applied: [1, 2]})
      expect(recovered.records, label).to.deep.equal([3, 4, 5])
      expect(recovered.warnings, label).to.have.length(1)
      expect(recovered.warnings[0], label).to.include(logPath).and.include(`torn tail at byte ${goodBytes}`)
      expect((await stat(logPath)).size, label).to.equal(goodBytes)
      expect(store.logBytes, label).to.equal(goodBytes)
      expect(store.recordsSinceSnapshot, label).to.equal(3)
      expect(await exists(markerPath), label).to.equal(false)
      await store.append([7])
      await store.close()

      const again = await openStore()
      expect(again.recovered, `reopen, ${label}`).to.deep.equal({
        snapshot: {applied: [1, 2]},
        records: [3, 4, 5, 7],
        warnings: [],
        facts: {loss: null, empty: false},
      })
      expect(
        decodeFrames(await readFile(logPath)).frames.map((f) => f.seq),
        label,
      ).to.deep.equal([3, 4, 5, 6])
      await again.store.close()
    }

    it('cut at any byte inside the last frame', async () => {
      const bytes = await writeData()
      const starts = await frameStarts()
      const lastStart = starts.at(-2) as number
      for (let cut = lastStart + 1; cut < bytes.length; cut++) {
        await writeFile(logPath, bytes.subarray(0, cut))
        await expectTornTail(`cut at ${cut}`, lastStart)
      }
    })

    const sha = createHash('sha256').update('kv recovery-policy garbage').digest()
    const tails: Array<[string, Buffer]> = [
      ['3 bytes', Buffer.from([0xde, 0xad, 0xbe])],
      ['a zeroed frame header', Buffer.alloc(16)],
      ['32 pseudo-random bytes', sha],
      ['64 bytes of 0xff', Buffer.alloc(64, 0xff)],
      ['text', Buffer.from('not a frame at all\n')],
    ]
    for (const [name, tail] of tails) {
      it(`garbage appended after the last frame (${name})`, async () => {
        const bytes = await writeData()
        // Drop record 6 so expectTornTail's view (3, 4, 5 kept) fits: the garbage follows frame 5.
        const starts = await frameStarts()
        const good = bytes.subarray(0, starts.at(-2))
        await writeFile(logPath, Buffer.concat([good, tail]))
        await expectTornTail(name, good.length)
      })
    }
  })

  describe('a damaged frame followed by intact ones: loss', () => {
    it('any flipped byte of a middle frame loses it and everything after, never a torn tail', async () => {
      await withStore((store) => store.append([1, 2, 3, 4, 5]))
      const bytes = await readFile(logPath)
      const starts = await frameStarts()
      // Frame 3 of 5: every byte, header (length, CRC, seq) and payload.
      for (let at = starts[2] as number; at < (starts[3] as number); at++) {
        const damaged = Buffer.from(bytes)
        damaged.writeUInt8(damaged.readUInt8(at) ^ 0x10, at)
        await writeFile(logPath, damaged)
        await rm(markerPath, {force: true})
        const {store, recovered} = await openStore()
        const label = `byte ${at} flipped`
        expect(recovered.records, label).to.deep.equal([1, 2])
        expect(recovered.warnings, label).to.deep.equal([])
        expect(recovered.facts.loss?.file, label).to.equal(logPath)
        expect(recovered.facts.loss?.what, label).to.include(`byte ${starts[2]}`).and.include('lost')
        expect(recovered.facts.empty, label).to.equal(false)
        expect(await exists(markerPath), label).to.equal(true)
        await store.close()
      }
    })

    it('keeps the prefix, writes RECOVERING, reports loss until markRecovered, then opens whole', async () => {
      await withStore((store) => store.append([1, 2, 3, 4, 5]))
      const bytes = await readFile(logPath)
      const starts = await frameStarts()
      const damaged = Buffer.from(bytes)
      const at = (starts[1] as number) + 16 // first payload byte of record 2
      damaged.writeUInt8(damaged.readUInt8(at) ^ 0x01, at)
      await writeFile(logPath, damaged)

      const first = await openStore()
      expect(first.recovered.snapshot).to.equal(null)
      expect(first.recovered.records).to.deep.equal([1])
      expect(first.recovered.facts.loss?.file).to.equal(logPath)
      expect(first.recovered.facts.loss?.what).to.include('CRC32 mismatch').and.include('everything from it on is lost')
      // The marker is durable before open returns, and says what was lost.
      expect(await readFile(markerPath, 'utf8')).to.include(first.recovered.facts.loss?.what)
      expect((await stat(logPath)).size).to.equal(starts[1])
      await first.store.append([9])
      await first.store.close()

      // A restart before the replica caught up: the marker alone still says "not whole".
      const second = await openStore()
      expect(second.recovered.records).to.deep.equal([1, 9])
      expect(second.recovered.warnings).to.deep.equal([])
      expect(second.recovered.facts.loss?.file).to.equal(markerPath)
      expect(second.recovered.facts.loss?.what).to.include('earlier start found lost data')
      expect(second.recovered.facts.empty).to.equal(false)
      await second.store.markRecovered()
      expect(await exists(markerPath)).to.equal(false)
      await second.store.close()

      const third = await openStore()
      expect(third.recovered).to.deep.equal({
        snapshot: null,
        records: [1, 9],
        warnings: [],
        facts: {loss: null, empty: false},
      })
      expect(await readdir(dir)).to.not.include('RECOVERING')
    })
  })

  describe('an unreadable snapshot: loss', () => {
    const damages: Array<[string, (good: Buffer) => Buffer, string]> = [
      ['a flipped body byte', (b) => flip(b, b.length - 3), 'CRC32 mismatch'],
      ['a truncated file', (b) => b.subarray(0, b.length - 4), 'torn write'],
      ['garbage', () => Buffer.from('garbage'), 'no header line'],
    ]
    for (const [name, damage, reason] of damages) {
      it(name, async () => {
        await withStore(async (store) => {
          await store.append([1, 2])
          await store.compact({applied: [1, 2]})
          await store.append([3])
        })
        await writeFile(snapshotPath, damage(await readFile(snapshotPath)))
        const {recovered} = await openStore()
        expect(recovered.snapshot).to.equal(null)
        expect(recovered.facts.loss?.file).to.equal(snapshotPath)
        expect(recovered.facts.loss?.what).to.include('snapshot is unreadable').and.include(reason)
        expect(recovered.facts.empty).to.equal(false)
        expect(await exists(markerPath)).to.equal(true)
      })
    }
  })

  it('a snapshot deleted while the log starts after record 1: loss', async () => {
    await withStore(async (store) => {
      await store.append([1, 2])
      await store.compact({applied: [1, 2]})
      await store.append([3, 4])
    })
    await rm(snapshotPath)
    const {recovered} = await openStore()
    expect(recovered.snapshot).to.equal(null)
    expect(recovered.records).to.deep.equal([3, 4])
    expect(recovered.facts.empty).to.equal(false)
    expect(recovered.facts.loss?.file).to.equal(snapshotPath)
    expect(recovered.facts.loss?.what)
      .to.include('snapshot is missing but the log starts at record 3')
      .and.include('1..2')
    expect(await exists(markerPath)).to.equal(true)
  })

  it('an older snapshot put back: loss ("log starts at record X but the snapshot ends at Y")', async () => {
    const old = join(dir, 'old-snapshot.json')
    await withStore(async (store) => {
      await store.append([1, 2])
      await store.compact({applied: [1, 2]})
      await copyFile(snapshotPath, old)
      await store.append([3, 4])
      await store.compact({applied: [1, 2, 3, 4]})
      await store.append([5, 6])
    })
    await copyFile(old, snapshotPath)
    const {recovered} = await openStore()
    expect(recovered.snapshot).to.deep.equal({applied: [1, 2]})
    expect(recovered.records).to.deep.equal([5, 6])
    expect(recovered.facts.loss?.file).to.equal(logPath)
    expect(recovered.facts.loss?.what)
      .to.include('the log starts at record 5 but the snapshot ends at record 2')
      .and.include('3..4')
    expect(await exists(markerPath)).to.equal(true)
  })

  it('log.bin deleted beside a snapshot: loss', async () => {
    await withStore(async (store) => {
      await store.append([1, 2])
      await store.compact({applied: [1, 2]})
      await store.append([3])
    })
    await rm(logPath)
    const {store, recovered} = await openStore()
    expect(recovered.snapshot).to.deep.equal({applied: [1, 2]})
    expect(recovered.records).to.deep.equal([])
    expect(recovered.facts.loss?.file).to.equal(logPath)
    expect(recovered.facts.loss?.what).to.include('log file is missing beside the snapshot')
    expect(await exists(markerPath)).to.equal(true)
    // Numbering goes on after the snapshot, so the recreated log continues it.
    await store.append([4])
    expect(decodeFrames(await readFile(logPath)).frames.map((f) => f.seq)).to.deep.equal([3])
  })

  describe('empty', () => {
    it('is true for an empty directory (and one that does not exist yet), with no loss', async () => {
      const {recovered} = await openStore()
      expect(recovered.facts).to.deep.equal({loss: null, empty: true})
      const {recovered: fresh} = await openStore(join(dir, 'not', 'there'))
      expect(fresh.facts).to.deep.equal({loss: null, empty: true})
    })

    it('stays true for a directory opened before that holds nothing (an empty log.bin)', async () => {
      await withStore(async () => {})
      const {recovered} = await openStore()
      expect(recovered.facts).to.deep.equal({loss: null, empty: true})
    })

    it('is false once there are records', async () => {
      await withStore((store) => store.append([1]))
      expect((await openStore()).recovered.facts).to.deep.equal({loss: null, empty: false})
    })

    it('is false with a snapshot and an empty log', async () => {
      await withStore((store) => store.compact({applied: []}))
      const {recovered} = await openStore()
      expect(recovered.records).to.deep.equal([])
      expect(recovered.facts).to.deep.equal({loss: null, empty: false})
    })
  })

  describe('records the snapshot already covers (crash between snapshot rename and log truncate)', () => {
    for (const [lastSeq, replayed] of [
      [4, []],
      [2, [3, 4]],
    ] as Array<[number, number[]]>) {
      it(`a snapshot ending at record ${lastSeq} over a log of 1..4 replays ${JSON.stringify(replayed)}`, async () => {
        await withStore((store) => store.append([1, 2, 3, 4]))
        const covered = [1, 2, 3, 4].filter((r) => r <= lastSeq)
        await writeSnapshot(snapshotPath, {applied: covered}, lastSeq)
        const {store, recovered} = await openStore()
        expect(recovered).to.deep.equal({
          snapshot: {applied: covered},
          records: replayed,
          warnings: [],
          facts: {loss: null, empty: false},
        })
        expect(await exists(markerPath)).to.equal(false)
        await store.append([5])
        await store.close()
        expect(decodeFrames(await readFile(logPath)).frames.map((f) => f.seq)).to.deep.equal([1, 2, 3, 4, 5])
        const again = await openStore()
        expect(again.recovered.records).to.deep.equal([...replayed, 5])
        expect(again.recovered.facts.loss).to.equal(null)
      })
    }
  })

  describe('planRecovery directly', () => {
    const files = {snapshot: 'snapshot.json', log: 'log.bin', marker: 'RECOVERING'}
    const missing: SnapshotRead<State> = {kind: 'missing'}
    const logOf = (...seqs: number[]): DecodedLog<Rec> => ({
      frames: seqs.map((seq) => ({seq, record: seq * 10})),
      goodBytes: 100,
      bad: null,
    })
    const plan = (found: Partial<DiskContents<State, Rec>>) =>
      planRecovery<State, Rec>({snapshot: missing, log: null, marker: null, files, ...found})

    it('nothing at all: empty, nothing to replay or cut, numbering from 1', () => {
      expect(plan({})).to.deep.equal({
        snapshot: null,
        records: [],
        nextSeq: 1,
        truncateLog: null,
        warnings: [],
        facts: {loss: null, empty: true},
      })
      expect(plan({log: logOf()}).facts).to.deep.equal({loss: null, empty: true})
    })

    it('a torn tail: cut at goodBytes, one warning, records kept', () => {
      const p = plan({
        log: {...logOf(1, 2), bad: {offset: 100, reason: 'torn payload: 3 of 9 bytes', goodFrameAfter: false}},
      })
      expect(p.truncateLog).to.deep.equal({bytes: 100, records: p.records.length})
      expect(p.records).to.deep.equal([10, 20])
      expect(p.nextSeq).to.equal(3)
      expect(p.warnings).to.have.length(1)
      expect(p.warnings[0]).to.include('log.bin').and.include('torn payload')
      expect(p.facts).to.deep.equal({loss: null, empty: false})
    })

    it('skips records at or below lastSeq and numbers on after the larger of both', () => {
      const snapshot: SnapshotRead<State> = {kind: 'ok', state: {applied: []}, lastSeq: 10}
      expect(plan({snapshot, log: logOf(8, 9, 10, 11, 12)})).to.deep.include({records: [110, 120], nextSeq: 13})
      expect(plan({snapshot, log: logOf()})).to.deep.include({records: [], nextSeq: 11})
      expect(plan({snapshot, log: logOf(11)}).facts).to.deep.equal({loss: null, empty: false})
    })

    it('a kept log the snapshot wholly covers is emptied, so numbering goes on without a gap in the file', () => {
      const snapshot: SnapshotRead<State> = {kind: 'ok', state: {applied: []}, lastSeq: 5}
      const p = plan({snapshot, log: {...logOf(1), bad: {offset: 40, reason: 'CRC32 mismatch', goodFrameAfter: true}}})
      expect(p.truncateLog).to.deep.equal({bytes: 0, records: 0})
      expect(p.nextSeq).to.equal(6)
      expect(p.records).to.deep.equal([])
      expect(plan({snapshot, log: logOf(1, 2, 3)}).truncateLog).to.deep.equal({bytes: 0, records: 0})
      expect(plan({snapshot, log: logOf(4, 5)}).truncateLog).to.equal(null)
    })

    it('the marker alone is loss, naming the marker', () => {
      const p = plan({log: logOf(1), marker: '2024-01-01T00:00:00.000Z records lost\n'})
      expect(p.facts.loss?.file).to.equal('RECOVERING')
      expect(p.facts.loss?.what).to.include('records lost')
      expect(p.records).to.deep.equal([10])
    })

    it('several losses at once: all named, the first file is the one reported', () => {
      const p = plan({
        snapshot: {kind: 'bad', reason: 'CRC32 mismatch (the body is damaged)'},
        log: {...logOf(3, 4), bad: {offset: 100, reason: 'CRC32 mismatch', goodFrameAfter: true}},
        marker: 'earlier\n',
      })
      expect(p.facts.loss?.file).to.equal('log.bin')
      expect(p.facts.loss?.what)
        .to.include('log.bin: a damaged frame')
        .and.include('snapshot.json: the snapshot is unreadable')
      expect(p.facts.loss?.what).to.include('RECOVERING: an earlier start')
      expect(p.facts.empty).to.equal(false)
      expect(p.warnings).to.deep.equal([])
      expect(p.truncateLog).to.deep.equal({bytes: 100, records: p.records.length})
      expect(p.snapshot).to.equal(null)
      expect(p.records).to.deep.equal([30, 40])
    })

    it('a missing snapshot is fine while the log starts at record 1, loss once it starts later', () => {
      expect(plan({log: logOf(1, 2)}).facts).to.deep.equal({loss: null, empty: false})
      expect(plan({log: logOf(2, 3)}).facts.loss?.file).to.equal('snapshot.json')
    })
  })
})

function flip(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b)
  copy.writeUInt8(copy.readUInt8(at) ^ 0x02, at) // readUInt8 throws past the end
  return copy
}
