import {Args, Flags} from '@oclif/core'
import {parseReplicaCount, validateContext, validateKey, validateNodeId} from '../client/validate-input.js'
import {KvCommand} from '../cli/base-command.js'
import {formatPut} from '../cli/format.js'

/** `kv delete KEY`: writes a tombstone, exactly like put without a value. */
export default class Delete extends KvCommand {
  static override description = `Delete KEY by writing a tombstone.
Works like put: a later read says found:false unless a concurrent write survives beside the tombstone as a sibling. Use --context from kv read to delete exactly the versions you saw.`

  static override examples = [
    '<%= config.bin %> delete greeting',
    '<%= config.bin %> delete greeting --context <token-from-kv-read> --json',
  ]

  static override args = {
    key: Args.string({description: 'the key to delete', required: true}),
  }

  static override flags = {
    node: Flags.string({description: 'coordinating replica (default: any live one)', helpValue: 'ID'}),
    context: Flags.string({
      description: 'context token from kv read: delete exactly what it covers',
      helpValue: 'TOKEN',
    }),
    w: Flags.string({
      description: 'replicas holding the tombstone before the reply: 1, 2, …, quorum or all (default 1)',
      helpValue: 'N',
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Delete)
    validateKey(args.key)
    if (flags.node !== undefined) validateNodeId(flags.node, '--node')
    validateContext(flags.context)
    const w = parseReplicaCount(flags.w, 'w')
    const result = await this.withClient(flags, (client) =>
      client.delete(args.key, {node: flags.node, context: flags.context, w}),
    )
    this.print(flags, result, () => formatPut(result, 'deleted'))
  }
}
