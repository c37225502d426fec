import * as Flags from '@oclif/core/flags'
import { restore } from '../core/restore.js'
import { durationMs } from '../core/scope.js'
import { KillswitchCommand, runbookFlag, scopeFlag, triggerFlag, verifyTimeoutFlag, yesFlag, EXIT_TABLE } from '../cli/base-command.js'
import { restoreExitCode } from '../cli/exit-codes.js'
import { prepare } from '../cli/invocation.js'
import { Progress } from '../cli/progress.js'
import { renderRestore } from '../cli/render.js'

export default class Restore extends KillswitchCommand {
  static override summary = 'Put every target a halt of the scope changed back exactly to its snapshot, in reverse order; refuses if the live state drifted, unless --force.'
  static override description = EXIT_TABLE
  static override examples = ['<%= config.bin %> restore --runbook runbooks/agents-prod.yaml --scope class=refund --reason "fixed in v2.3.1"']
  static override flags = {
    runbook: runbookFlag,
    scope: scopeFlag,
    reason: Flags.string({ description: 'Why it is safe to re-enable the agents (required; audited).', env: 'KILLSWITCH_REASON', required: true }),
    force: Flags.boolean({ description: 'Restore even targets whose live state drifted from what the halt left.', env: 'KILLSWITCH_FORCE' }),
    yes: yesFlag,
    trigger: triggerFlag,
    'verify-timeout': verifyTimeoutFlag,
  }

  async run(): Promise<void> {
    this.surviveHangup()
    const { flags } = await this.parse(Restore)
    const progress = Progress.for(process.stderr, flags.json)
    const { loaded, scope, ports } = await prepare(flags.runbook, flags.scope, this.existingStateDir(flags), progress)
    const report = await restore(
      {
        loaded,
        scope,
        reason: flags.reason,
        trigger: this.trigger(flags.trigger),
        force: flags.force,
        verifyTimeoutMs: durationMs(flags['verify-timeout']),
        confirm: flags.yes
          ? undefined
          : (s) =>
              this.confirmByTyping(
                s.scope,
                [`About to RESTORE ${s.scope}: re-enable ${s.restore.length} target(s)${s.kept.length ? `; ${s.kept.length} stay halted under other scopes` : ''}.`],
                false,
                'restore',
              ),
      },
      ports,
    )
    progress.stop()
    await this.finish(report, renderRestore(report), restoreExitCode(report))
  }
}
