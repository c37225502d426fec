/**
 * End to end: the scale-to-zero primitive through its HTTP client against the sandbox's Kubernetes plane,
 * reached through the kubeconfig the sandbox writes, as in production.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrimitiveError, type Target } from '../../../src/core/primitive.js'
import { ScaleToZeroSpec } from '../../../src/core/runbook/schema.js'
import { createScaleToZeroPrimitive, REPLICAS_BEFORE_ANNOTATION } from '../../../src/primitives/kubernetes/scale-to-zero.js'
import type { NamespaceState } from '../../../src/sandbox/kubernetes/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { testContext } from '../../support/primitive-context.js'

const seed = {
  kubernetes: {
    namespaces: {
      agents: {
        deployments: [
          { name: 'refund-api', labels: { class: 'refund' }, replicas: 3, terminationGracePeriodSeconds: 2 },
          { name: 'billing-api', labels: { class: 'billing' }, replicas: 2 },
        ],
        statefulsets: [
          { name: 'refund-worker', labels: { class: 'refund' }, replicas: 2, terminationGracePeriodSeconds: 1 },
          // Ten minutes per pod, one at a time: only the grace-period override can halt it within a test.
          { name: 'refund-ledger', labels: { class: 'ledger' }, replicas: 2, terminationGracePeriodSeconds: 600 },
        ],
      },
    },
  },
}

describe('scaleToZero against the sandbox', () => {
  let sandbox: Sandbox
  const agents = () => (sandbox.state().kubernetes as Record<string, NamespaceState>).agents!
  const podsOf = (owner: string) => agents().pods.filter((pod) => pod.owner === owner)
  const primitive = () =>
    createScaleToZeroPrimitive({ credentials: { kubernetes: { kubeconfig: sandbox.kubeconfigPath } }, env: {} })

  beforeAll(async () => {
    sandbox = await startSandbox({ seed, recordRequests: true })
  })
  afterAll(async () => {
    await sandbox?.stop()
  })

  it('halts a Deployment and a StatefulSet until their pods are gone, then restores replicas and annotations', async () => {
    const scale = primitive()
    const targets = await scale.resolve(ScaleToZeroSpec.parse({ namespace: 'agents', selector: 'class=refund' }), testContext())
    expect(targets.map((t) => t.id)).toEqual([
      'k8s:killswitch-sandbox:agents:deployment/refund-api',
      'k8s:killswitch-sandbox:agents:statefulset/refund-worker',
    ])

    const snapshots = new Map<string, { replicas: number }>()
    for (const target of targets) snapshots.set(target.id, (await scale.read(target, testContext())) as { replicas: number })
    expect([...snapshots.values()]).toEqual([{ replicas: 3 }, { replicas: 2 }])

    for (const target of targets) await scale.apply(target, snapshots.get(target.id)!, testContext())
    expect(agents().deployments['refund-api']).toMatchObject({ replicas: 0, annotations: { [REPLICAS_BEFORE_ANNOTATION]: '3' } })
    expect(agents().statefulsets['refund-worker']).toMatchObject({ replicas: 0, annotations: { [REPLICAS_BEFORE_ANNOTATION]: '2' } })
    // Scaled to zero but still terminating: a halt is not verified by the 200 of the patch.
    expect(podsOf('deployment/refund-api').length).toBeGreaterThan(0)

    const podRequests = () => sandbox.requests().filter((r) => r.method === 'GET' && r.path.startsWith('/api/v1/namespaces/agents/pods')).length
    const podRequestsBefore = podRequests()
    await Promise.all(targets.map((target) => scale.verifyHalted(target, testContext())))
    // Both workloads were verified through one pods list and one watch of the namespace.
    expect(podRequests() - podRequestsBefore).toBe(2)
    expect(podsOf('deployment/refund-api')).toEqual([])
    expect(podsOf('statefulset/refund-worker')).toEqual([])
    expect(podsOf('deployment/billing-api')).toHaveLength(2)
    for (const target of targets) expect(scale.isHalted(await scale.read(target, testContext()))).toBe(true)

    for (const target of targets) await scale.restore(target, snapshots.get(target.id)!, testContext())
    for (const target of targets) await scale.verifyRestored(target, snapshots.get(target.id)!, testContext())
    expect(agents().deployments['refund-api']!.replicas).toBe(3)
    expect(agents().statefulsets['refund-worker']!.replicas).toBe(2)
    expect(agents().deployments['refund-api']!.annotations).not.toHaveProperty(REPLICAS_BEFORE_ANNOTATION)
    expect(agents().statefulsets['refund-worker']!.annotations).not.toHaveProperty(REPLICAS_BEFORE_ANNOTATION)
    await scale.close?.()
  })

  it('deletes the pods with the override grace period, halting a slow OrderedReady StatefulSet at once', async () => {
    const scale = primitive()
    const [target] = (await scale.resolve(
      ScaleToZeroSpec.parse({ namespace: 'agents', names: ['statefulset/refund-ledger'], gracePeriodSeconds: 0 }),
      testContext(),
    )) as [Target]
    expect(scale.estimate(target, { replicas: 2 }).settleMs).toBe(0)

    await scale.apply(target, { replicas: 2 }, testContext())
    await scale.verifyHalted(target, testContext())

    expect(podsOf('statefulset/refund-ledger')).toEqual([])
    await scale.restore(target, { replicas: 2 }, testContext())
    await scale.verifyRestored(target, { replicas: 2 }, testContext())
    expect(agents().statefulsets['refund-ledger']!.replicas).toBe(2)
    expect(agents().statefulsets['refund-ledger']!.annotations).not.toHaveProperty(REPLICAS_BEFORE_ANNOTATION)
  })

  it('reports a selector that matches nothing with the namespace, the selector and the context', async () => {
    const error = await primitive()
      .resolve(ScaleToZeroSpec.parse({ namespace: 'agents', selector: 'class=nobody' }), testContext())
      .catch((e: unknown) => e)

    expect(error).toBeInstanceOf(PrimitiveError)
    expect((error as PrimitiveError).code).toBe('SelectorMatchedNothing')
    expect((error as PrimitiveError).message).toBe(
      'selector class=nobody matched no Deployment, StatefulSet or CronJob in namespace agents (context killswitch-sandbox)',
    )
  })
})
