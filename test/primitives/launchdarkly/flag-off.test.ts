import { describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { createFlagOffPrimitive } from '../../../src/primitives/launchdarkly/flag-off.js'
import type { PrimitiveConfig } from '../../../src/primitives/registry.js'
import { testContext } from '../../support/primitive-context.js'
import { FakeLaunchDarkly } from './fake-launchdarkly.js'

const spec = { project: 'agents', environment: 'production', flags: ['refund-agent-enabled', 'refund-auto-approve'] }
const secrets = { LD_API_TOKEN: 'api-0000-secret-token', LD_SDK_KEY_PRODUCTION: 'sdk-0000-production' }

function setup(config: PrimitiveConfig = { credentials: {}, env: { ...secrets } }) {
  const ld = new FakeLaunchDarkly()
  ld.set('agents', 'production', 'refund-agent-enabled', true)
  ld.set('agents', 'production', 'refund-auto-approve', false)
  const primitive = createFlagOffPrimitive(config, {
    restClient: (_settings, token) => {
      ld.tokens.push(token)
      return ld
    },
    startEvaluator: ld.startEvaluator,
  })
  return { ld, primitive }
}

async function rejection(promise: Promise<unknown>): Promise<PrimitiveError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(PrimitiveError)
  return error as PrimitiveError
}

describe('flagOff resolve', () => {
  it('reads every flag with one list request, names targets by project, environment and key, and starts the SDK client once the first patch is answered', async () => {
    const { ld, primitive } = setup()
    const ctx = testContext()

    const targets = await primitive.resolve(spec, ctx)

    expect(targets.map((t) => t.id)).toEqual([
      'flag:agents:production:refund-agent-enabled',
      'flag:agents:production:refund-auto-approve',
    ])
    expect(targets[0]!.locator).toEqual({ project: 'agents', environment: 'production', key: 'refund-agent-enabled', haltValue: 'false' })
    expect(targets.map((t) => t.observed)).toEqual([{ on: true }, { on: false }])
    // One list for all the flags; beside it the project's environments (the SDK key's), and per flag its scheduled
    // changes and triggers.
    expect(ld.calls.map((c) => `${c.call} ${c.flag}`).sort()).toEqual([
      'ENVIRONMENTS agents',
      'LIST agents/production',
      'SCHEDULED refund-agent-enabled',
      'SCHEDULED refund-auto-approve',
      'TRIGGERS refund-agent-enabled',
      'TRIGGERS refund-auto-approve',
    ])
    expect(Object.fromEntries(ctx.paced)).toEqual({
      'launchdarkly-read:https://app.launchdarkly.com': 1,
      'launchdarkly-environments:https://app.launchdarkly.com': 1,
      'launchdarkly-scheduled-changes:https://app.launchdarkly.com': 2,
      'launchdarkly-triggers:https://app.launchdarkly.com': 2,
    })
    expect(ld.tokens).toEqual(['api-0000-secret-token'])
    // Loading the SDK would delay the first patch: it starts after it.
    expect(ld.evaluators).toEqual([])
    await primitive.apply(targets[0]!, { on: true }, ctx)
    expect(ld.evaluators).toEqual([
      { environment: 'production', sdkKey: 'sdk-0000-production', endpoints: { baseUri: undefined, streamUri: undefined, eventsUri: undefined }, closed: false },
    ])
  })

  it('takes endpoints from KILLSWITCH_LAUNCHDARKLY_* before the runbook credentials', async () => {
    const { ld, primitive } = setup({
      credentials: { launchdarkly: { apiTokenEnv: 'LD_API_TOKEN', baseUri: 'https://app.eu.launchdarkly.com', streamUri: 'https://stream.eu.launchdarkly.com' } },
      env: { ...secrets, KILLSWITCH_LAUNCHDARKLY_STREAM_URI: 'http://127.0.0.1:9', KILLSWITCH_LAUNCHDARKLY_EVENTS_URI: 'http://127.0.0.1:9' },
    })
    const ctx = testContext()

    const [target] = await primitive.resolve(spec, ctx)
    await primitive.apply(target!, { on: true }, ctx)

    expect(ld.evaluators[0]!.endpoints).toEqual({
      baseUri: 'https://app.eu.launchdarkly.com',
      streamUri: 'http://127.0.0.1:9',
      eventsUri: 'http://127.0.0.1:9',
    })
    expect([...ctx.paced.keys()].sort()).toEqual(
      ['environments', 'patch', 'read', 'scheduled-changes', 'triggers'].map((route) => `launchdarkly-${route}:https://app.eu.launchdarkly.com`),
    )
  })

  it('returns an unknown or archived key as a missing target and the others as usual', async () => {
    const { primitive } = setup()

    const targets = await primitive.resolve({ ...spec, flags: ['refund-agent-enabled', 'nope'] }, testContext())

    expect(targets[0]).toMatchObject({ id: 'flag:agents:production:refund-agent-enabled', observed: { on: true } })
    expect(targets[0]!.missing).toBeUndefined()
    expect(targets[1]).toMatchObject({ id: 'flag:agents:production:nope', label: 'nope', missing: { code: 'LaunchDarklyFlagNotFound' } })
    expect(targets[1]!.missing!.message).toContain('project agents')
    expect(targets[1]!.missing!.message).toContain('archived')
    expect(targets[1]!.missing!.hint).toContain('flagOff.flags')
    expect(targets[1]!.observed).toBeUndefined()
  })

  it('names the missing token variable without printing any secret', async () => {
    const { primitive } = setup({
      credentials: { launchdarkly: { apiTokenEnv: 'BREAKGLASS_LD_TOKEN' } },
      env: { LD_SDK_KEY_PRODUCTION: 'sdk-0000-production' },
    })

    const error = await rejection(primitive.resolve(spec, testContext()))

    expect(error.code).toBe('LaunchDarklyTokenMissing')
    expect(`${error.message} ${error.hint}`).toContain('BREAKGLASS_LD_TOKEN')
    expect(`${error.message} ${error.hint}`).not.toContain('sdk-0000-production')
  })

  it('fails at resolve, naming the variable, when the environment has no SDK key', async () => {
    const { primitive } = setup({ credentials: {}, env: { LD_API_TOKEN: 'api-0000-secret-token' } })

    const error = await rejection(primitive.resolve(spec, testContext()))

    expect(error.code).toBe('LaunchDarklySdkKeyMissing')
    expect(error.message).toContain('LD_SDK_KEY_PRODUCTION')
  })

  it('reads the SDK key from the per-environment variable and refuses an environment the record omits', async () => {
    const env = { LD_API_TOKEN: 'api-0000-secret-token', PROD_SDK: 'sdk-0000-production' }
    const { ld, primitive } = setup({ credentials: { launchdarkly: { apiTokenEnv: 'LD_API_TOKEN', sdkKeyEnv: { production: 'PROD_SDK' } } }, env })

    const [target] = await primitive.resolve(spec, testContext())
    await primitive.apply(target!, { on: true }, testContext())
    const error = await rejection(primitive.resolve({ ...spec, environment: 'staging' }, testContext()))

    expect(ld.evaluators.map((e) => e.sdkKey)).toEqual(['sdk-0000-production'])
    expect(error.code).toBe('LaunchDarklySdkKeyMissing')
    expect(error.message).toContain('staging')
  })
})

describe('flagOff halt and restore', () => {
  async function resolved() {
    const s = setup()
    const [on, off] = await s.primitive.resolve(spec, testContext())
    s.ld.calls.length = 0
    return { ...s, on: on!, off: off! }
  }

  it('reads state as on/off and judges halted by off', async () => {
    const { primitive, on, off } = await resolved()

    expect(await primitive.read(on, testContext())).toEqual({ on: true })
    expect(await primitive.read(off, testContext())).toEqual({ on: false })
    expect(primitive.isHalted({ on: false })).toBe(true)
    expect(primitive.isHalted({ on: true })).toBe(false)
    expect(primitive.sameState({ on: true }, { on: false })).toBe(false)
    expect(primitive.describe({ on: true })).toBe('on')
  })

  it('turns the flag off with the invocation and reason as comment', async () => {
    const { ld, primitive, on } = await resolved()

    await primitive.apply(on, { on: true }, testContext({ invocationId: 'halt-42', reason: 'INC-4411 refund loop' }))

    expect(ld.calls).toEqual([{ call: 'turnFlagOff', flag: 'refund-agent-enabled', comment: 'killswitch halt-42: INC-4411 refund loop', ignoreConflicts: true }])
    expect(ld.on('agents', 'production', 'refund-agent-enabled')).toBe(false)
  })

  it('verifies halted only when the SDK stream evaluates the flag with reason OFF', async () => {
    const { ld, primitive, on } = await resolved()
    ld.set('agents', 'production', 'refund-agent-enabled', true)
    await primitive.apply(on, { on: true }, testContext())

    let verified = false
    const firstEvaluation = ld.nextEvaluation()
    const verification = primitive.verifyHalted(on, testContext()).then(() => {
      verified = true
    })
    await firstEvaluation
    expect(verified).toBe(false)

    ld.propagate()
    await verification

    expect(verified).toBe(true)
    expect(ld.calls.map((c) => c.call)).toEqual(['turnFlagOff', 'LIST'])
  })

  it('restores a flag that was on with turnFlagOn and verifies it through REST and the SDK', async () => {
    const { ld, primitive, on } = await resolved()
    await primitive.apply(on, { on: true }, testContext())
    ld.propagate()
    ld.calls.length = 0

    await primitive.restore(on, { on: true }, testContext({ invocationId: 'restore-7', reason: 'fixed in v2.3.1' }))
    ld.propagate()
    await primitive.verifyRestored(on, { on: true }, testContext())

    expect(ld.calls).toEqual([
      { call: 'turnFlagOn', flag: 'refund-agent-enabled', comment: 'killswitch restore-7: fixed in v2.3.1' },
      { call: 'LIST', flag: 'agents/production' },
    ])
    expect(ld.on('agents', 'production', 'refund-agent-enabled')).toBe(true)
  })

  it('leaves a flag that was already off untouched on restore: no request at all', async () => {
    const { ld, primitive, off } = await resolved()
    await primitive.apply(off, { on: false }, testContext())
    ld.calls.length = 0

    await primitive.restore(off, { on: false }, testContext())
    await primitive.verifyRestored(off, { on: false }, testContext())

    expect(ld.calls).toEqual([{ call: 'LIST', flag: 'agents/production' }])
    expect(ld.on('agents', 'production', 'refund-auto-approve')).toBe(false)
  })

  it('rejects halt verification when the operation is aborted before the SDK sees the change', async () => {
    const { ld, primitive, on } = await resolved()
    await primitive.apply(on, { on: true }, testContext())
    const ctx = testContext()

    const firstEvaluation = ld.nextEvaluation()
    const verification = primitive.verifyHalted(on, ctx)
    await firstEvaluation
    ctx.abort(new Error('time-to-halt budget exceeded'))

    await expect(verification).rejects.toThrow('time-to-halt budget exceeded')
  })

  it('estimates the patch in the PATCH bucket, a batched read-back in the read bucket, and a stream push to settle', async () => {
    const { primitive, on } = await resolved()

    expect(primitive.estimate(on, { on: true })).toEqual({
      calls: [
        { key: 'launchdarkly-patch:https://app.launchdarkly.com', ratePerSecond: 10, burst: 100 },
        // One list page answers up to 100 read-backs.
        { key: 'launchdarkly-read:https://app.launchdarkly.com', ratePerSecond: 1000, burst: 100 },
      ],
      settleMs: 200,
    })
  })

  it('paces patches and reads in separate per-route buckets', async () => {
    const { primitive, on } = await resolved()
    const ctx = testContext()

    await primitive.apply(on, { on: true }, ctx)
    await primitive.read(on, ctx)

    expect(ctx.buckets).toEqual([
      { key: 'launchdarkly-patch:https://app.launchdarkly.com', ratePerSecond: 10, burst: 100 },
      { key: 'launchdarkly-read:https://app.launchdarkly.com', ratePerSecond: 10, burst: 100 },
    ])
  })

  it('verifies many halts with one list request', async () => {
    const ld = new FakeLaunchDarkly()
    const keys = Array.from({ length: 50 }, (_, i) => `agent-${i}-enabled`)
    for (const key of keys) ld.set('agents', 'production', key, true)
    const primitive = createFlagOffPrimitive({ credentials: {}, env: { ...secrets } }, { restClient: () => ld, startEvaluator: ld.startEvaluator })
    const targets = await primitive.resolve({ ...spec, flags: keys }, testContext())
    for (const target of targets) await primitive.apply(target, target.observed!, testContext())
    ld.propagate()
    ld.calls.length = 0

    await Promise.all(targets.map((target) => primitive.verifyHalted(target, testContext())))

    expect(ld.calls).toEqual([{ call: 'LIST', flag: 'agents/production' }])
  })

  it('reads back again, batched, while the REST API still shows the flag on', async () => {
    const { ld, primitive, on, off } = await resolved()
    ld.propagate()
    // Neither flag has been turned off yet: the first read-back sees the one that was on still on.
    const verifications = Promise.all([primitive.verifyHalted(on, testContext()), primitive.verifyHalted(off, testContext())])
    await ld.nextList()
    await primitive.apply(on, { on: true }, testContext())
    ld.propagate()
    await verifications

    expect(ld.calls.map((c) => c.call)).toEqual(['LIST', 'turnFlagOff', 'LIST'])
  })

  it('closes every SDK client it started', async () => {
    const { ld, primitive, on } = await resolved()
    await primitive.apply(on, { on: true }, testContext())

    await primitive.close?.()

    expect(ld.evaluators.map((e) => e.closed)).toEqual([true])
  })
})

/** A test context that keeps what the primitive warns about. */
function warningContext() {
  const warnings: string[] = []
  const ctx = testContext()
  return { ctx: { ...ctx, warn: (message: string) => void warnings.push(message) }, warnings }
}

describe('flagOff: off must stop the agents', () => {
  it('refuses, before any change, a flag whose off variation serves true: a failed apply that names the fix, never halted', async () => {
    const { ld, primitive } = setup()
    ld.set('agents', 'production', 'refund-agent-enabled', true, { offVariation: 0 })
    const { ctx, warnings } = warningContext()

    const [target] = await primitive.resolve({ ...spec, flags: ['refund-agent-enabled'] }, ctx)
    ld.calls.length = 0

    expect(target!.observed).toMatchObject({ on: true, unfit: { reason: expect.stringContaining('serves true when off, not the halt value false') } })
    expect(warnings.join('\n')).toContain('set the off variation of refund-agent-enabled in production to false')
    expect(primitive.isHalted(target!.observed!)).toBe(false)
    expect(primitive.describe(target!.observed!)).toMatch(/^on \(off does not stop the agents: /)
    const error = await rejection(primitive.apply(target!, target!.observed!, ctx))
    expect(error.code).toBe('LaunchDarklyOffVariationUnfit')
    expect(error.hint).toContain('set the off variation of refund-agent-enabled in production to false')
    expect(ld.calls).toEqual([])
    expect(ld.on('agents', 'production', 'refund-agent-enabled')).toBe(true)
  })

  it('does not count a flag already off as halted when it has no off variation: each agent would get its own fallback', async () => {
    const { ld, primitive } = setup()
    ld.set('agents', 'production', 'refund-auto-approve', false, { offVariation: null })

    const [target] = await primitive.resolve({ ...spec, flags: ['refund-auto-approve'] }, testContext())

    expect(target!.observed).toMatchObject({ on: false, unfit: { reason: expect.stringContaining('has no off variation') } })
    expect(primitive.isHalted(target!.observed!)).toBe(false)
    expect(primitive.sameState(target!.observed!, { on: false })).toBe(true)
    await rejection(primitive.apply(target!, target!.observed!, testContext()))
    expect(ld.calls.filter((c) => c.call === 'turnFlagOff')).toEqual([])
  })

  it('requires haltValue for a multivariate flag, and halts one whose off variation serves it', async () => {
    const { ld, primitive } = setup()
    ld.set('agents', 'production', 'refund-agent-mode', true, { variations: ['autonomous', 'supervised', 'stopped'], offVariation: 2 })

    const [undeclared] = await primitive.resolve({ ...spec, flags: ['refund-agent-mode'] }, testContext())
    expect(undeclared!.observed).toMatchObject({ unfit: { reason: expect.stringContaining('multivariate'), fix: expect.stringContaining('haltValue') } })
    expect(undeclared!.locator.haltValue).toBeUndefined()

    const [declared] = await primitive.resolve({ ...spec, flags: ['refund-agent-mode'], haltValue: 'stopped' }, testContext())
    expect(declared!.observed).toEqual({ on: true })
    expect(declared!.locator.haltValue).toBe('"stopped"')
    await primitive.apply(declared!, declared!.observed!, testContext())
    ld.propagate()
    await primitive.verifyHalted(declared!, testContext())

    const [wrong] = await primitive.resolve({ ...spec, flags: ['refund-agent-mode'], haltValue: 'halted' }, testContext())
    expect((wrong!.observed!.unfit as { fix: string }).fix).toContain('no variation of refund-agent-mode has the value "halted"')
  })

  it('fails verification at once when the SDK has the flag off but serves another value than the halt value', async () => {
    const { ld, primitive } = setup()
    const [target] = await primitive.resolve({ ...spec, flags: ['refund-agent-enabled'] }, testContext())
    await primitive.apply(target!, target!.observed!, testContext())
    ld.propagate()
    // Someone changes the off variation after resolution; the REST read-back catches it first ...
    ld.setUnstreamed('agents', 'production', 'refund-agent-enabled', false, { offVariation: 0 })
    const caughtByRest = await rejection(primitive.verifyHalted(target!, testContext()))
    expect(caughtByRest.code).toBe('LaunchDarklyOffVariationUnfit')
    // ... and where only the SDK has it (its copy serves true while off), the SDK check does, without waiting.
    ld.set('agents', 'production', 'refund-agent-enabled', false, { offVariation: 0 })
    ld.setUnstreamed('agents', 'production', 'refund-agent-enabled', false, { offVariation: 1 })
    const caughtBySdk = await rejection(primitive.verifyHalted(target!, testContext()))
    expect(caughtBySdk.code).toBe('LaunchDarklyOffVariationUnfit')
    expect(caughtBySdk.message).toContain('serves true, not the halt value false')
  })

  it('reads a journaled target without a halt value as a boolean flag that stops on false', async () => {
    const { primitive } = setup()
    const legacy = { id: 'flag:agents:production:refund-agent-enabled', kind: 'flagOff' as const, label: 'refund-agent-enabled', locator: { project: 'agents', environment: 'production', key: 'refund-agent-enabled' } }

    expect(await primitive.read(legacy, testContext())).toEqual({ on: true })
    expect(primitive.isHalted({ on: false })).toBe(true)
  })
})

describe('flagOff: the SDK key must be the environment’s', () => {
  it('fails resolution, naming the variable and never the key, when the key is another environment’s', async () => {
    const { ld, primitive } = setup({ credentials: {}, env: { ...secrets, LD_SDK_KEY_PRODUCTION: 'sdk-0000-staging' } })
    ld.set('agents', 'staging', 'refund-agent-enabled', true)

    const error = await rejection(primitive.resolve(spec, testContext()))

    expect(error.code).toBe('LaunchDarklySdkKeyWrongEnvironment')
    expect(error.message).toContain('LD_SDK_KEY_PRODUCTION holds the server SDK key of environment staging, not of production')
    expect(`${error.message} ${error.hint}`).not.toContain('sdk-0000-staging')
    expect(ld.evaluators).toEqual([])
  })

  it('warns, and goes on, when the key matches no environment or LaunchDarkly hides the keys; warns of required approvals', async () => {
    const { ld, primitive } = setup({ credentials: {}, env: { ...secrets, LD_SDK_KEY_PRODUCTION: 'sdk-0000-rotated' } })
    const unknown = warningContext()
    await primitive.resolve(spec, unknown.ctx)
    expect(unknown.warnings.join('\n')).toContain('LD_SDK_KEY_PRODUCTION is not the SDK key LaunchDarkly lists for environment production')

    // Checked once per invocation: a second step of the same environment asks and warns no more.
    const again = warningContext()
    await primitive.resolve(spec, again.ctx)
    expect(again.warnings).toEqual([])
    expect(ld.calls.filter((c) => c.call === 'ENVIRONMENTS')).toHaveLength(1)

    const next = setup({ credentials: {}, env: { ...secrets, LD_SDK_KEY_PRODUCTION: 'sdk-0000-rotated' } })
    next.ld.environments.set('agents', [{ key: 'production', approvalsRequired: true }])
    const hidden = warningContext()
    await next.primitive.resolve(spec, hidden.ctx)
    expect(hidden.warnings.join('\n')).toContain('could not check that LD_SDK_KEY_PRODUCTION holds the SDK key of environment production')
    expect(hidden.warnings.join('\n')).toContain('requires approvals for flag changes')
    expect(hidden.warnings.join('\n')).not.toContain('sdk-0000-rotated')
  })

  it('fails resolution when the project has no such environment', async () => {
    const { primitive } = setup({ credentials: {}, env: { ...secrets, LD_SDK_KEY_PROD: 'sdk-0000-prod' } })

    const error = await rejection(primitive.resolve({ ...spec, environment: 'prod' }, testContext()))

    expect(error.code).toBe('LaunchDarklyEnvironmentNotFound')
    expect(error.message).toContain('has no environment prod (it has production)')
  })
})

describe('flagOff: what could undo a halt later', () => {
  it('warns of scheduled changes and enabled triggers that would turn a flag back on, and of lookups that failed', async () => {
    const { ld, primitive } = setup()
    ld.scheduledChanges.set('agents/production/refund-agent-enabled', [
      { id: 'sc-on', executionDate: Date.UTC(2026, 11, 5, 14), instructions: ['turnFlagOn'] },
      { id: 'sc-off', executionDate: Date.UTC(2026, 11, 6), instructions: ['turnFlagOff'] },
    ])
    ld.triggers.set('agents/production/refund-auto-approve', [
      { id: 'tr-on', enabled: true, integrationKey: 'datadog', instructions: ['turnFlagOn'] },
      { id: 'tr-disabled', enabled: false, integrationKey: 'datadog', instructions: ['turnFlagOn'] },
    ])
    const { ctx, warnings } = warningContext()

    await primitive.resolve(spec, ctx)

    expect(warnings).toHaveLength(2)
    expect(warnings).toContainEqual(expect.stringContaining('flag refund-agent-enabled in production: a scheduled change (sc-on) on 2026-12-05T14:00:00.000Z will turnFlagOn'))
    expect(warnings).toContainEqual(expect.stringContaining('flag refund-auto-approve in production: trigger datadog (tr-on) is enabled and turns the flag on'))

    ld.lookupFailure = new PrimitiveError('LaunchDarkly answered 403 to list the scheduled changes', undefined, 'LaunchDarklyForbidden')
    const failing = warningContext()
    await primitive.resolve(spec, failing.ctx)
    expect(failing.warnings).toEqual([
      expect.stringMatching(/^could not check 2 flag\(s\) for scheduled changes that would undo a halt \(refund-agent-enabled: LaunchDarkly answered 403/),
      expect.stringMatching(/^could not check 2 flag\(s\) for triggers/),
    ])
  })

  it('does not look up scheduled changes and triggers for a step of more than 100 flags, and says so', async () => {
    const ld = new FakeLaunchDarkly()
    const keys = Array.from({ length: 101 }, (_, i) => `agent-${i}-enabled`)
    for (const key of keys) ld.set('agents', 'production', key, true)
    const primitive = createFlagOffPrimitive({ credentials: {}, env: { ...secrets } }, { restClient: () => ld, startEvaluator: ld.startEvaluator })
    const { ctx, warnings } = warningContext()

    await primitive.resolve({ ...spec, flags: keys }, ctx)

    expect(ld.calls.filter((c) => c.call === 'SCHEDULED' || c.call === 'TRIGGERS')).toEqual([])
    expect(warnings).toEqual([expect.stringContaining('101 flags in one flagOff step: their scheduled changes and triggers')])
  })
})
