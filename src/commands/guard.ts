import * as Flags from '@oclif/core/flags'
import { guard, parseHoldDuration, parseHoldInterval } from '../core/hold.js'
import { durationMs } from '../core/scope.js'
import { KillswitchCommand, holdIntervalFlag, runbookFlag, scopeFlag, triggerFlag, verifyTimeoutFlag, EXIT_TABLE } from '../cli/base-command.js'
import { guardExitCode } from '../cli/exit-codes.js'
import { prepare } from '../cli/invocation.js'
import { Progress } from '../cli/progress.js'
import { renderGuard } from '../cli/render.js'

export default class Guard extends KillswitchCommand {
  static override summary =
    'Keep an already-halted scope halted until it is restored: read every target back each --hold-interval, re-apply any that was undone, and announce each re-application on SNS.'
  static override description = EXIT_TABLE
  static override examples = [
    '<%= config.bin %> guard --runbook runbooks/agents-prod.yaml --scope class=refund --reason "INC-4411: KEDA keeps scaling refund back up"',
    '<%= config.bin %> guard -r runbooks/agents-prod.yaml -s global --hold 8h --json',
  ]
  static override flags = {
    runbook: runbookFlag,
    scope: scopeFlag,
    reason: Flags.string({ description: 'Why: recorded in the audit trail and the notifications.', env: 'KILLSWITCH_REASON', default: '(no reason given)' }),
    hold: Flags.string({ description: 'How long to guard (30s, 10m, 1h, or forever: until a restore of the scope). Ctrl-C ends the guard.', env: 'KILLSWITCH_HOLD', default: 'forever' }),
    'hold-interval': holdIntervalFlag,
    trigger: triggerFlag,
    'verify-timeout': verifyTimeoutFlag,
  }

  async run(): Promise<void> {
    this.surviveHangup()
    const { flags } = await this.parse(Guard)
    const progress = Progress.for(process.stderr, flags.json)
    const interrupt = this.interruptibleHold(progress)
    interrupt.arm()
    const hold = { durationMs: parseHoldDuration(flags.hold), intervalMs: parseHoldInterval(flags['hold-interval']), signal: interrupt.signal }
    const { loaded, scope, ports } = await prepare(flags.runbook, flags.scope, this.stateDir(flags), interrupt.emit)
    const report = await guard({ loaded, scope, reason: flags.reason, trigger: this.trigger(flags.trigger), verifyTimeoutMs: durationMs(flags['verify-timeout']), hold }, ports)
    progress.stop()
    await this.finish(report, renderGuard(report), guardExitCode(report))
  }
}
