import {Args, Flags} from '@oclif/core'
import {parseReplicaCount, validateKey, validateNodeId} from '../client/validate-input.js'
import {KvCommand} from '../cli/base-command.js'
import {formatRead, readShortfall} from '../cli/format.js'

/** `kv read KEY`: the value, or all concurrent siblings and the context that covers them. */
export default class Read extends KvCommand {
  static override description = `Read KEY.
Prints the value, or every concurrent sibling when writes conflicted, with the context token that covers them: kv put KEY VALUE --context TOKEN resolves the conflict. A missing key is found:false and exits 0.`

  static override examples = [
    '<%= config.bin %> read greeting',
    '<%= config.bin %> read greeting --r all --json',
    '<%= config.bin %> read greeting --node n2',
  ]

  static override args = {
    key: Args.string({description: 'the key to read', required: true}),
  }

  static override flags = {
    node: Flags.string({description: 'coordinating replica (default: any live one)', helpValue: 'ID'}),
    r: Flags.string({description: 'replicas to ask: 1, 2, …, quorum or all', helpValue: 'N'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Read)
    validateKey(args.key)
    if (flags.node !== undefined) validateNodeId(flags.node, '--node')
    const r = parseReplicaCount(flags.r, 'r')
    const result = await this.withClient(flags, (client) => client.read(args.key, {node: flags.node, r}))
    const shortfall = readShortfall(result)
    if (shortfall) this.warnHuman(flags, shortfall)
    this.print(flags, result, () => formatRead(result))
  }
}
