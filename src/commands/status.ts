import * as Flags from '@oclif/core/flags'
import { readStatus } from '../core/status.js'
import { loadRunbook } from '../core/runbook/load.js'
import { EXIT, KillswitchCommand, EXIT_TABLE } from '../cli/base-command.js'
import { createPorts } from '../cli/ports.js'
import { renderStatus } from '../cli/render.js'

export default class Status extends KillswitchCommand {
  static override summary = 'What is halted now, from the journal; with --runbook also each target\'s live state.'
  static override description = EXIT_TABLE
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --runbook runbooks/agents-prod.yaml --json']
  static override flags = {
    runbook: Flags.string({ char: 'r', description: 'The runbook whose credentials read the live state.', env: 'KILLSWITCH_RUNBOOK' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Status)
    const credentials = flags.runbook ? (await loadRunbook(flags.runbook)).runbook.credentials : {}
    const ports = createPorts({ credentials, stateDir: this.existingStateDir(flags), emit: () => undefined })
    const report = await readStatus(ports, flags.runbook !== undefined)
    await this.finish(report, renderStatus(report), EXIT.OK)
  }
}
