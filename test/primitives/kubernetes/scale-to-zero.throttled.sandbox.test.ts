/** End to end under throttling: a quarter of the API server's answers are 429 with Retry-After, and the halt still completes. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ScaleToZeroSpec } from '../../../src/core/runbook/schema.js'
import { createScaleToZeroPrimitive } from '../../../src/primitives/kubernetes/scale-to-zero.js'
import type { NamespaceState } from '../../../src/sandbox/kubernetes/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { testContext } from '../../support/primitive-context.js'

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({
    seed: { kubernetes: { namespaces: { agents: { deployments: [{ name: 'refund-api', labels: { class: 'refund' }, replicas: 2, terminationGracePeriodSeconds: 0 }] } } } },
    overrides: { apis: { kubernetes: { throttleRate: 0.25 } } },
  })
})
afterAll(async () => {
  await sandbox?.stop()
})

it('halts and restores through 429 answers', async () => {
  const scale = createScaleToZeroPrimitive({ credentials: {}, env: { KUBECONFIG: sandbox.kubeconfigPath } })
  const [target] = await scale.resolve(ScaleToZeroSpec.parse({ namespace: 'agents', selector: 'class=refund' }), testContext())
  const before = await scale.read(target!, testContext())

  await scale.apply(target!, before, testContext())
  await scale.verifyHalted(target!, testContext())
  const agents = () => (sandbox.state().kubernetes as Record<string, NamespaceState>).agents!
  expect(agents().pods).toEqual([])

  await scale.restore(target!, before, testContext())
  await scale.verifyRestored(target!, before, testContext())
  expect(agents().deployments['refund-api']!.replicas).toBe(2)
})
