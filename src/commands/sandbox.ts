import * as Flags from '@oclif/core/flags'
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { loadRunbook } from '../core/runbook/load.js'
import { KillswitchCommand, EXIT_TABLE } from '../cli/base-command.js'
import { UsageError } from '../cli/errors.js'
import { sandboxEnvironment } from '../sandbox/attach.js'
import { seedFromRunbook } from '../sandbox/fleet.js'
import { parseKnobs, PROFILES, type ProfileName } from '../sandbox/realism.js'
import { parseSeed, type SeedInput } from '../sandbox/seed.js'
import { startSandbox } from '../sandbox/server.js'

export default class SandboxCommand extends KillswitchCommand {
  static override summary = 'Serve local emulations of the Lambda, IAM, STS, SNS, Kubernetes and LaunchDarkly control planes, and print the settings that point the standard clients at them.'
  static override description = EXIT_TABLE
  static override examples = [
    '<%= config.bin %> sandbox --runbook runbooks/sandbox.yaml',
    'eval "$(<%= config.bin %> sandbox --runbook runbooks/sandbox.yaml --port 4599 &)"',
    '<%= config.bin %> sandbox --seed my-seed.yaml --profile realistic --knob lambda.errorRate=0.1 --knob iamPropagationMs=5000',
  ]
  static override flags = {
    runbook: Flags.string({ char: 'r', description: 'Generate a fleet matching this runbook\'s selectors.', env: 'KILLSWITCH_RUNBOOK', exclusive: ['seed'] }),
    seed: Flags.string({ description: 'Seed the sandbox from this YAML or JSON file instead.', env: 'KILLSWITCH_SANDBOX_SEED' }),
    'agents-per-class': Flags.integer({ description: 'Agents per class when generating from a runbook.', env: 'KILLSWITCH_SANDBOX_AGENTS_PER_CLASS', default: 3, min: 1 }),
    port: Flags.integer({ char: 'p', description: 'Port on 127.0.0.1 (0 picks a free one).', env: 'KILLSWITCH_SANDBOX_PORT', default: 0, min: 0, max: 65535 }),
    profile: Flags.string({ description: 'Latency, rate limits and faults.', env: 'KILLSWITCH_SANDBOX_PROFILE', options: Object.keys(PROFILES), default: 'instant' }),
    knob: Flags.string({
      description: 'Set one realism knob over the profile, e.g. lambda.errorRate=0.1, iam.latencyMs=200, iamPropagationMs=5000 (repeatable).',
      multiple: true,
      default: [],
    }),
  }

  async run(): Promise<void> {
    const { flags } = await this.parse(SandboxCommand)
    const loaded = flags.runbook ? await loadRunbook(flags.runbook) : undefined
    let seedInput: SeedInput = {}
    if (loaded) seedInput = seedFromRunbook(loaded.runbook, { agentsPerClass: flags['agents-per-class'] })
    else if (flags.seed) {
      const text = await readFile(flags.seed, 'utf8').catch(() => {
        throw new UsageError(`cannot read the seed file ${flags.seed}`, 'pass --seed with the path of a YAML or JSON seed (format: docs/sandbox.md)')
      })
      seedInput = parseYaml(text) as SeedInput
    }
    const seed = parseSeed(seedInput)
    let overrides
    try {
      overrides = parseKnobs(flags.knob)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    const sandbox = await startSandbox({ seed, profile: flags.profile as ProfileName, port: flags.port, overrides })
    const env = sandboxEnvironment(sandbox, loaded?.runbook, seed)
    if (flags.json) process.stdout.write(JSON.stringify({ url: sandbox.url, env }, null, 2) + '\n')
    else process.stdout.write(Object.entries(env).map(([k, v]) => `export ${k}=${v}`).join('\n') + '\n')
    process.stderr.write(`killswitch sandbox listening on ${sandbox.url} (profile ${flags.profile}); inspect state at ${sandbox.url}/_sandbox/state; Ctrl-C stops it\n`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await sandbox.stop()
    process.stderr.write('killswitch sandbox stopped\n')
  }
}
