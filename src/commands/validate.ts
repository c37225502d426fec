import * as Flags from '@oclif/core/flags'
import { loadRunbook, RunbookError, formatProblem } from '../core/runbook/load.js'
import { parseScope } from '../core/scope.js'
import { EXIT, KillswitchCommand, runbookFlag, EXIT_TABLE } from '../cli/base-command.js'

export default class Validate extends KillswitchCommand {
  static override summary = 'Check a runbook against the schema and its semantic rules, without touching any platform.'
  static override description = EXIT_TABLE
  static override examples = ['<%= config.bin %> validate --runbook runbooks/agents-prod.yaml', '<%= config.bin %> validate -r runbooks/sandbox.yaml --scope class=refund']
  static override flags = {
    runbook: runbookFlag,
    scope: Flags.string({ char: 's', description: 'Also check that this scope is valid for the runbook.', env: 'KILLSWITCH_SCOPE' }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(Validate)
    try {
      const { runbook, digest, path } = await loadRunbook(flags.runbook)
      if (flags.scope) parseScope(flags.scope, runbook)
      const scopes = (['agent', 'class', 'global'] as const).filter((s) => runbook.scopes[s])
      const result = { valid: true, runbook: { name: runbook.metadata.name, path, digest }, scopes, classes: runbook.classes, problems: [] }
      await this.finish(result, `${path}: valid runbook "${runbook.metadata.name}" (scopes: ${scopes.join(', ')}; classes: ${runbook.classes.join(', ')})\n`, EXIT.OK)
    } catch (error) {
      if (!(error instanceof RunbookError)) throw error
      const result = { valid: false, problems: error.problems }
      process.stderr.write(`${error.problems.length} problem(s):\n`)
      await this.finish(result, error.problems.map(formatProblem).join('\n') + '\n', EXIT.USAGE)
    }
  }
}
