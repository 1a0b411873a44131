/**
 * The base of every `kv` command that talks to a cluster: the shared flags (--redis, --cluster,
 * --json, --timeout), one place that opens and closes the client, one place that prints results,
 * and one `catch` that turns every failure into the contract's error output and exit status.
 */
import {Command, Errors, Flags, type Interfaces} from '@oclif/core'
import {DEFAULT_TIMEOUT_MS, KvClient} from '../client/kv-client.js'
import {defaultRedisUrl} from '../redis/connect.js'
import {readSecretFile, secretFilePath} from '../auth/secret-file.js'
import {errorJson, jsonRequested, parseFailure, toCliFailure} from './cli-failure.js'

/** The shared flags every subclass gets. */
export const sharedFlags = {
  redis: Flags.string({
    description: 'broker URL (default: $KV_REDIS_URL, else $REDIS_URL, else redis://127.0.0.1:6379)',
    helpValue: 'URL',
  }),
  cluster: Flags.string({description: 'cluster name space (default: $KV_CLUSTER, else "default")', helpValue: 'NAME'}),
  json: Flags.boolean({description: 'print one JSON document on stdout', default: false}),
  timeout: Flags.integer({
    description: 'how long to wait for a reply, in ms',
    default: DEFAULT_TIMEOUT_MS,
    min: 1,
    helpValue: 'MS',
  }),
  'secret-file': Flags.string({
    description: 'the cluster secret: sign requests, trust only signed replies (default: $KV_SECRET_FILE)',
    helpValue: 'PATH',
  }),
}

/** The parsed shared flags, as KvCommand helpers take them. */
export type SharedFlags = Interfaces.InferredFlags<typeof sharedFlags>

/** Extended by every command; subclasses implement run() with parse → one client call → print. */
export abstract class KvCommand extends Command {
  static override baseFlags = sharedFlags

  /**
   * The broker URL, cluster name and secrets the flags and environment select; a secret file that
   * is missing, unreadable, too short or readable by everyone is BAD_REQUEST here, before any connection.
   */
  protected target(flags: SharedFlags): {redisUrl: string; cluster: string; secrets?: Buffer[]} {
    const secretPath = secretFilePath(flags['secret-file'])
    return {
      redisUrl: flags.redis ?? defaultRedisUrl(),
      cluster: flags.cluster ?? (process.env.KV_CLUSTER || 'default'),
      ...(secretPath === undefined ? {} : {secrets: readSecretFile(secretPath)}),
    }
  }

  /** Connects, runs one client call, and always closes the connections afterwards. */
  protected async withClient<T>(flags: SharedFlags, call: (client: KvClient) => Promise<T>): Promise<T> {
    const client = await KvClient.connect({...this.target(flags), timeoutMs: flags.timeout})
    try {
      return await call(client)
    } finally {
      await client.close()
    }
  }

  /** Prints `result` as one JSON document with --json, else the human text. */
  protected print(flags: SharedFlags, result: unknown, human: () => string): void {
    if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`)
    else this.log(human())
  }

  /** Human mode only: a warning on stderr (never mixed into --json output). */
  protected warnHuman(flags: SharedFlags, message: string): void {
    if (!flags.json) process.stderr.write(`warning: ${message}\n`)
  }

  /** oclif's own parse errors (unknown flag, bad option, missing argument) are BAD_REQUEST. */
  protected override async parse<
    F extends Record<string, unknown>,
    B extends Record<string, unknown>,
    A extends Record<string, unknown>,
  >(options?: Interfaces.Input<F, B, A>, argv?: string[]): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv)
    } catch (error) {
      throw parseFailure(error)
    }
  }

  /** Every failure: JSON error on stdout with --json, else one line on stderr; exit status by code. */
  protected override catch(error: Error): Promise<void> {
    // Nothing to await here; the Promise is oclif's signature.
    if (error instanceof Errors.ExitError) return Promise.reject(error)
    const failure = toCliFailure(error)
    if (jsonRequested(this.argv)) process.stdout.write(`${JSON.stringify(errorJson(failure))}\n`)
    else process.stderr.write(`error: ${failure.message}\n`)
    if (failure.code === 'INTERNAL' && process.env.DEBUG) process.stderr.write(`${error.stack ?? ''}\n`)
    process.exitCode = failure.exitStatus
    return Promise.resolve()
  }
}
