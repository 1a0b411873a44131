/**
 * Every output line of every replica of a nemesis run, written to one file per replica (so a failed
 * run's logs can be saved next to its history), plus what is worth a glance in the summary: the
 * number of WARN lines and the first lines that look like a bug (a broken invariant, a handler error).
 */
import {createWriteStream, mkdirSync, type WriteStream} from 'node:fs'
import {join} from 'node:path'

/** Lines kept as "suspicious" for the summary and the report. */
const SUSPICIOUS_MAX = 20
const SUSPICIOUS = /invariant|error handling|uncaught|unhandled|TypeError|RangeError|ReferenceError/i

/** One per run; `line` is LocalCluster's onLine hook. */
export class ReplicaLogs {
  readonly warnings = new Map<string, number>()
  readonly suspicious: string[] = []
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
