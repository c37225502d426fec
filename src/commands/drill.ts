import * as Flags from '@oclif/core/flags'
import { join, resolve } from 'node:path'
import { drill, type DrillReport } from '../core/drill.js'
import { loadRunbook } from '../core/runbook/load.js'
import { durationMs, parseScope } from '../core/scope.js'
import { KillswitchCommand, runbookFlag, scopeFlag, triggerFlag, verifyTimeoutFlag, EXIT_TABLE } from '../cli/base-command.js'
import { drillExitCode } from '../cli/exit-codes.js'
import { createPorts } from '../cli/ports.js'
import { Progress } from '../cli/progress.js'
import { renderDrill } from '../cli/render.js'
import { writeDrillReports } from '../reports/write.js'
import { PROFILES, type ProfileName } from '../sandbox/realism.js'

export default class Drill extends KillswitchCommand {
  static override summary = 'Prove the switch works: halt the scope, verify, measure time-to-halt, restore, verify every target is back exactly at its snapshot, and write reports.'
  static override description = EXIT_TABLE
  static override examples = [
    '<%= config.bin %> drill --runbook runbooks/sandbox.yaml --scope class=refund --sandbox',
    '<%= config.bin %> drill -r runbooks/agents-staging.yaml -s class=refund --trigger scheduled --report-dir reports',
  ]
  static override flags = {
    runbook: runbookFlag,
    scope: scopeFlag,
    sandbox: Flags.boolean({ description: 'Start the built-in sandbox in-process, seeded from the runbook, and drill against it (nothing else needed).', env: 'KILLSWITCH_SANDBOX' }),
    'sandbox-profile': Flags.string({ description: 'Latency and rate limits of the sandbox.', env: 'KILLSWITCH_SANDBOX_PROFILE', options: Object.keys(PROFILES), default: 'realistic' }),
    'agents-per-class': Flags.integer({ description: 'Sandbox fleet size per class.', env: 'KILLSWITCH_SANDBOX_AGENTS_PER_CLASS', default: 5, min: 1 }),
    'report-dir': Flags.string({ description: 'Where the JSON, JUnit, Markdown and HTML reports go.', env: 'KILLSWITCH_REPORT_DIR', default: 'reports' }),
    redact: Flags.boolean({ description: 'Replace resource names in the reports with pseudonyms, for posting outside the team.', env: 'KILLSWITCH_REDACT' }),
    reason: Flags.string({ description: 'Recorded with the drill in the audit trail.', env: 'KILLSWITCH_REASON', default: '' }),
    trigger: triggerFlag,
    'verify-timeout': verifyTimeoutFlag,
  }

  async run(): Promise<void> {
    this.surviveHangup()
    const { flags } = await this.parse(Drill)
    const progress = Progress.for(process.stderr, flags.json)
    const loaded = await loadRunbook(flags.runbook)
    const scope = parseScope(flags.scope, loaded.runbook)
    let stateDir = this.stateDir(flags)
    let credentials = loaded.runbook.credentials
    let stopSandbox: (() => Promise<void>) | undefined
    if (flags.sandbox) {
      const { startSandboxForRunbook } = await import('../sandbox/for-runbook.js')
      const started = await startSandboxForRunbook(loaded.runbook, { profile: flags['sandbox-profile'] as ProfileName, agentsPerClass: flags['agents-per-class'] })
      Object.assign(process.env, started.env)
      credentials = started.credentials
      stopSandbox = started.stop
      // Sandbox drills keep their own journal, trail and history, apart from any real ones.
      stateDir = join(stateDir, 'sandbox')
      process.stderr.write(`sandbox: ${started.summary} on ${started.url} (profile ${flags['sandbox-profile']})\n`)
    }
    let report: DrillReport
    try {
      const ports = createPorts({ credentials, stateDir, emit: progress })
      report = await drill(
        { loaded, scope, reason: flags.reason, trigger: this.trigger(flags.trigger), verifyTimeoutMs: durationMs(flags['verify-timeout']) },
        ports,
      )
    } finally {
      progress.stop()
      await stopSandbox?.()
    }
    const written = await writeDrillReports(report, {
      dir: resolve(flags['report-dir']),
      redact: flags.redact,
      stateDir,
      githubStepSummary: process.env.GITHUB_STEP_SUMMARY,
    })
    await this.finish({ ...report, reports: written }, renderDrill(report, { ...written }), drillExitCode(report))
  }
}
