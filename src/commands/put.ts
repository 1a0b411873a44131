import {Args, Flags} from '@oclif/core'
import {
  parseReplicaCount,
  validateContext,
  validateKey,
  validateNodeId,
  validateValue,
} from '../client/validate-input.js'
import {KvCommand} from '../cli/base-command.js'
import {formatPut} from '../cli/format.js'
import {readStdinValue} from '../cli/read-stdin.js'

/** `kv put KEY VALUE`: writes a value through one replica and prints where it landed. */
export default class Put extends KvCommand {
  static override description = `Store VALUE under KEY.
Without --node the client picks a live replica. A VALUE of - reads the value from stdin, byte for byte (up to 1 MiB).
eventual mode: the new version supersedes every version of KEY the coordinating replica has seen, or, with --context, exactly the versions that token covers; --w is how many replicas hold it durably before the reply.
quorum mode: replies after a majority committed the write.`

  static override examples = [
    '<%= config.bin %> put greeting hello',
    '<%= config.bin %> put greeting hi --context <token-from-kv-read>',
    'cat big.json | <%= config.bin %> put config - --w quorum --json',
  ]

  static override args = {
    key: Args.string({description: 'the key (1 to 1024 bytes)', required: true}),
    value: Args.string({description: 'the value, or - to read it from stdin', required: true}),
  }

  static override flags = {
    node: Flags.string({description: 'coordinating replica (default: any live one)', helpValue: 'ID'}),
    context: Flags.string({
      description: 'context token from kv read: supersede exactly what it covers',
      helpValue: 'TOKEN',
    }),
    w: Flags.string({
      description: 'replicas holding the write before the reply: 1, 2, …, quorum or all (default 1)',
      helpValue: 'N',
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Put)
    validateKey(args.key)
    if (flags.node !== undefined) validateNodeId(flags.node, '--node')
    validateContext(flags.context)
    const w = parseReplicaCount(flags.w, 'w')
    const value = args.value === '-' ? await readStdinValue() : args.value
    validateValue(value)
    const result = await this.withClient(flags, (client) =>
      client.put(args.key, value, {node: flags.node, context: flags.context, w}),
    )
    this.print(flags, result, () => formatPut(result, 'stored'))
  }
}
