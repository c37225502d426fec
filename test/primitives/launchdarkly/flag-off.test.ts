import { describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { createFlagOffPrimitive } from '../../../src/primitives/launchdarkly/flag-off.js'
import type { PrimitiveConfig } from '../../../src/primitives/registry.js'
import { testContext } from '../../support/primitive-context.js'
import { FakeLaunchDarkly } from './fake-launchdarkly.js'

const spec = { project: 'agents', environment: 'production', flags: ['refund-agent-enabled', 'refund-auto-approve'] }
const secrets = { LD_API_TOKEN: 'api-0000-secret-token', LD_SDK_KEY_PRODUCTION: 'sdk-0000-secret-key' }

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
    expect(targets[0]!.locator).toEqual({ project: 'agents', environment: 'production', key: 'refund-agent-enabled' })
    expect(targets.map((t) => t.observed)).toEqual([{ on: true }, { on: false }])
    expect(ld.calls).toEqual([{ call: 'LIST', flag: 'agents/production' }])
    expect([...ctx.paced]).toEqual([['launchdarkly-read:https://app.launchdarkly.com', 1]])
    expect(ld.tokens).toEqual(['api-0000-secret-token'])
    // Loading the SDK would delay the first patch: it starts after it.
    expect(ld.evaluators).toEqual([])
    await primitive.apply(targets[0]!, { on: true }, ctx)
    expect(ld.evaluators).toEqual([
      { environment: 'production', sdkKey: 'sdk-0000-secret-key', endpoints: { baseUri: undefined, streamUri: undefined, eventsUri: undefined }, closed: false },
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
    expect([...ctx.paced.keys()]).toEqual(['launchdarkly-read:https://app.eu.launchdarkly.com', 'launchdarkly-patch:https://app.eu.launchdarkly.com'])
  })

  it('lists every unknown flag key in one error', async () => {
    const { primitive } = setup()

    const error = await rejection(primitive.resolve({ ...spec, flags: ['refund-agent-enabled', 'nope', 'also-nope'] }, testContext()))

    expect(error.code).toBe('LaunchDarklyFlagNotFound')
    expect(error.message).toContain('nope, also-nope')
    expect(error.message).toContain('project agents')
  })

  it('names the missing token variable without printing any secret', async () => {
    const { primitive } = setup({
      credentials: { launchdarkly: { apiTokenEnv: 'BREAKGLASS_LD_TOKEN' } },
      env: { LD_SDK_KEY_PRODUCTION: 'sdk-0000-secret-key' },
    })

    const error = await rejection(primitive.resolve(spec, testContext()))

    expect(error.code).toBe('LaunchDarklyTokenMissing')
    expect(`${error.message} ${error.hint}`).toContain('BREAKGLASS_LD_TOKEN')
    expect(`${error.message} ${error.hint}`).not.toContain('sdk-0000-secret-key')
  })

  it('fails at resolve, naming the variable, when the environment has no SDK key', async () => {
    const { primitive } = setup({ credentials: {}, env: { LD_API_TOKEN: 'api-0000-secret-token' } })

    const error = await rejection(primitive.resolve(spec, testContext()))

    expect(error.code).toBe('LaunchDarklySdkKeyMissing')
    expect(error.message).toContain('LD_SDK_KEY_PRODUCTION')
  })

  it('reads the SDK key from the per-environment variable and refuses an environment the record omits', async () => {
    const env = { LD_API_TOKEN: 'api-0000-secret-token', PROD_SDK: 'sdk-prod' }
    const { ld, primitive } = setup({ credentials: { launchdarkly: { apiTokenEnv: 'LD_API_TOKEN', sdkKeyEnv: { production: 'PROD_SDK' } } }, env })

    const [target] = await primitive.resolve(spec, testContext())
    await primitive.apply(target!, { on: true }, testContext())
    const error = await rejection(primitive.resolve({ ...spec, environment: 'staging' }, testContext()))

    expect(ld.evaluators.map((e) => e.sdkKey)).toEqual(['sdk-prod'])
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

    expect(ld.calls).toEqual([{ call: 'turnFlagOff', flag: 'refund-agent-enabled', comment: 'killswitch halt-42: INC-4411 refund loop' }])
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
