/**
 * The sandbox's LaunchDarkly REST API around a kill switch, with `fetch`: environments and their SDK keys, archived
 * flags, unset off variations, required approvals and comments, conflicts with pending changes, scheduled changes
 * (listed, then carried out) and triggers.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { pollUntil } from '../../../src/core/wait.js'
import type { LaunchDarklyState } from '../../../src/sandbox/launchdarkly/index.js'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'

const TOKEN = 'api-test-breakglass'
const BYPASS = 'api-test-bypass'
const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch'

const seed: SeedInput = {
  launchdarkly: {
    apiTokens: [TOKEN, BYPASS],
    approvalBypassTokens: [BYPASS],
    projects: {
      agents: {
        environments: {
          production: { sdkKey: 'sdk-test-production', approvalsRequired: true, requireComments: true },
          staging: { sdkKey: 'sdk-test-staging' },
        },
        flags: [
          { key: 'refund-agent-enabled', on: { production: true, staging: true } },
          { key: 'no-off-variation', on: { staging: true }, offVariation: null },
          { key: 'retired-agent-enabled', on: { staging: true }, archived: true },
          {
            key: 'scheduled-agent-enabled',
            on: { staging: true },
            scheduledChanges: [{ environment: 'staging', afterSeconds: 3600, instructions: ['turnFlagOn'] }],
            triggers: [{ environment: 'staging', instruction: 'turnFlagOn', integrationKey: 'datadog' }],
          },
          { key: 'soon-agent-enabled', scheduledChanges: [{ environment: 'staging', afterSeconds: 0.2, instructions: ['turnFlagOn'] }] },
          { key: 'pending-agent-enabled', on: { staging: true }, pendingApprovalRequests: ['staging'] },
        ],
      },
    },
  },
}

let sandbox: Sandbox
beforeEach(async () => {
  sandbox = await startSandbox({ seed })
})
afterEach(async () => {
  await sandbox.stop()
})

const ld = () => sandbox.state().launchdarkly as LaunchDarklyState
const on = (environment: string, flag: string) => ld().projects.agents!.environments[environment]!.flags[flag]!.on

function rest(path: string, init: RequestInit = {}, token = TOKEN): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, { ...init, headers: { Authorization: token, 'LD-API-Version': '20240415', ...init.headers } })
}

function turn(flag: string, environment: string, kind: string, options: { token?: string; comment?: string; query?: string } = {}): Promise<Response> {
  return rest(
    `/api/v2/flags/agents/${flag}${options.query ?? ''}`,
    {
      method: 'PATCH',
      headers: { 'Content-Type': SEMANTIC_PATCH },
      body: JSON.stringify({ environmentKey: environment, comment: options.comment ?? 'killswitch h-1: INC-1', instructions: [{ kind }] }),
    },
    options.token,
  )
}

describe('LaunchDarkly REST: environments', () => {
  it('lists the environments with their SDK keys and approval settings, and answers one by key', async () => {
    const list = (await (await rest('/api/v2/projects/agents/environments')).json()) as { items: Record<string, any>[]; totalCount: number }
    expect(list.totalCount).toBe(2)
    expect(list.items.map((e) => [e.key, e.apiKey, e.approvalSettings.required, e.requireComments])).toEqual([
      ['production', 'sdk-test-production', true, true],
      ['staging', 'sdk-test-staging', false, false],
    ])
    const one = await rest('/api/v2/projects/agents/environments/staging')
    expect(await one.json()).toMatchObject({ key: 'staging', apiKey: 'sdk-test-staging', mobileKey: expect.stringMatching(/^mob-/) })
    expect((await rest('/api/v2/projects/agents/environments/prod')).status).toBe(404)
    expect((await rest('/api/v2/projects/nope/environments')).status).toBe(404)
  })
})

describe('LaunchDarkly REST: what a flag serves when off', () => {
  it('leaves out an unset off variation, and archived flags from lists while still answering them by key', async () => {
    const flag = (await (await rest('/api/v2/flags/agents/no-off-variation?env=staging')).json()) as Record<string, any>
    expect(flag.environments.staging).not.toHaveProperty('offVariation')
    const list = (await (await rest('/api/v2/flags/agents?env=staging')).json()) as { items: { key: string }[] }
    expect(list.items.map((f) => f.key)).not.toContain('retired-agent-enabled')
    const archived = (await (await rest('/api/v2/flags/agents/retired-agent-enabled?env=staging')).json()) as Record<string, any>
    expect(archived).toMatchObject({ key: 'retired-agent-enabled', archived: true, environments: { staging: { archived: true } } })
  })
})

describe('LaunchDarkly REST: approvals, comments and conflicts', () => {
  it('answers 405 to a change in an environment that requires approvals, unless the token may bypass them', async () => {
    const refused = await turn('refund-agent-enabled', 'production', 'turnFlagOff')
    expect(refused.status).toBe(405)
    expect(await refused.json()).toMatchObject({ code: 'method_not_allowed' })
    expect(on('production', 'refund-agent-enabled')).toBe(true)

    const uncommented = await turn('refund-agent-enabled', 'production', 'turnFlagOff', { token: BYPASS, comment: ' ' })
    expect(uncommented.status).toBe(400)
    expect(await uncommented.json()).toMatchObject({ message: expect.stringContaining('comment is required') })

    expect((await turn('refund-agent-enabled', 'production', 'turnFlagOff', { token: BYPASS })).status).toBe(200)
    expect(on('production', 'refund-agent-enabled')).toBe(false)
  })

  it('refuses a change that conflicts with a pending approval request or scheduled change with 400, unless ignoreConflicts=true', async () => {
    for (const flag of ['pending-agent-enabled', 'scheduled-agent-enabled']) {
      const conflicting = await turn(flag, 'staging', 'turnFlagOff')
      expect(conflicting.status).toBe(400)
      expect(await conflicting.json()).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('ignoreConflicts=true') })
      expect(on('staging', flag)).toBe(true)
      expect((await turn(flag, 'staging', 'turnFlagOff', { query: '?ignoreConflicts=true' })).status).toBe(200)
      expect(on('staging', flag)).toBe(false)
    }
    // Changing nothing conflicts with nothing.
    expect((await turn('pending-agent-enabled', 'staging', 'turnFlagOff')).status).toBe(200)
  })
})

describe('LaunchDarkly REST: scheduled changes and triggers', () => {
  it("lists a flag's scheduled changes and triggers in an environment", async () => {
    const scheduled = (await (await rest('/api/v2/projects/agents/flags/scheduled-agent-enabled/environments/staging/scheduled-changes')).json()) as {
      items: Record<string, any>[]
    }
    expect(scheduled.items).toEqual([
      expect.objectContaining({ _id: expect.stringMatching(/^[0-9a-f]{24}$/), executionDate: expect.any(Number), instructions: [{ kind: 'turnFlagOn' }] }),
    ])
    expect(scheduled.items[0]!.executionDate).toBeGreaterThan(Date.now() + 3_500_000)
    const triggers = (await (await rest('/api/v2/flags/agents/scheduled-agent-enabled/triggers/staging')).json()) as { items: Record<string, any>[] }
    expect(triggers.items).toEqual([expect.objectContaining({ enabled: true, integrationKey: 'datadog', instructions: [{ kind: 'turnFlagOn' }] })])
    expect(triggers.items[0]).not.toHaveProperty('triggerURL')
    const none = (await (await rest('/api/v2/projects/agents/flags/refund-agent-enabled/environments/production/scheduled-changes')).json()) as { items: unknown[] }
    expect(none.items).toEqual([])
  })

  it('carries out a scheduled change at its date, logs it and takes it off the list', async () => {
    expect(on('staging', 'soon-agent-enabled')).toBe(false)
    await pollUntil(async () => on('staging', 'soon-agent-enabled'), { signal: AbortSignal.timeout(5_000), intervalMs: 20 })
    expect(ld().changes).toMatchObject([{ flag: 'soon-agent-enabled', environment: 'staging', on: true, instruction: expect.stringMatching(/^scheduled change .*: turnFlagOn$/) }])
    const left = (await (await rest('/api/v2/projects/agents/flags/soon-agent-enabled/environments/staging/scheduled-changes')).json()) as { items: unknown[] }
    expect(left.items).toEqual([])
  })
})
