/**
 * End to end: the flag-off primitive against the sandbox's LaunchDarkly plane, REST through `fetch` and
 * verification through the real server SDK streaming the environment. The realistic profile delays the stream
 * push after the REST change, as LaunchDarkly does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrimitiveError, type TargetState } from '../../../src/core/primitive.js'
import { pollUntil } from '../../../src/core/wait.js'
import { createFlagOffPrimitive } from '../../../src/primitives/launchdarkly/flag-off.js'
import type { LaunchDarklyState } from '../../../src/sandbox/launchdarkly/index.js'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { testContext } from '../../support/primitive-context.js'

const seed: SeedInput = {
  launchdarkly: {
    apiTokens: ['api-sandbox-breakglass'],
    projects: {
      agents: {
        environments: { production: { sdkKey: 'sdk-sandbox-production' }, staging: { sdkKey: 'sdk-sandbox-staging' } },
        flags: [
          { key: 'refund-agent-enabled', on: { production: true, staging: true } },
          { key: 'refund-auto-approve', on: { production: false } },
        ],
      },
    },
  },
}

const spec = { project: 'agents', environment: 'production', flags: ['refund-agent-enabled', 'refund-auto-approve'] }

describe('flagOff against the sandbox', () => {
  let sandbox: Sandbox
  const ld = () => sandbox.state().launchdarkly as LaunchDarklyState
  const on = (environment: string, flag: string) => ld().projects.agents!.environments[environment]!.flags[flag]!.on

  beforeAll(async () => {
    sandbox = await startSandbox({ seed, profile: 'realistic' })
  })
  afterAll(async () => {
    await sandbox?.stop()
  })

  it('turns flags off (one already off), verifies through REST and the SDK stream, and restores only the one that was on', async () => {
    const flags = createFlagOffPrimitive({ credentials: {}, env: sandbox.env })
    const targets = await flags.resolve(spec, testContext())
    const snapshots = new Map<string, TargetState>()
    for (const target of targets) snapshots.set(target.id, await flags.read(target, testContext()))
    expect([...snapshots.values()]).toEqual([{ on: true }, { on: false }])

    const halt = testContext({ invocationId: 'halt-e2e-1', reason: 'INC-4411 refund loop' })
    for (const target of targets) await flags.apply(target, snapshots.get(target.id)!, halt)
    await Promise.all(targets.map((target) => flags.verifyHalted(target, halt)))

    expect(on('production', 'refund-agent-enabled')).toBe(false)
    expect(on('production', 'refund-auto-approve')).toBe(false)
    expect(on('staging', 'refund-agent-enabled')).toBe(true)
    expect(ld().openStreams).toBe(1)
    // LaunchDarkly records no change for a flag that was already off; only the one that was on changed.
    expect(ld().changes.map((c) => [c.flag, c.environment, c.instruction, c.comment])).toEqual([
      ['refund-agent-enabled', 'production', 'turnFlagOff', 'killswitch halt-e2e-1: INC-4411 refund loop'],
    ])

    const restore = testContext({ invocationId: 'restore-e2e-1', reason: 'fixed in v2.3.1' })
    for (const target of targets) await flags.restore(target, snapshots.get(target.id)!, restore)
    for (const target of targets) await flags.verifyRestored(target, snapshots.get(target.id)!, restore)

    expect(on('production', 'refund-agent-enabled')).toBe(true)
    expect(on('production', 'refund-auto-approve')).toBe(false)
    const restoreChanges = ld().changes.filter((c) => c.comment.startsWith('killswitch restore-e2e-1'))
    expect(restoreChanges.map((c) => [c.flag, c.instruction])).toEqual([['refund-agent-enabled', 'turnFlagOn']])

    await flags.close?.()
    await pollUntil(async () => ld().openStreams === 0, { signal: AbortSignal.timeout(10_000) })
  })

  it('returns an unknown flag key as a missing target beside the others', async () => {
    const flags = createFlagOffPrimitive({ credentials: {}, env: sandbox.env })

    const targets = await flags.resolve({ ...spec, flags: ['refund-agent-enabled', 'ghost-flag'] }, testContext())
    await flags.close?.()

    expect(targets.map((t) => [t.label, t.missing?.code])).toEqual([
      ['refund-agent-enabled', undefined],
      ['ghost-flag', 'LaunchDarklyFlagNotFound'],
    ])
  })

  it("fails resolution when the SDK key is another environment's, without a request that changes anything", async () => {
    const flags = createFlagOffPrimitive({ credentials: {}, env: { ...sandbox.env, LD_SDK_KEY_PRODUCTION: sandbox.env.LD_SDK_KEY_STAGING! } })
    const changes = ld().changes.length

    const error = (await flags.resolve(spec, testContext()).catch((e: unknown) => e)) as PrimitiveError
    await flags.close?.()

    expect(error.code).toBe('LaunchDarklySdkKeyWrongEnvironment')
    expect(error.message).toContain('environment staging, not of production')
    expect(error.message).not.toContain(sandbox.env.LD_SDK_KEY_STAGING!)
    expect(ld().changes).toHaveLength(changes)
  })

  it('refuses a token the sandbox does not accept, naming the variable and not the token', async () => {
    const flags = createFlagOffPrimitive({ credentials: {}, env: { ...sandbox.env, LD_API_TOKEN: 'api-wrong-token' } })

    const error = (await flags.resolve(spec, testContext()).catch((e: unknown) => e)) as PrimitiveError
    await flags.close?.()

    expect(error.code).toBe('LaunchDarklyUnauthorized')
    expect(error.hint).toContain('LD_API_TOKEN')
    expect(`${error.message} ${error.hint}`).not.toContain('api-wrong-token')
  })

  it('does not verify a halt on REST alone: an SDK client that cannot stream fails verification', async () => {
    const flags = createFlagOffPrimitive({ credentials: {}, env: { ...sandbox.env, LD_SDK_KEY_PRODUCTION: 'sdk-not-this-environment' } })
    const [target] = await flags.resolve({ ...spec, flags: ['refund-agent-enabled'] }, testContext())
    const halt = testContext()

    await flags.apply(target!, { on: true }, halt)
    const error = (await flags.verifyHalted(target!, halt).catch((e: unknown) => e)) as PrimitiveError
    await flags.close?.()
    await flags.restore(target!, { on: true }, testContext())

    expect(error).toBeInstanceOf(PrimitiveError)
    expect(error.code).toBe('LaunchDarklySdkNotInitialized')
    expect(error.message).not.toContain('sdk-not-this-environment')
  })
})

describe('flagOff against the sandbox: approvals, conflicts and what off serves', () => {
  const approvalsSeed: SeedInput = {
    launchdarkly: {
      apiTokens: ['api-sandbox-breakglass', 'api-sandbox-bypass'],
      approvalBypassTokens: ['api-sandbox-bypass'],
      projects: {
        agents: {
          environments: { production: { sdkKey: 'sdk-sandbox-production', approvalsRequired: true, requireComments: true } },
          flags: [
            { key: 'refund-agent-enabled', on: { production: true }, scheduledChanges: [{ environment: 'production', afterSeconds: 3600, instructions: ['turnFlagOn'] }] },
            { key: 'refund-agent-mode', on: { production: true }, variations: ['autonomous', 'stopped'], offVariation: 1, pendingApprovalRequests: ['production'] },
          ],
        },
      },
    },
  }
  let sandbox: Sandbox
  beforeAll(async () => {
    sandbox = await startSandbox({ seed: approvalsSeed })
  })
  afterAll(async () => {
    await sandbox?.stop()
  })

  it('fails a turnFlagOff answered 405 with the way out, and turns flags off through pending and scheduled changes with a token that may bypass approvals', async () => {
    const warnings: string[] = []
    const ctx = { ...testContext(), warn: (m: string) => void warnings.push(m) }
    const refused = createFlagOffPrimitive({ credentials: {}, env: sandbox.env })
    const [flag] = await refused.resolve({ ...spec, flags: ['refund-agent-enabled'] }, ctx)
    expect(warnings.join('\n')).toContain('requires approvals for flag changes')
    expect(warnings.join('\n')).toContain('will turnFlagOn, undoing a halt')
    const error = (await refused.apply(flag!, flag!.observed!, ctx).catch((e: unknown) => e)) as PrimitiveError
    await refused.close?.()
    expect(error.code).toBe('LaunchDarklyApprovalRequired')
    expect(error.hint).toContain('bypassRequiredApproval')

    const bypassing = createFlagOffPrimitive({ credentials: {}, env: { ...sandbox.env, LD_API_TOKEN: 'api-sandbox-bypass' } })
    const targets = await bypassing.resolve({ ...spec, flags: ['refund-agent-enabled', 'refund-agent-mode'], haltValue: 'stopped' }, testContext())
    const [boolean, multivariate] = targets
    // A boolean flag serving false cannot stop agents whose halt value is "stopped": refused, untouched.
    expect(boolean!.observed).toMatchObject({ unfit: { fix: expect.stringContaining('no variation of refund-agent-enabled has the value "stopped"') } })
    await bypassing.apply(multivariate!, multivariate!.observed!, testContext())
    await bypassing.verifyHalted(multivariate!, testContext())
    await bypassing.close?.()
    const state = sandbox.state().launchdarkly as LaunchDarklyState
    expect(state.projects.agents!.environments.production!.flags).toMatchObject({ 'refund-agent-enabled': { on: true }, 'refund-agent-mode': { on: false } })
  })
})
