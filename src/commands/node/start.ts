import {Command, Flags} from '@oclif/core'
import {LIMITS} from '../../core/limits.js'
import {parseBrokerUrl} from '../../redis/broker-url.js'
import {defaultRedisUrl} from '../../redis/connect.js'
import {readSecretFile, secretFilePath} from '../../auth/secret-file.js'
import {KvError} from '../../core/errors.js'

/** `kv node start`: one replica in the foreground (see CONTRACT.md, "Replicas"). */
export default class NodeStart extends Command {
  static override description = 'Run one replica in the foreground until SIGTERM/SIGINT'

  static override examples = [
    '<%= config.bin %> node start --id n1 --peers n1,n2,n3,n4,n5',
    '<%= config.bin %> node start --id n6 --peers n1,n2,n3,n4,n5   # joins a running eventual cluster',
    '<%= config.bin %> node start --id n1 --peers n1,n2,n3 --mode quorum --allow-faults',
  ]

  static override flags = {
    id: Flags.string({description: "this replica's id", required: true}),
    peers: Flags.string({
      description: "the cluster's initial membership, comma-separated (includes --id)",
      required: true,
    }),
    mode: Flags.string({description: 'replication mode', options: ['eventual', 'quorum'], default: 'eventual'}),
    'data-dir': Flags.string({description: 'where the snapshot and log live [default: ./.kv/<cluster>/<id>]'}),
    'allow-faults': Flags.boolean({description: 'obey kv fault partition/heal', default: false}),
    redis: Flags.string({description: 'broker URL [default: $KV_REDIS_URL, $REDIS_URL, redis://127.0.0.1:6379]'}),
    cluster: Flags.string({
      description: 'cluster name (namespaces every channel and key) [default: $KV_CLUSTER or "default"]',
    }),
    'secret-file': Flags.string({
      description: 'the cluster secret: sign every message, accept only signed ones [default: $KV_SECRET_FILE]',
      helpValue: 'PATH',
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(NodeStart)
    const cluster = flags.cluster ?? process.env.KV_CLUSTER ?? 'default'
    const peers = flags.peers
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
    for (const id of [flags.id, ...peers]) {
      if (!LIMITS.idPattern.test(id))
        this.error(`invalid replica id "${id}": use letters, digits, - and _ (at most 64)`, {exit: 2})
    }
    if (!LIMITS.clusterPattern.test(cluster)) this.error(`invalid cluster name "${cluster}"`, {exit: 2})
    const mode = flags.mode as 'eventual' | 'quorum'
    if (mode === 'quorum' && !peers.includes(flags.id))
      this.error('in quorum mode --peers must include --id (membership is fixed)', {exit: 2})
    const secretPath = secretFilePath(flags['secret-file'])
    const redisUrl = flags.redis ?? defaultRedisUrl()
    let secrets: Buffer[] | undefined
    try {
      parseBrokerUrl(redisUrl) // a URL kv cannot use is BAD_REQUEST now, not a replica that never connects
      secrets = secretPath === undefined ? undefined : readSecretFile(secretPath)
    } catch (error) {
      if (error instanceof KvError) {
        // One line, as the client commands print theirs (oclif's this.error wraps long messages).
        process.stderr.write(`error: ${error.message}\n`)
        this.exit(2)
      }
      throw error
    }
    // Loaded here, not at the top: the replica runtime (storage, bullmq) is only for this command.
    const {runReplica} = await import('../../runtime/run-replica.js')
    try {
      await runReplica({
        id: flags.id,
        peers,
        mode,
        dataDir: flags['data-dir'] ?? `./.kv/${cluster}/${flags.id}`,
        redisUrl,
        cluster,
        allowFaults: flags['allow-faults'],
        secrets,
      })
    } catch (error) {
      // The broker refused this replica (its login, its TLS certificate): one line that says what to do.
      if (error instanceof KvError) {
        process.stderr.write(`error: ${error.message}\n`)
        this.exit(1)
      }
      throw error
    }
  }
}
