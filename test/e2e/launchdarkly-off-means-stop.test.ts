/**
 * LaunchDarkly end to end: "off" must mean the agents stop. The CLI (through the harness) against sandboxes seeded
 * with the flags a kill switch meets in real projects: off variations that serve the wrong value or none, a
 * multivariate flag, an SDK key of another environment, unknown and archived keys, an environment that requires
 * approvals and comments, pending approval requests, scheduled changes and triggers. Each test asserts the JSON,
 * the exit code and the sandbox's final state.
 */
import { basicLogger, init, type LDClient } from '@launchdarkly/node-server-sdk'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { FlagChange } from '../../src/sandbox/launchdarkly/flag-store.js'
import type { LaunchDarklyState } from '../../src/sandbox/launchdarkly/index.js'
import { parseSeed, type SeedInput } from '../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js'
import { runCli, type CliResult } from './harness.js'

const PLAIN_TOKEN = 'api-e2e-breakglass'
const BYPASS_TOKEN = 'api-e2e-bypass-approvals'

interface LaunchDarklyHarness {
  sandbox: Sandbox
  runbook: string
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>
  flags(environment?: string): Record<string, boolean>
  changes(): FlagChange[]
}

const started: Sandbox[] = []
afterEach(async () => {
  for (const sandbox of started.splice(0)) await sandbox.stop()
})

/** A sandbox with `launchdarkly` as its only plane's seed, and a runbook whose global scope runs `steps`. */
async function launchDarklyHarness(launchdarkly: SeedInput['launchdarkly'], steps: string): Promise<LaunchDarklyHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'killswitch-ld-e2e-'))
  const runbook = join(dir, 'runbook.yaml')
  await writeFile(
    runbook,
    [
      'apiVersion: killswitch/v1',
      'kind: Runbook',
      'metadata: { name: ld-e2e }',
      'authority: { principals: ["arn:aws:iam::111122223333:role/killswitch-oncall"] }',
      'credentials:',
      '  aws: { region: us-east-1 }',
      '  launchdarkly: { apiTokenEnv: LD_API_TOKEN, sdkKeyEnv: LD_SDK_KEY_PRODUCTION }',
      'slo: { agent: 10s, class: 30s, global: 60s }',
      'classes: [refund]',
      'scopes:',
      '  global:',
      '    steps:',
      steps,
      '',
    ].join('\n'),
  )
  const sandbox = await startSandbox({ seed: parseSeed({ launchdarkly }) })
  started.push(sandbox)
  const env = { ...sandbox.env, KILLSWITCH_STATE_DIR: join(dir, 'state') }
  const state = () => sandbox.state().launchdarkly as LaunchDarklyState
  return {
    sandbox,
    runbook,
    cli: (args, extraEnv = {}) => runCli(args, { ...env, ...extraEnv }),
    flags: (environment = 'production') =>
      Object.fromEntries(Object.entries(state().projects.agents!.environments[environment]!.flags).map(([key, flag]) => [key, flag.on])),
    changes: () => state().changes,
  }
}

const halt = (h: LaunchDarklyHarness) => h.cli(['halt', '--runbook', h.runbook, '--scope', 'global', '--reason', 'INC-77 agents loop', '--yes', '--json'])
const plan = (h: LaunchDarklyHarness) => h.cli(['plan', '--runbook', h.runbook, '--scope', 'global', '--json'])
const target = (r: CliResult, label: string) => r.json.result.targets.find((t: any) => t.label === label)
const planned = (r: CliResult, label: string) => r.json.result.steps.flatMap((s: any) => s.targets).find((t: any) => t.label === label)

/** What an agent streaming production is served for `flag` (fallback: what its own code would use). */
async function servedToAgents(sandbox: Sandbox, flags: string[]): Promise<Record<string, unknown>> {
  const client: LDClient = init(sandbox.env.LD_SDK_KEY_PRODUCTION!, {
    baseUri: sandbox.url,
    streamUri: sandbox.url,
    eventsUri: sandbox.url,
    sendEvents: false,
    diagnosticOptOut: true,
    logger: basicLogger({ level: 'none' }),
  })
  try {
    await client.waitForInitialization({ timeout: 10 })
    const agent = { kind: 'user', key: 'refund-agent-7' }
    return Object.fromEntries(await Promise.all(flags.map(async (flag) => [flag, await client.variation(flag, agent, 'agent fallback')])))
  } finally {
    client.close()
  }
}

describe('a flag whose off variation does not stop the agents', () => {
  const seed: SeedInput['launchdarkly'] = {
    apiTokens: [PLAIN_TOKEN],
    projects: {
      agents: {
        environments: { production: { sdkKey: 'sdk-e2e-production' } },
        flags: [
          { key: 'agents-enabled', on: { production: true } },
          { key: 'serves-true-enabled', on: { production: true }, offVariation: 0 },
          { key: 'no-off-variation-enabled', on: { production: true }, offVariation: null },
          { key: 'off-no-off-variation-enabled', on: { production: false }, offVariation: null },
        ],
      },
    },
  }
  const steps = '      - flagOff: { project: agents, environment: production, flags: [agents-enabled, serves-true-enabled, no-off-variation-enabled, off-no-off-variation-enabled] }'

  it('is refused by plan and halt with the fix named, fails alone (never HALTED), and restore leaves it as it was', async () => {
    const h = await launchDarklyHarness(seed, steps)
    const before = h.flags()

    const p = await plan(h)
    expect(p.code).toBe(0)
    const warnings = p.json.result.warnings.join('\n')
    expect(warnings).toContain('set the off variation of serves-true-enabled in production to false')
    expect(warnings).toContain('flag no-off-variation-enabled in production has no off variation')
    expect(warnings).toContain('flag off-no-off-variation-enabled in production has no off variation')
    expect(planned(p, 'serves-true-enabled').currentText).toMatch(/^on \(off does not stop the agents: .*serves true when off/)
    // Already off, but serving each agent its own fallback: not "already halted".
    expect(planned(p, 'off-no-off-variation-enabled').action).toBe('halt')
    expect(planned(p, 'agents-enabled')).toMatchObject({ currentText: 'on', action: 'halt' })
    expect(h.changes()).toEqual([])

    const r = await halt(h)
    expect(r.code).toBe(2)
    expect(r.json).toMatchObject({ command: 'halt', exitCode: 2 })
    expect(r.json.result.status).toBe('partial')
    expect(target(r, 'agents-enabled').status).toBe('halted')
    for (const label of ['serves-true-enabled', 'no-off-variation-enabled', 'off-no-off-variation-enabled']) {
      expect(target(r, label).status).toBe('failed')
    }
    expect(target(r, 'serves-true-enabled').error).toContain('serves true when off, not the halt value false')
    expect(target(r, 'serves-true-enabled').error).toContain('set the off variation of serves-true-enabled in production to false')
    expect(target(r, 'no-off-variation-enabled').error).toContain('its own fallback value')

    // Only the flag whose off variation serves the halt value was changed.
    expect(h.flags()).toEqual({ ...before, 'agents-enabled': false })
    expect(h.changes().map((c) => [c.flag, c.instruction, c.on])).toEqual([['agents-enabled', 'turnFlagOff', false]])
    expect(h.changes()[0]!.comment).toMatch(/^killswitch h-.*: INC-77 agents loop$/)
    // What the agents get, through the real server SDK.
    expect(await servedToAgents(h.sandbox, ['agents-enabled', 'serves-true-enabled', 'no-off-variation-enabled'])).toEqual({
      'agents-enabled': false,
      'serves-true-enabled': true,
      'no-off-variation-enabled': true,
    })

    const restored = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'global', '--reason', 'INC-77 fixed', '--yes', '--json'])
    expect(restored.code).toBe(0)
    expect(restored.json.result.status).toBe('restored')
    expect(h.flags()).toEqual(before)
    expect(h.changes().map((c) => [c.flag, c.instruction])).toEqual([
      ['agents-enabled', 'turnFlagOff'],
      ['agents-enabled', 'turnFlagOn'],
    ])
    // Targeting and variations untouched in both directions.
    const flag = (await (await fetch(`${h.sandbox.url}/api/v2/flags/agents/serves-true-enabled?env=production`, { headers: { Authorization: PLAIN_TOKEN } })).json()) as any
    expect(flag.environments.production.offVariation).toBe(0)
    expect(flag.variations.map((v: any) => v.value)).toEqual([true, false])
  })
})

describe('a multivariate flag', () => {
  const seed: SeedInput['launchdarkly'] = {
    apiTokens: [PLAIN_TOKEN],
    projects: {
      agents: {
        environments: { production: { sdkKey: 'sdk-e2e-production' } },
        flags: [
          { key: 'agent-mode', on: { production: true }, variations: ['autonomous', 'supervised', 'stopped'], offVariation: 2 },
          { key: 'tool-mode', on: { production: true }, variations: ['full', 'read-only'], offVariation: 1 },
        ],
      },
    },
  }
  const steps = [
    '      - name: agent mode',
    '        flagOff: { project: agents, environment: production, flags: [agent-mode], haltValue: stopped }',
    '      - name: tool mode',
    '        flagOff: { project: agents, environment: production, flags: [tool-mode] }',
  ].join('\n')

  it('halts when its off variation serves the declared haltValue, verified by the value served; without haltValue it fails alone', async () => {
    const h = await launchDarklyHarness(seed, steps)

    const p = await plan(h)
    expect(p.code).toBe(0)
    expect(p.json.result.warnings.join('\n')).toContain('flag tool-mode in production is multivariate (variations "full", "read-only") and the step declares no haltValue')

    const r = await halt(h)
    expect(r.code).toBe(2)
    expect(r.json.result.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['agent mode', 'halted'],
      ['tool mode', 'failed'],
    ])
    expect(target(r, 'agent-mode')).toMatchObject({ status: 'halted', locator: { haltValue: '"stopped"' } })
    expect(target(r, 'tool-mode').error).toContain('add haltValue to the flagOff step')
    expect(h.flags()).toEqual({ 'agent-mode': false, 'tool-mode': true })
    expect(await servedToAgents(h.sandbox, ['agent-mode', 'tool-mode'])).toEqual({ 'agent-mode': 'stopped', 'tool-mode': 'full' })
  })
})

describe('a server SDK key of another environment', () => {
  const seed: SeedInput['launchdarkly'] = {
    apiTokens: [PLAIN_TOKEN],
    projects: {
      agents: {
        environments: { production: { sdkKey: 'sdk-e2e-production' }, staging: { sdkKey: 'sdk-e2e-staging' } },
        // Off in staging: verifying through staging's key would see it off and call the production halt verified.
        flags: [{ key: 'agents-enabled', on: { production: true, staging: false } }],
      },
    },
  }

  it('fails plan and halt at resolution, the variable named and the key never printed, rather than a halt "verified" against staging', async () => {
    const h = await launchDarklyHarness(seed, '      - flagOff: { project: agents, environment: production, flags: [agents-enabled] }')
    const stagingKey = { LD_SDK_KEY_PRODUCTION: h.sandbox.env.LD_SDK_KEY_STAGING! }

    const p = await h.cli(['plan', '--runbook', h.runbook, '--scope', 'global', '--json'], stagingKey)
    const r = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'global', '--reason', 'INC-78', '--yes', '--json'], stagingKey)

    for (const result of [p, r]) {
      expect(result.code).toBe(3)
      expect(result.json).toMatchObject({ exitCode: 3, error: { code: 'ResolveFailed' } })
      expect(result.json.error.message).toContain('LD_SDK_KEY_PRODUCTION holds the server SDK key of environment staging, not of production')
      expect(result.stdout + result.stderr).not.toContain('sdk-e2e-staging')
    }
    expect(h.flags()).toEqual({ 'agents-enabled': true })
    expect(h.flags('staging')).toEqual({ 'agents-enabled': false })
    expect(h.changes()).toEqual([])
  })
})

describe('unknown and archived flag keys', () => {
  const seed: SeedInput['launchdarkly'] = {
    apiTokens: [PLAIN_TOKEN],
    projects: {
      agents: {
        environments: { production: { sdkKey: 'sdk-e2e-production' } },
        flags: [
          { key: 'refund-agents-enabled', on: { production: true } },
          { key: 'support-agents-enabled', on: { production: true } },
          { key: 'retired-agents-enabled', on: { production: true }, archived: true },
        ],
      },
    },
  }

  it('fail their own targets as missing while every other flag of the step is turned off', async () => {
    const h = await launchDarklyHarness(
      seed,
      '      - flagOff: { project: agents, environment: production, flags: [refund-agents-enabled, ghost-agents-enabled, retired-agents-enabled, support-agents-enabled] }',
    )

    const p = await plan(h)
    expect(p.code).toBe(0)
    expect(planned(p, 'ghost-agents-enabled')).toMatchObject({ action: 'none (missing)' })
    expect(planned(p, 'retired-agents-enabled')).toMatchObject({ action: 'none (missing)' })
    expect(p.json.result.warnings.join('\n')).toContain('flag ghost-agents-enabled is not in LaunchDarkly project agents')

    const r = await halt(h)
    expect(r.code).toBe(2)
    expect(r.json.result.status).toBe('partial')
    expect(target(r, 'refund-agents-enabled').status).toBe('halted')
    expect(target(r, 'support-agents-enabled').status).toBe('halted')
    for (const label of ['ghost-agents-enabled', 'retired-agents-enabled']) {
      expect(target(r, label)).toMatchObject({ status: 'failed', missing: true })
      expect(target(r, label).error).toContain('(no such key, or the flag is archived)')
    }
    expect(h.flags()).toEqual({ 'refund-agents-enabled': false, 'support-agents-enabled': false, 'retired-agents-enabled': true })
    expect(h.changes().map((c) => c.flag).sort()).toEqual(['refund-agents-enabled', 'support-agents-enabled'])
  })
})

describe('an environment that requires approvals and comments, with pending and scheduled changes and triggers', () => {
  const seed: SeedInput['launchdarkly'] = {
    apiTokens: [PLAIN_TOKEN, BYPASS_TOKEN],
    approvalBypassTokens: [BYPASS_TOKEN],
    projects: {
      agents: {
        environments: { production: { sdkKey: 'sdk-e2e-production', approvalsRequired: true, requireComments: true } },
        flags: [
          { key: 'agents-enabled', on: { production: true }, pendingApprovalRequests: ['production'] },
          {
            key: 'tools-enabled',
            on: { production: true },
            scheduledChanges: [{ environment: 'production', afterSeconds: 86_400, instructions: ['turnFlagOn'] }],
            triggers: [{ environment: 'production', instruction: 'turnFlagOn', integrationKey: 'datadog' }],
          },
        ],
      },
    },
  }
  const steps = '      - flagOff: { project: agents, environment: production, flags: [agents-enabled, tools-enabled] }'

  it('plan names what could turn the flags back on; a 405 fails each flag with the way out; a bypassing token halts through the conflicts', async () => {
    const h = await launchDarklyHarness(seed, steps)

    const p = await plan(h)
    expect(p.code).toBe(0)
    const planWarnings = p.json.result.warnings.join('\n')
    expect(planWarnings).toContain('environment production of project agents requires approvals for flag changes')
    expect(planWarnings).toMatch(/flag tools-enabled in production: a scheduled change \([0-9a-f]+\) on \S+ will turnFlagOn, undoing a halt/)
    expect(planWarnings).toContain('flag tools-enabled in production: trigger datadog')

    const refused = await halt(h)
    expect(refused.code).toBe(2)
    expect(refused.json.result.status).toBe('failed')
    for (const label of ['agents-enabled', 'tools-enabled']) {
      expect(target(refused, label).status).toBe('failed')
      expect(target(refused, label).error).toContain('LaunchDarkly answered 405')
      expect(target(refused, label).error).toContain('bypassRequiredApproval')
    }
    expect(h.flags()).toEqual({ 'agents-enabled': true, 'tools-enabled': true })

    const bypassed = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'global', '--reason', 'INC-79 agents loop', '--yes', '--json'], { LD_API_TOKEN: BYPASS_TOKEN })
    expect(bypassed.code).toBe(0)
    expect(bypassed.json.result.status).toBe('halted')
    expect(bypassed.json.result.targets.map((t: any) => t.status)).toEqual(['halted', 'halted'])
    expect(bypassed.json.result.warnings.join('\n')).toContain('trigger datadog')
    expect(h.flags()).toEqual({ 'agents-enabled': false, 'tools-enabled': false })
    expect(h.changes().map((c) => [c.flag, c.instruction])).toEqual(
      expect.arrayContaining([
        ['agents-enabled', 'turnFlagOff'],
        ['tools-enabled', 'turnFlagOff'],
      ]),
    )
    for (const change of h.changes()) expect(change.comment).toMatch(/^killswitch h-\S+: INC-79 agents loop$/)
  })
})
