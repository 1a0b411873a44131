/**
 * Proves the rules of ReplicaRunner, the one code path both worlds run: nothing an Output sends or
 * does happens before its records are durable; Outputs run in order, and the records of every Output
 * waiting behind an append go out in one append; core.flush() runs once per burst; bad messages are
 * counted and dropped before the core; `kv fault` sets the partition filter (in both directions) and
 * client.status reports it; a hint's ack is taken out for its waiter and a missing ack times out in
 * ticks; the snapshot policy never runs two compactions at once; a `recovered` effect compacts
 * before it clears the disk's mark; a graceful stop refuses clients, waits for the disk, snapshots.
 *
 * How: a scripted core and hand-driven ports; the test decides when the disk's fsync completes and
 * when a burst ends, and reads what reached the transport.
 */
import {expect} from 'chai'
import type {NodeStatus} from '../../src/core/client-messages.js'
import type {Destination, Effect, Output} from '../../src/core/machine.js'
import type {ReplicaCore} from '../../src/core/replica-core.js'
import type {DiskPort} from '../../src/runtime/ports.js'
import {HINT_ACK_TIMEOUT_MS, ReplicaRunner, ticksFor} from '../../src/runtime/replica-runner.js'

type Rec = string
type Msg = {type: string; from?: string}

function output(
  persist: Rec[] = [],
  send: {to: Destination; msg: object}[] = [],
  effects: Effect[] = [],
  persistSoon: Rec[] = [],
): Output<Rec> {
  return {persist, persistSoon, send, effects}
}

const EMPTY = output()

/** A core whose next outputs the test scripts; it records what it was given. */
class ScriptedCore implements ReplicaCore<Rec, string, Msg> {
  readonly id = 'n1'
  readonly stepped: Msg[] = []
  next: Output<Rec>[] = []
  flushes = 0
  flushOutput: Output<Rec> = EMPTY
  busyNow = false
  restore(): void {}
  step(msg: Msg): Output<Rec> {
    this.stepped.push(msg)
    return this.next.shift() ?? EMPTY
  }
  tick(): Output<Rec> {
    return this.next.shift() ?? EMPTY
  }
  flush(): Output<Rec> {
    this.flushes++
    return this.flushOutput
  }
  snapshot(): string {
    return `state after ${this.stepped.length} steps`
  }
  status(): NodeStatus {
    return {id: this.id, alive: true, role: 'replica', keys: 0, mode: 'eventual'}
  }
  memberIds(): string[] {
    return ['n1', 'n2', 'n3']
  }
  busy(): boolean {
    return this.busyNow
  }
}

/** A disk whose operations complete only when the test says so, in order. */
class ManualDisk implements DiskPort<Rec, string> {
  readonly ops: string[] = []
  private queue: {what: string; done: () => void}[] = []
  recordsSinceSnapshot = 0
  append(records: readonly Rec[], onDurable: () => void): void {
    this.ops.push(`append ${records.join(',')}`)
    this.queue.push({
      what: 'append',
      done: () => {
        this.recordsSinceSnapshot += records.length
        onDurable()
      },
    })
  }
  compact(state: string, onDone: () => void): void {
    this.ops.push(`compact ${state}`)
    this.queue.push({
      what: 'compact',
      done: () => {
        this.recordsSinceSnapshot = 0
        onDone()
      },
    })
  }
  markRecovered(onDone: () => void): void {
    this.ops.push('mark')
    this.queue.push({what: 'mark', done: onDone})
  }
  get waiting(): number {
    return this.queue.length
  }
  /** Completes the oldest operation. */
  completeOne(): void {
    const op = this.queue.shift()
    if (!op) throw new Error('nothing to complete')
    op.done()
  }
  completeAll(): void {
    while (this.queue.length) this.completeOne()
  }
}

function world(opts: {allowFaults?: boolean; snapshotEveryRecords?: number; hints?: boolean} = {}) {
  const core = new ScriptedCore()
  const disk = new ManualDisk()
  const sent: {to: Destination; msg: Record<string, unknown>}[] = []
  const bursts: (() => void)[] = []
  const hints: string[] = []
  const logs: string[] = []
  let ids = 0
  const runner = new ReplicaRunner<Rec, string, Msg>({
    core,
    asPeerMessage: (m) => (typeof m.from === 'string' ? (m as Msg) : null),
    transport: {send: (to, payload) => sent.push({to, msg: JSON.parse(payload) as Record<string, unknown>})},
    disk,
    bursts: {afterBurst: (fn) => bursts.push(fn)},
    hints: opts.hints
      ? {add: (peer) => hints.push(`add ${peer}`), peerAlive: (id, alive) => hints.push(`${id} ${alive}`)}
      : undefined,
    log: (_level, text) => logs.push(text),
    tickMs: 100,
    allowFaults: opts.allowFaults ?? true,
    snapshotEveryRecords: opts.snapshotEveryRecords,
    newHintId: () => String(ids++),
  })
  const endBurst = () => {
    while (bursts.length) (bursts.shift() as () => void)()
  }
  return {core, disk, sent, runner, endBurst, hints, logs}
}

const toN2 = (msg: object) => ({to: {kind: 'node', id: 'n2'} as Destination, msg})
const peer = (type: string, from = 'n2', extra: object = {}) => JSON.stringify({type, from, ...extra})

describe('replica runner', () => {
  it('sends nothing of an Output before its records are durable, and keeps Outputs in order', () => {
    const w = world()
    w.core.next = [
      output(['r1'], [toN2({type: 'a'})]),
      output([], [toN2({type: 'b'})]),
      output(['r2', 'r3'], [toN2({type: 'c'})]),
    ]
    w.runner.onRaw(peer('x'))
    expect(w.disk.ops).to.deep.equal(['append r1'])
    w.runner.onRaw(peer('y')) // no records, but behind the append in flight
    w.runner.onRaw(peer('z'))
    expect(w.sent).to.deep.equal([])
    expect(w.disk.ops, 'no second append while one is in flight').to.deep.equal(['append r1'])
    w.disk.completeOne()
    expect(w.sent.map((s) => s.msg.type)).to.deep.equal(['a'])
    expect(w.disk.ops, 'the waiting Outputs share one append').to.deep.equal(['append r1', 'append r2,r3'])
    w.disk.completeOne()
    expect(w.sent.map((s) => s.msg.type)).to.deep.equal(['a', 'b', 'c'])
  })

  it('runs an Output without records at once when the disk is idle, and copes with a disk that calls back inside append', () => {
    const w = world()
    w.core.next = [output([], [toN2({type: 'a'})])]
    w.runner.onRaw(peer('x'))
    expect(w.sent.map((s) => s.msg.type)).to.deep.equal(['a'])

    const sync = world()
    const append = sync.disk.append.bind(sync.disk)
    sync.disk.append = (records, onDurable) => {
      append(records, onDurable)
      sync.disk.completeOne()
    }
    sync.core.next = [output(['r1'], [toN2({type: 'a'})]), output(['r2'], [toN2({type: 'b'})])]
    sync.runner.onRaw(peer('x'))
    sync.runner.onRaw(peer('y'))
    expect(sync.sent.map((s) => s.msg.type)).to.deep.equal(['a', 'b'])
    expect(sync.runner.idle).to.equal(true)
  })

  it('holds nothing back for persistSoon records: they follow the next append, or get their own at the next tick', () => {
    const w = world()
    w.core.next = [output([], [toN2({type: 'reply'})], [], ['commit1']), output(['entry2'], [toN2({type: 'ack'})])]
    w.runner.onRaw(peer('x'))
    expect(
      w.sent.map((s) => s.msg.type),
      'sent at once, before commit1 is on disk',
    ).to.deep.equal(['reply'])
    expect(w.disk.ops).to.deep.equal([])
    w.runner.onRaw(peer('y'))
    // after the batch's own records, so a torn tail can cut commit1 but never the entry it follows
    expect(w.disk.ops).to.deep.equal(['append entry2,commit1'])
    expect(
      w.sent.map((s) => s.msg.type),
      'the ack still waits for its own record',
    ).to.deep.equal(['reply'])
    w.disk.completeOne()
    expect(w.sent.map((s) => s.msg.type)).to.deep.equal(['reply', 'ack'])

    const idle = world()
    idle.core.next = [output([], [toN2({type: 'reply'})], [], ['commit1'])]
    idle.runner.onRaw(peer('x'))
    expect(idle.sent.map((s) => s.msg.type)).to.deep.equal(['reply'])
    idle.runner.tick() // no append took it along: it gets one of its own
    expect(idle.disk.ops).to.deep.equal(['append commit1'])
    idle.core.next = [output([], [toN2({type: 'later'})])]
    idle.runner.onRaw(peer('y'))
    expect(
      idle.sent.map((s) => s.msg.type),
      'later Outputs keep their place behind it',
    ).to.deep.equal(['reply'])
    idle.disk.completeOne()
    expect(idle.sent.map((s) => s.msg.type)).to.deep.equal(['reply', 'later'])
    expect(idle.runner.idle).to.equal(true)
  })

  it('flushes the core once per burst, after the burst', () => {
    const w = world()
    w.core.flushOutput = output([], [toN2({type: 'batched'})])
    w.runner.onRaw(peer('x'))
    w.runner.onRaw(peer('y'))
    w.runner.tick()
    expect(w.core.flushes).to.equal(0)
    w.endBurst()
    expect(w.core.flushes).to.equal(1)
    expect(w.sent.map((s) => s.msg.type)).to.deep.equal(['batched'])
  })

  it('drops and counts what fails validation, before the core sees it', () => {
    const w = world()
    for (const raw of [
      'not json',
      '[]',
      '{"no":"type"}',
      JSON.stringify({type: 'x'}),
      JSON.stringify({type: 'client.put', id: 'q'}),
      'x'.repeat(9 * 1024 * 1024),
    ]) {
      expect(w.runner.onRaw(raw), raw.slice(0, 30)).to.equal('invalid')
    }
    expect(w.runner.droppedCount).to.equal(6)
    expect(w.core.stepped).to.deep.equal([])
    for (let t = 0; t < ticksFor(10_000, 100); t++) w.runner.tick()
    expect(w.logs.some((l) => l.startsWith('dropped 6 invalid message(s)'))).to.equal(true)
  })

  it('obeys kv fault: drops a cut-off peer both ways, reports it in client.status, and heals', () => {
    const w = world()
    expect(
      w.runner.onRaw(JSON.stringify({type: 'fault', id: 'f1', replyTo: 'r.f', partition: [['n1'], ['n2', 'n3']]})),
    ).to.equal('fault')
    expect(w.sent.pop()?.msg).to.deep.include({id: 'f1', ok: true})
    expect(w.runner.onRaw(peer('x', 'n2'))).to.equal('partitioned')
    w.core.next = [output([], [toN2({type: 'to-n2'}), {to: {kind: 'node', id: 'n4'}, msg: {type: 'to-n4'}}])]
    expect(w.runner.onRaw(peer('x', 'n4'))).to.equal('peer')
    expect(w.sent.map((s) => s.msg.type)).to.deep.equal(['to-n4'])
    w.runner.onRaw(JSON.stringify({type: 'client.status', id: 's1', replyTo: 'r.s'}))
    expect((w.sent.pop()?.msg.result as NodeStatus).partitioned).to.equal(true)
    w.runner.onRaw(JSON.stringify({type: 'fault', id: 'f2', replyTo: 'r.f', partition: null}))
    expect(w.runner.onRaw(peer('x', 'n2'))).to.equal('peer')

    const strict = world({allowFaults: false})
    strict.runner.onRaw(JSON.stringify({type: 'fault', id: 'f1', replyTo: 'r.f', partition: [['n1'], ['n2']]}))
    expect(strict.sent[0]?.msg.error).to.deep.include({code: 'BAD_REQUEST'})
    expect(strict.runner.partitioned).to.equal(false)
  })

  it('delivers a hint with a fresh batch id, takes its ack out of the core, and times out in ticks', () => {
    const w = world()
    const results: boolean[] = []
    w.runner.deliverHint('n2', {type: 'repl', from: 'n1'}, (ok) => results.push(ok))
    expect(w.sent[0]).to.deep.equal({to: {kind: 'node', id: 'n2'}, msg: {type: 'repl', from: 'n1', batch: 'h.0'}})
    expect(w.runner.onRaw(peer('repl.ack', 'n2', {batch: 'h.0'}))).to.equal('hint-ack')
    expect(w.core.stepped, 'the core never sees a hint ack').to.deep.equal([])
    expect(results).to.deep.equal([true])

    w.runner.deliverHint('n2', {type: 'repl', from: 'n1'}, (ok) => results.push(ok))
    const timeout = ticksFor(HINT_ACK_TIMEOUT_MS, 100)
    for (let t = 0; t < timeout - 1; t++) w.runner.tick()
    expect(results).to.deep.equal([true])
    w.runner.tick()
    expect(results).to.deep.equal([true, false])
    w.runner.onRaw(peer('repl.ack', 'n2', {batch: 'h.1'})) // too late: ignored, not counted twice
    expect(results).to.deep.equal([true, false])

    w.runner.onRaw(JSON.stringify({type: 'fault', id: 'f', replyTo: 'r', partition: [['n1'], ['n2']]}))
    w.runner.deliverHint('n2', {type: 'repl', from: 'n1'}, (ok) => results.push(ok))
    expect(results, 'a partitioned peer fails at once').to.deep.equal([true, false, false])
  })

  it('passes hint and peer effects to the hint sink, after the records are durable', () => {
    const w = world({hints: true})
    w.core.next = [
      output(
        ['r1'],
        [],
        [
          {kind: 'peer', id: 'n2', alive: true},
          {kind: 'hint', peer: 'n2', msg: {}},
        ],
      ),
    ]
    w.runner.onRaw(peer('x'))
    expect(w.hints).to.deep.equal([])
    w.disk.completeOne()
    expect(w.hints).to.deep.equal(['n2 true', 'add n2'])
  })

  it('compacts when the log reaches its budget, never two at once', () => {
    const w = world({snapshotEveryRecords: 2})
    w.core.next = [output(['r1', 'r2'])]
    w.runner.onRaw(peer('x'))
    w.disk.completeOne()
    expect(w.disk.ops).to.deep.equal(['append r1,r2', 'compact state after 1 steps'])
    w.core.next = [output(['r3', 'r4'])]
    w.runner.onRaw(peer('y'))
    w.disk.completeOne() // the compaction
    w.disk.recordsSinceSnapshot = 5 // as if more had landed meanwhile
    w.disk.completeOne() // r3,r4 durable: budget reached again, no compaction in flight
    expect(w.disk.ops.filter((o) => o.startsWith('compact'))).to.have.length(2)
    w.core.next = [output(['r5'])]
    w.runner.onRaw(peer('z'))
    w.disk.completeOne() // r5 durable while the second compaction still runs: no third
    expect(w.disk.ops.filter((o) => o.startsWith('compact'))).to.have.length(2)
  })

  it('on a recovered effect, compacts first and clears the disk mark after', () => {
    const w = world()
    w.core.next = [output(['r1'], [], [{kind: 'recovered'}])]
    w.runner.onRaw(peer('x'))
    w.disk.completeOne()
    expect(w.disk.ops).to.deep.equal(['append r1', 'compact state after 1 steps'])
    w.disk.completeOne()
    expect(w.disk.ops).to.deep.equal(['append r1', 'compact state after 1 steps', 'mark'])
  })

  it('stops gracefully: refuses clients, waits for the disk, snapshots, then takes no input', () => {
    const w = world()
    w.core.next = [output(['r1'], [toN2({type: 'a'})])]
    w.runner.onRaw(peer('x'))
    w.runner.beginStop()
    w.runner.onRaw(JSON.stringify({type: 'client.read', id: 'q', replyTo: 'r.q', key: 'k', timeoutMs: 1000}))
    expect(w.sent.pop()?.msg.error).to.deep.include({code: 'UNAVAILABLE'})
    expect(w.runner.idle).to.equal(false)
    let finished = false
    w.runner.finish(() => (finished = true))
    expect(w.disk.ops).to.deep.equal(['append r1'])
    w.disk.completeOne()
    expect(
      w.sent.map((s) => s.msg.type),
      'what was waiting still goes out',
    ).to.deep.equal(['a'])
    expect(w.disk.ops).to.deep.equal(['append r1', 'compact state after 1 steps'])
    expect(finished).to.equal(false)
    w.disk.completeOne()
    expect(finished).to.equal(true)
    expect(w.runner.onRaw(peer('y'))).to.equal('closed')
    w.runner.onRaw(JSON.stringify({type: 'client.status', id: 's', replyTo: 'r.s'}))
    expect(w.sent.pop()?.msg.error, 'a client is still told to go elsewhere').to.deep.include({code: 'UNAVAILABLE'})
  })
})
