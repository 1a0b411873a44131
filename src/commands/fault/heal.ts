import {KvCommand} from '../../cli/base-command.js'

/** `kv fault heal`: ends any partition; every replica hears every other again. */
export default class FaultHeal extends KvCommand {
  static override description = 'Heal a partition made by kv fault partition: every replica hears every other again.'

  static override examples = ['<%= config.bin %> fault heal', '<%= config.bin %> fault heal --json']

  async run(): Promise<void> {
    const {flags} = await this.parse(FaultHeal)
    await this.withClient(flags, (client) => client.heal())
    this.print(flags, {ok: true}, () => 'healed: every replica hears every other again')
  }
}
