import { planHalt } from '../core/plan.js'
import { EXIT, KillswitchCommand, runbookFlag, scopeFlag, EXIT_TABLE } from '../cli/base-command.js'
import { prepare } from '../cli/invocation.js'
import { Progress } from '../cli/progress.js'
import { renderPlan } from '../cli/render.js'

export default class Plan extends KillswitchCommand {
  static override summary = 'Show what a halt of the scope would touch, the live state of each target, and the predicted time-to-halt against the SLO. Changes nothing.'
  static override description = EXIT_TABLE
  static override examples = ['<%= config.bin %> plan --runbook runbooks/agents-prod.yaml --scope class=refund']
  static override flags = { runbook: runbookFlag, scope: scopeFlag }

  async run(): Promise<void> {
    const { flags } = await this.parse(Plan)
    const progress = Progress.for(process.stderr, flags.json)
    const { loaded, scope, ports } = await prepare(flags.runbook, flags.scope, this.stateDir(flags), progress)
    const report = await planHalt({ loaded, scope, reason: 'plan', trigger: this.trigger(undefined) }, ports)
    progress.stop()
    await this.finish(report, renderPlan(report), EXIT.OK)
  }
}
