import * as Flags from '@oclif/core/flags'
import { halt } from '../core/halt.js'
import { parseHoldDuration, parseHoldInterval } from '../core/hold.js'
import { durationMs } from '../core/scope.js'
import { KillswitchCommand, holdIntervalFlag, runbookFlag, scopeFlag, triggerFlag, verifyTimeoutFlag, yesFlag, EXIT_TABLE } from '../cli/base-command.js'
import { haltExitCode } from '../cli/exit-codes.js'
import { prepare } from '../cli/invocation.js'
import { Progress } from '../cli/progress.js'
import { renderHalt } from '../cli/render.js'

export default class Halt extends KillswitchCommand {
  static override summary = 'Stop every agent in the scope now: apply the runbook\'s steps, verify each target, and report the time-to-halt against the SLO.'
  static override description = EXIT_TABLE
  static override examples = [
    '<%= config.bin %> halt --runbook runbooks/agents-prod.yaml --scope class=refund --reason "INC-4411 refund loop"',
    '<%= config.bin %> halt -r runbooks/agents-prod.yaml -s global --yes --json',
    '<%= config.bin %> halt -r runbooks/agents-prod.yaml -s class=refund --reason "INC-4411" --hold 10m',
  ]
  static override flags = {
    runbook: runbookFlag,
    scope: scopeFlag,
    reason: Flags.string({ description: 'Why: recorded in the audit trail and the notifications.', env: 'KILLSWITCH_REASON', default: '(no reason given)' }),
    yes: yesFlag,
    trigger: triggerFlag,
    'verify-timeout': verifyTimeoutFlag,
    'override-authority': Flags.boolean({
      description: 'Halt even though the caller is outside the runbook\'s authority. Loudly audited and announced.',
      env: 'KILLSWITCH_OVERRIDE_AUTHORITY',
    }),
    hold: Flags.string({
      description:
        'After the last verification, keep the halt in force this long (30s, 10m, 1h, or forever: until a restore of the scope): every target is read back each --hold-interval, and one that was undone is re-applied, verified and reported with who undid it. Ctrl-C ends the hold. Default: no hold.',
      env: 'KILLSWITCH_HOLD',
    }),
    'hold-interval': holdIntervalFlag,
  }

  async run(): Promise<void> {
    this.surviveHangup()
    const { flags } = await this.parse(Halt)
    const progress = Progress.for(process.stderr, flags.json)
    const interrupt = this.interruptibleHold(progress)
    const hold = flags.hold === undefined ? undefined : { durationMs: parseHoldDuration(flags.hold), intervalMs: parseHoldInterval(flags['hold-interval']), signal: interrupt.signal }
    const { loaded, scope, ports } = await prepare(flags.runbook, flags.scope, this.stateDir(flags), hold ? interrupt.emit : progress)
    const report = await halt(
      {
        loaded,
        scope,
        reason: flags.reason,
        trigger: this.trigger(flags.trigger),
        overrideAuthority: flags['override-authority'],
        verifyTimeoutMs: durationMs(flags['verify-timeout']),
        hold,
        confirm: flags.yes
          ? undefined
          : (summary) =>
              this.confirmByTyping(
                summary.scope,
                [
                  `About to HALT ${summary.scope} (runbook ${loaded.runbook.metadata.name}):`,
                  ...summary.unresolved.map((s) => `  ✗ ${s.name} (${s.kind}) CANNOT be halted: ${s.error}`),
                  ...summary.steps.map((s) => `  ${s.name} (${s.kind}): ${s.targets.length} target(s): ${s.targets.slice(0, 8).join(', ')}${s.targets.length > 8 ? ', …' : ''}`),
                ],
                false,
                'halt',
              ),
      },
      ports,
    )
    progress.stop()
    await this.finish(report, renderHalt(report, this.stateDir(flags)), haltExitCode(report))
  }
}
