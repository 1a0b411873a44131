/**
 * Proves what a replica driver relies on from DurableStore across restarts. Reopening gives the
 * last snapshot plus exactly the records appended after it, with facts saying whether the directory
 * was empty;
 * record seqs run on across compactions and reopens, and a snapshot says up to which seq it covers;
 * appends racing with a compaction are never lost; a keyed state streams out in chunks as it was when
 * compact was called, and reads back lazily; a crash between the snapshot rename and the log
 * reset leaves records the snapshot already covers, and those are skipped, not replayed; a torn log
 * tail is a warning and a corrupt snapshot is reported as lost data; and the LOCK file keeps two
 * stores, in this process or another live one, off one directory while a dead owner's lock is taken
 * over. (Every kind of lost data is in recovery-policy.test.ts.)
 *
 * How: real directories under os.tmpdir(). "Another live process" is a child node process this test
 * starts and kills; "a dead process" is one that has already exited. Races are made by issuing
 * appends and compact() in the same tick without awaiting, which is how a driver would; a keyed state
 * of several chunks is changed right after compact() is called. Seqs on disk
 * are read back with decodeFrames and readSnapshot.
 */
import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {KvError} from '../../src/core/errors.js'
import {DurableStore} from '../../src/storage/durable-store.js'
import {decodeFrames} from '../../src/storage/log-frames.js'
import {readSnapshot, writeSnapshot} from '../../src/storage/snapshot-file.js'

type State = {applied: number[]}
type Rec = number

describe('DurableStore', () => {
  let dir: string
  const opened: Array<DurableStore<State, Rec>> = []

  async function openStore(d = dir) {
    const result = await DurableStore.open<State, Rec>(d)
    opened.push(result.store)
    return result
  }

  /** The seqs of the records in log.bin. */
  async function logSeqs(): Promise<number[]> {
    return decodeFrames(await readFile(join(dir, 'log.bin'))).frames.map((f) => f.seq)
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kv-durable-store-'))
  })
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()))
    await rm(dir, {recursive: true, force: true})
  })

  it('opens an empty directory with nothing recovered and lays out snapshot.json, log.bin, LOCK', async () => {
    const {store, recovered} = await openStore(join(dir, 'a', 'b'))
    expect(recovered).to.deep.equal({snapshot: null, records: [], warnings: [], facts: {loss: null, empty: true}})
    await store.append([1])
    await store.compact({applied: [1]})
    expect((await readdir(join(dir, 'a', 'b'))).sort()).to.deep.equal(['LOCK', 'log.bin', 'snapshot.json'])
    expect(Number(await readFile(join(dir, 'a', 'b', 'LOCK'), 'utf8'))).to.equal(process.pid)
  })

  it('recovers appended records after a reopen, and counts them', async () => {
    const {store} = await openStore()
    await store.append([1, 2])
    await store.append([3])
    expect(store.recordsSinceSnapshot).to.equal(3)
    expect(store.logBytes).to.be.greaterThan(0)
    await store.close()
    const {store: again, recovered} = await openStore()
    expect(recovered).to.deep.equal({
      snapshot: null,
      records: [1, 2, 3],
      warnings: [],
      facts: {loss: null, empty: false},
    })
    expect(again.recordsSinceSnapshot).to.equal(3)
    await again.append([4])
    expect(await logSeqs()).to.deep.equal([1, 2, 3, 4])
  })

  it('after compact, a reopen gives the snapshot and only the records appended later', async () => {
    const {store} = await openStore()
    await store.append([1, 2])
    await store.compact({applied: [1, 2]})
    expect(store.logBytes).to.equal(0)
    expect(store.recordsSinceSnapshot).to.equal(0)
    await store.append([3])
    await store.close()
    const {store: again, recovered} = await openStore()
    expect(recovered).to.deep.equal({
      snapshot: {applied: [1, 2]},
      records: [3],
      warnings: [],
      facts: {loss: null, empty: false},
    })
    expect(again.recordsSinceSnapshot).to.equal(1)
  })

  it('numbers records on across compactions and reopens; the snapshot records the last seq it covers', async () => {
    const {store} = await openStore()
    await store.append([1, 2, 3])
    await store.compact({applied: [1, 2, 3]})
    expect(await readSnapshot(join(dir, 'snapshot.json'))).to.deep.equal({
      kind: 'ok',
      state: {applied: [1, 2, 3]},
      lastSeq: 3,
    })
    await store.append([4, 5])
    expect(await logSeqs()).to.deep.equal([4, 5])
    await store.close()

    const {store: again, recovered} = await openStore()
    expect(recovered.records).to.deep.equal([4, 5])
    await again.append([6])
    expect(await logSeqs()).to.deep.equal([4, 5, 6])
    // A compaction with nothing appended since keeps the seq: the next record is still 7.
    await again.compact({applied: [1, 2, 3, 4, 5, 6]})
    await again.close()
    const {store: third, recovered: thirdOpen} = await openStore()
    expect(thirdOpen.facts).to.deep.equal({loss: null, empty: false})
    expect(await readSnapshot(join(dir, 'snapshot.json'))).to.deep.include({lastSeq: 6})
    await third.compact({applied: [1, 2, 3, 4, 5, 6]})
    await third.append([7])
    expect(await logSeqs()).to.deep.equal([7])
  })

  it('loses no append that races with compact: earlier ones are in the snapshot, later ones in the log', async () => {
    const {store} = await openStore()
    const state: State = {applied: []}
    const before = Array.from({length: 20}, (_, i) => i)
    const after = Array.from({length: 20}, (_, i) => 100 + i)
    // A driver applies a record to memory and appends it without waiting; state includes `before`.
    const earlier = before.map((r) => (state.applied.push(r), store.append([r])))
    const compacted = store.compact(state)
    // Mutating state after the call must not change the snapshot: it was serialised at call time.
    const later = after.map((r) => (state.applied.push(r), store.append([r])))
    await Promise.all([...earlier, compacted, ...later])
    expect(store.recordsSinceSnapshot).to.equal(after.length)
    await store.close()

    const {recovered} = await openStore()
    expect(recovered.snapshot).to.deep.equal({applied: before})
    expect(recovered.records).to.deep.equal(after)
    expect(recovered.warnings).to.deep.equal([])
  })

  it('streams a keyed state of several chunks out and back; keys changed after compact is called stay out', async () => {
    type Keyed = {term: number; keys: Iterable<[string, number]>}
    const result = await DurableStore.open<Keyed, Rec>(dir)
    const store = result.store
    const keys: Array<[string, number]> = Array.from({length: 5000}, (_, i) => [`k${i}`, i])
    const expected = keys.map(([k, v]): [string, number] => [k, v])
    const compacted = store.compact({term: 2, keys})
    // What a core does meanwhile: adds a key and replaces another's value (never mutating it).
    keys.push(['late', -1])
    keys[0] = ['k0', -2]
    await compacted
    await store.close()
    const {store: again, recovered} = await DurableStore.open<Keyed, Rec>(dir)
    opened.push(again as unknown as DurableStore<State, Rec>)
    expect(recovered.facts).to.deep.equal({loss: null, empty: false})
    const snap = recovered.snapshot as Keyed
    expect(snap.term).to.equal(2)
    expect([...snap.keys]).to.deep.equal(expected)
  })

  it('skips records that a crash between snapshot rename and log reset left behind, and numbers on after them', async () => {
    const {store} = await openStore()
    await store.append([1, 2])
    await store.close()
    // The crash window: the new snapshot is in place but the log still holds what it includes.
    await writeSnapshot(join(dir, 'snapshot.json'), {applied: [1, 2]}, 2)
    const {store: again, recovered} = await openStore()
    expect(recovered).to.deep.equal({
      snapshot: {applied: [1, 2]},
      records: [],
      warnings: [],
      facts: {loss: null, empty: false},
    })
    await again.append([3])
    await again.close()
    expect(await logSeqs()).to.deep.equal([1, 2, 3])
    const {recovered: third} = await openStore()
    expect(third.records).to.deep.equal([3])
    expect(third.facts.loss).to.equal(null)
  })

  it('reports a torn log tail as a warning and a corrupt snapshot as lost data, keeping what is good', async () => {
    const {store} = await openStore()
    await store.append([1])
    await store.compact({applied: [1]})
    await store.append([2, 3])
    await store.close()
    const log = await readFile(join(dir, 'log.bin'))
    await writeFile(join(dir, 'log.bin'), log.subarray(0, log.length - 1))
    const {store: again, recovered} = await openStore()
    expect(recovered.snapshot).to.deep.equal({applied: [1]})
    expect(recovered.records).to.deep.equal([2])
    expect(recovered.facts).to.deep.equal({loss: null, empty: false})
    expect(recovered.warnings).to.have.length(1)
    expect(recovered.warnings[0]).to.include('log.bin').and.include('torn tail')
    await again.close()

    await writeFile(join(dir, 'snapshot.json'), 'garbage')
    const {recovered: damaged} = await openStore()
    expect(damaged.snapshot).to.equal(null)
    expect(damaged.records).to.deep.equal([2])
    expect(damaged.warnings).to.deep.equal([])
    expect(damaged.facts.empty).to.equal(false)
    expect(damaged.facts.loss?.file).to.equal(join(dir, 'snapshot.json'))
    expect(damaged.facts.loss?.what).to.include('unreadable')
  })

  it('refuses a second open of the same directory in this process until the first is closed', async () => {
    const {store} = await openStore()
    const error = await openStore().then(
      () => null,
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(KvError)
    expect((error as KvError).message)
      .to.include(dir)
      .and.include(String(process.pid))
    // Also when both opens race from the same tick.
    await store.close()
    const both = await Promise.allSettled([openStore(), openStore()])
    expect(both.map((r) => r.status).sort()).to.deep.equal(['fulfilled', 'rejected'])
  })

  it('refuses a directory whose LOCK names another live process, naming the dir and the pid', async () => {
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
    try {
      await writeFile(join(dir, 'LOCK'), `${child.pid}\n`)
      const error = await openStore().then(
        () => null,
        (e: unknown) => e,
      )
      expect(error).to.be.instanceOf(KvError)
      expect((error as KvError).message)
        .to.include(dir)
        .and.include(String(child.pid))
      expect(await readFile(join(dir, 'LOCK'), 'utf8')).to.equal(`${child.pid}\n`)
    } finally {
      child.kill()
    }
  })

  it('takes over a stale LOCK left by a dead process and says so', async () => {
    const child = spawn(process.execPath, ['-e', ''], {stdio: 'ignore'})
    await once(child, 'exit')
    await writeFile(join(dir, 'LOCK'), `${child.pid}\n`)
    const {recovered} = await openStore()
    expect(recovered.warnings).to.have.length(1)
    expect(recovered.warnings[0]).to.include('stale lock').and.include(`dead process ${child.pid}`)
    expect(Number(await readFile(join(dir, 'LOCK'), 'utf8'))).to.equal(process.pid)
    expect((await readdir(dir)).sort()).to.deep.equal(['LOCK', 'log.bin'])
  })

  it('takes over a LOCK holding our pid that no open store of ours owns (an earlier process had it)', async () => {
    await writeFile(join(dir, 'LOCK'), `${process.pid}\n`)
    const {recovered} = await openStore()
    expect(recovered.warnings[0]).to.include('stale lock')
  })

  it('releases the lock on close, so the directory can be opened again', async () => {
    const {store} = await openStore()
    await store.close()
    expect(await readdir(dir)).to.not.include('LOCK')
    await openStore()
  })
})
