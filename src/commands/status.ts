import {KvCommand} from '../cli/base-command.js'
import {formatStatus} from '../cli/format.js'

/** `kv status`: every registered replica, whether it serves, its role and key count. */
export default class Status extends KvCommand {
  static override description = `Show the cluster: its mode, its leader (quorum mode) and every registered replica.
A replica is alive only if it answers a status request within the timeout (at most 1.5 s).`

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --cluster demo --json']

  async run(): Promise<void> {
    const {flags} = await this.parse(Status)
    const result = await this.withClient(flags, (client) => client.status())
    this.print(flags, result, () => formatStatus(result))
  }
}
