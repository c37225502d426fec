/** End to end under throttling: a quarter of LaunchDarkly's answers are 429 with Retry-After, and halt and restore still complete. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createFlagOffPrimitive } from '../../../src/primitives/launchdarkly/flag-off.js'
import type { LaunchDarklyState } from '../../../src/sandbox/launchdarkly/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { testContext } from '../../support/primitive-context.js'

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({
    seed: {
      launchdarkly: {
        projects: { agents: { environments: { production: { sdkKey: 'sdk-prod' } }, flags: [{ key: 'refund-agent-enabled', on: { production: true } }] } },
      },
    },
    overrides: { apis: { launchdarkly: { throttleRate: 0.25 } } },
  })
})
afterAll(async () => {
  await sandbox?.stop()
})

it('halts and restores through 429 answers', async () => {
  const flags = createFlagOffPrimitive({ credentials: {}, env: sandbox.env })
  const on = () => (sandbox.state().launchdarkly as LaunchDarklyState).projects.agents!.environments.production!.flags['refund-agent-enabled']!.on
  const [target] = await flags.resolve({ project: 'agents', environment: 'production', flags: ['refund-agent-enabled'] }, testContext())
  const before = await flags.read(target!, testContext())

  await flags.apply(target!, before, testContext())
  await flags.verifyHalted(target!, testContext())
  expect(on()).toBe(false)

  await flags.restore(target!, before, testContext())
  await flags.verifyRestored(target!, before, testContext())
  expect(on()).toBe(true)
  await flags.close?.()
})
