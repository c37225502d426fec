import { verifyTrail } from '../../audit/trail.js'
import { EXIT, KillswitchCommand, EXIT_TABLE } from '../../cli/base-command.js'
import { renderTrail } from '../../cli/render.js'

export default class AuditVerify extends KillswitchCommand {
  static override summary = 'Check the audit trail\'s hash chain and head anchor; names any record edited, deleted, reordered or cut off.'
  static override description = EXIT_TABLE
  static override examples = ['<%= config.bin %> audit verify', '<%= config.bin %> audit verify --state-dir /var/lib/killswitch --json']

  async run(): Promise<void> {
    const { flags } = await this.parse(AuditVerify)
    const verdict = await verifyTrail(this.existingStateDir(flags))
    await this.finish(verdict, renderTrail(verdict), verdict.ok ? EXIT.OK : EXIT.FAILED)
  }
}
