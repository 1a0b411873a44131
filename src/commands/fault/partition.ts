import {Args} from '@oclif/core'
import {parsePartitionGroups, validatePartition} from '../../client/validate-input.js'
import {KvCommand} from '../../cli/base-command.js'
import {formatPartition} from '../../cli/format.js'

/** `kv fault partition GROUP GROUP…`: replicas in different groups stop hearing each other. */
export default class FaultPartition extends KvCommand {
  static override description = `Partition the replicas into GROUPs (each a comma-separated list of ids).
Replicas in different groups drop each other's messages until kv fault heal; clients still reach every replica. Only replicas started with --allow-faults obey.`

  static override examples = [
    '<%= config.bin %> fault partition n2 n1,n3,n4,n5',
    '<%= config.bin %> fault partition n1,n2 n3,n4,n5 --json',
  ]

  static override strict = false

  static override args = {
    group: Args.string({description: 'comma-separated replica ids (give at least two groups)', required: true}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(FaultPartition)
    const groups = parsePartitionGroups(argv.map(String))
    validatePartition(groups)
    await this.withClient(flags, (client) => client.partition(groups))
    this.print(flags, {ok: true, partition: groups}, () => formatPartition(groups))
  }
}
