import path from 'node:path'
import {Flags} from '@oclif/core'
import {KvCommand} from '../../cli/base-command.js'
import {formatClusterReady, shellWord} from '../../cli/format.js'
import {LIMITS} from '../../core/limits.js'
import {defaultRedisUrl, redactUrl} from '../../redis/connect.js'
import {validateClusterName} from '../../client/validate-input.js'
import {secretFilePath} from '../../auth/secret-file.js'

/** `kv cluster up`: runs a local cluster in the foreground until Ctrl-C. */
export default class ClusterUp extends KvCommand {
  static override description = `Run a local cluster in the foreground: replicas n1…nN as child processes.
Waits until every replica serves, prints where they are and how to talk to them, and stops them all cleanly on Ctrl-C (SIGINT) or SIGTERM.
Without --redis, $KV_REDIS_URL or $REDIS_URL, it uses the broker at redis://127.0.0.1:6379, starting a private redis-server there (from PATH) if nothing answers.`

  static override examples = [
    '<%= config.bin %> cluster up',
    '<%= config.bin %> cluster up --nodes 3 --mode quorum --allow-faults',
    '<%= config.bin %> cluster up --cluster demo --data-dir /tmp/kv-demo',
  ]

  static override flags = {
    nodes: Flags.integer({description: 'how many replicas (n1…nN)', default: 5, min: 1, max: LIMITS.membersMax}),
    mode: Flags.string({description: 'replication mode', options: ['eventual', 'quorum'], default: 'eventual'}),
    'data-dir': Flags.string({
      description: 'base directory; replica nK keeps its data in DIR/nK (default ./.kv/<cluster>)',
      helpValue: 'DIR',
    }),
    'allow-faults': Flags.boolean({description: 'let kv fault partition/heal act on these replicas', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterUp)
    const {cluster, secrets} = this.target(flags)
    validateClusterName(cluster)
    const explicitRedisUrl = flags.redis ?? (process.env.KV_REDIS_URL || process.env.REDIS_URL || undefined)
    const dataDir = path.resolve(flags['data-dir'] ?? path.join('.kv', cluster))
    const mode = flags.mode === 'quorum' ? 'quorum' : 'eventual'
    const say = (line: string): void => void process.stderr.write(`${line}\n`)
    // Loaded here, not at the top: the supervisor (child processes, private redis) is only for this command.
    const {superviseCluster} = await import('../../cluster/supervisor.js')
    await superviseCluster(
      {
        binPath: path.join(this.config.root, 'bin', 'run.js'),
        nodes: flags.nodes,
        mode,
        dataDir,
        allowFaults: flags['allow-faults'],
        explicitRedisUrl,
        cluster,
        // Checked above (target); each replica reads the same file.
        secretFile: secrets ? path.resolve(secretFilePath(flags['secret-file']) as string) : undefined,
        secrets,
      },
      {
        stdout: flags.json ? say : (line) => this.log(line),
        stderr: say,
        ready: (report) => {
          const extra = [
            secrets ? ` --secret-file ${shellWord(secretFilePath(flags['secret-file']) as string)}` : '',
            report.redis !== redactUrl(defaultRedisUrl()) ? ` --redis ${shellWord(report.redis)}` : '',
            cluster !== (process.env.KV_CLUSTER || 'default') ? ` --cluster ${shellWord(cluster)}` : '',
          ].join('')
          this.print(flags, report, () => formatClusterReady(report, extra))
        },
      },
    )
  }
}
