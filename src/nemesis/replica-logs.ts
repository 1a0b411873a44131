/**
 * Every output line of every replica of a nemesis run, written to one file per replica (so a failed
 * run's logs can be saved next to its history), plus what is worth a glance in the summary: the
 * number of WARN lines and the first lines that look like a bug (a broken invariant, a handler error),
 * and, for an authenticated cluster, the messages each replica refused over all its starts (a
 * replica's counts restart with it; its WARN lines every 10 s say how many so far, by reason).
 */
import {createWriteStream, mkdirSync, type WriteStream} from 'node:fs'
import {join} from 'node:path'

/** Lines kept as "suspicious" for the summary and the report. */
const SUSPICIOUS_MAX = 20
const SUSPICIOUS = /invariant|error handling|uncaught|unhandled|TypeError|RangeError|ReferenceError/i
/** A replica's first line of each start (run-replica.ts): its refusal counts begin again at 0. */
const STARTED = /^\S+ \S+ recovered (?:\d+ key\(s\) )?from /
/** replica-runner.ts reportDrops: `refused N unauthenticated message(s) …; in all: stale 3, bad-mac 1`. */
const REFUSED = / WARN refused \d+ unauthenticated message\(s\) .*; in all: (.*)$/

/** One per run; `line` is LocalCluster's onLine hook. */
export class ReplicaLogs {
  readonly warnings = new Map<string, number>()
  readonly suspicious: string[] = []
  /** Replica → refused messages by reason, summed over its ended starts (a killed start's last ≤10 s are missed). */
  private readonly rejectedEnded = new Map<string, Record<string, number>>()
  /** Replica → the "in all" counts its current start reported last. */
  private readonly rejectedThisStart = new Map<string, Record<string, number>>()
  private readonly files = new Map<string, WriteStream>()

  constructor(readonly dir: string) {
    mkdirSync(dir, {recursive: true})
  }

  line(id: string, text: string): void {
    let file = this.files.get(id)
    if (!file) {
      file = createWriteStream(join(this.dir, `${id}.log`), {flags: 'a'})
      this.files.set(id, file)
    }
    file.write(`${text}\n`)
    if (text.includes(' WARN ')) this.warnings.set(id, (this.warnings.get(id) ?? 0) + 1)
    if (SUSPICIOUS.test(text) && this.suspicious.length < SUSPICIOUS_MAX) this.suspicious.push(`[${id}] ${text}`)
    if (STARTED.test(text)) {
      this.rejectedEnded.set(id, sumCounts(this.rejectedEnded.get(id), this.rejectedThisStart.get(id)))
      this.rejectedThisStart.delete(id)
    }
    const refused = REFUSED.exec(text)
    if (refused) this.rejectedThisStart.set(id, parseCounts(refused[1] as string))
  }

  /**
   * Replica → refused messages by reason over all its starts: the ended ones as their WARN lines
   * last said, the current one as `current` (a last status, fresher than its last WARN line) says.
   */
  rejectedOverStarts(
    current: Readonly<Record<string, Record<string, number> | null>>,
  ): Record<string, Record<string, number>> {
    const ids = new Set([...this.rejectedEnded.keys(), ...this.rejectedThisStart.keys(), ...Object.keys(current)])
    const out: Record<string, Record<string, number>> = {}
    for (const id of [...ids].sort()) {
      const logged = this.rejectedThisStart.get(id) ?? {}
      const latest: Record<string, number> = {...logged}
      for (const [reason, n] of Object.entries(current[id] ?? {})) latest[reason] = Math.max(n, logged[reason] ?? 0)
      out[id] = sumCounts(this.rejectedEnded.get(id), latest)
    }
    return out
  }

  /** A line of the nemesis's own (fault starts and ends), kept beside the replicas' logs. */
  note(text: string): void {
    this.line('nemesis', text)
  }

  /** Flushes and closes every file (after the replicas have exited). */
  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => new Promise<void>((resolve) => f.end(resolve))))
    this.files.clear()
  }
}

/** `stale 3, bad-mac 1` → {stale: 3, 'bad-mac': 1}. */
function parseCounts(list: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const part of list.split(', ')) {
    const [reason, n] = part.split(' ')
    if (reason !== undefined && n !== undefined && /^[0-9]+$/.test(n)) counts[reason] = Number(n)
  }
  return counts
}

function sumCounts(
  a: Readonly<Record<string, number>> | undefined,
  b: Readonly<Record<string, number>> | undefined,
): Record<string, number> {
  const sum: Record<string, number> = {...a}
  for (const [reason, n] of Object.entries(b ?? {})) sum[reason] = (sum[reason] ?? 0) + n
  return sum
}
