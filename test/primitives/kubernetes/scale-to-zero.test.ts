import { describe, expect, it } from 'vitest'
import { PrimitiveError, type Target } from '../../../src/core/primitive.js'
import { ScaleToZeroSpec } from '../../../src/core/runbook/schema.js'
import { createScaleToZeroPrimitive, REPLICAS_BEFORE_ANNOTATION } from '../../../src/primitives/kubernetes/scale-to-zero.js'
import { FakeKubernetesClient } from './fake-kubernetes-client.js'
import { testContext } from './test-context.js'

const config = { credentials: {}, env: {} }

function setup() {
  const cluster = new FakeKubernetesClient('prod-eu')
  const connected: Array<string | undefined> = []
  const primitive = createScaleToZeroPrimitive(config, async (context) => {
    connected.push(context)
    return cluster
  })
  return { cluster, primitive, connected }
}

const spec = (input: Record<string, unknown>) => ScaleToZeroSpec.parse({ namespace: 'agents', ...input })

async function rejection(promise: Promise<unknown>): Promise<PrimitiveError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(PrimitiveError)
  return error as PrimitiveError
}

describe('scaleToZero resolve', () => {
  it('finds Deployments and StatefulSets by label selector and names targets by context, namespace and kind', async () => {
    const { cluster, primitive } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 3 })
    cluster.add({ kind: 'statefulset', name: 'refund-worker', labels: { class: 'refund' }, replicas: 2, terminationGracePeriodSeconds: 10 })
    cluster.add({ kind: 'deployment', name: 'billing', labels: { class: 'billing' }, replicas: 1 })
    const ctx = testContext()

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx)

    expect(targets.map((t) => t.id)).toEqual([
      'k8s:prod-eu:agents:deployment/refund-api',
      'k8s:prod-eu:agents:statefulset/refund-worker',
    ])
    expect(targets[1]!.locator).toMatchObject({
      context: 'prod-eu',
      namespace: 'agents',
      kind: 'statefulset',
      name: 'refund-worker',
      podSelector: 'app=refund-worker',
      terminationGracePeriodSeconds: 10,
      podManagementPolicy: 'OrderedReady',
      gracePeriodOverride: null,
    })
    expect(cluster.calls).toEqual(['list deployment agents class=refund', 'list statefulset agents class=refund'])
    expect(ctx.paced.get('kubernetes:prod-eu')).toBe(2)
  })

  it('lists only the kinds the step asks for', async () => {
    const { cluster, primitive } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 3 })
    cluster.add({ kind: 'statefulset', name: 'refund-worker', labels: { class: 'refund' }, replicas: 2 })

    const targets = await primitive.resolve(spec({ selector: 'class=refund', kinds: ['StatefulSet'] }), testContext())

    expect(targets.map((t) => t.label)).toEqual(['agents/statefulset/refund-worker'])
  })

  it('adds named workloads to the selector matches without duplicates', async () => {
    const { cluster, primitive } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 3 })
    cluster.add({ kind: 'statefulset', name: 'ledger', replicas: 1 })

    const targets = await primitive.resolve(
      spec({ selector: 'class=refund', names: ['deployment/refund-api', 'statefulset/ledger'], gracePeriodSeconds: 5 }),
      testContext(),
    )

    expect(targets.map((t) => t.id)).toEqual(['k8s:prod-eu:agents:deployment/refund-api', 'k8s:prod-eu:agents:statefulset/ledger'])
    expect(targets.every((t) => t.locator.gracePeriodOverride === 5)).toBe(true)
  })

  it('fails with SelectorMatchedNothing naming namespace, selector and context', async () => {
    const { cluster, primitive } = setup()
    cluster.add({ kind: 'deployment', name: 'billing', labels: { class: 'billing' }, replicas: 1 })

    const error = await rejection(primitive.resolve(spec({ selector: 'class=refund' }), testContext()))

    expect(error.code).toBe('SelectorMatchedNothing')
    expect(error.message).toContain('class=refund')
    expect(error.message).toContain('namespace agents')
    expect(error.message).toContain('context prod-eu')
  })

  it('fails with WorkloadNotFound listing every named workload that does not exist', async () => {
    const { cluster, primitive } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })

    const error = await rejection(
      primitive.resolve(spec({ names: ['deployment/refund-api', 'deployment/gone', 'statefulset/also-gone'] }), testContext()),
    )

    expect(error.code).toBe('WorkloadNotFound')
    expect(error.message).toContain('deployment/gone, statefulset/also-gone')
  })
})

describe('scaleToZero halt', () => {
  async function resolved(setupResult = setup(), input: Record<string, unknown> = { names: ['deployment/refund-api'] }) {
    const target = (await setupResult.primitive.resolve(spec(input), testContext()))[0]!
    setupResult.cluster.calls.length = 0
    return { ...setupResult, target }
  }

  it('reads the replica count from the scale subresource and judges halted by zero', async () => {
    const s = setup()
    s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })
    const { primitive, target } = await resolved(s)

    const state = await primitive.read(target, testContext())

    expect(state).toEqual({ replicas: 3 })
    expect(primitive.describe(state)).toBe('replicas=3')
    expect(primitive.isHalted(state)).toBe(false)
    expect(primitive.isHalted({ replicas: 0 })).toBe(true)
    expect(primitive.sameState({ replicas: 3 }, { replicas: 3 })).toBe(true)
    expect(primitive.sameState({ replicas: 3 }, { replicas: 2 })).toBe(false)
  })

  it('records the prior count as an annotation, then scales to zero, pacing every request', async () => {
    const s = setup()
    const workload = s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })
    const { primitive, target, cluster } = await resolved(s)
    const ctx = testContext()

    await primitive.apply(target, { replicas: 3 }, ctx)

    expect(cluster.calls).toEqual([
      'get deployment/refund-api',
      `patch-annotations deployment/refund-api {"${REPLICAS_BEFORE_ANNOTATION}":"3"}`,
      'patch-scale deployment/refund-api 0',
    ])
    expect(ctx.paced.get('kubernetes:prod-eu')).toBe(3)
    expect(cluster.replicas(workload)).toBe(0)
    expect(cluster.annotations(workload)[REPLICAS_BEFORE_ANNOTATION]).toBe('3')
  })

  it('is idempotent: a second halt that sees replicas=0 keeps the first annotation', async () => {
    const s = setup()
    const workload = s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })
    const { primitive, target, cluster } = await resolved(s)
    await primitive.apply(target, { replicas: 3 }, testContext())
    cluster.calls.length = 0

    await primitive.apply(target, { replicas: 0 }, testContext())

    expect(cluster.calls).toEqual(['get deployment/refund-api', 'patch-scale deployment/refund-api 0'])
    expect(cluster.annotations(workload)[REPLICAS_BEFORE_ANNOTATION]).toBe('3')
    expect(cluster.replicas(workload)).toBe(0)
  })

  it('replaces a stale annotation when the workload runs again with another count', async () => {
    const s = setup()
    const workload = s.cluster.add({
      kind: 'deployment',
      name: 'refund-api',
      replicas: 5,
      annotations: { [REPLICAS_BEFORE_ANNOTATION]: '3' },
    })
    const { primitive, target } = await resolved(s)

    await primitive.apply(target, { replicas: 5 }, testContext())

    expect(s.cluster.annotations(workload)[REPLICAS_BEFORE_ANNOTATION]).toBe('5')
  })

  it('deletes the pods with the override grace period when the step sets one', async () => {
    const s = setup()
    s.cluster.add({ kind: 'statefulset', name: 'refund-worker', replicas: 2, terminationGracePeriodSeconds: 120 })
    const { primitive, target, cluster } = await resolved(s, { names: ['statefulset/refund-worker'], gracePeriodSeconds: 3 })

    await primitive.apply(target, { replicas: 2 }, testContext())

    expect(cluster.calls.slice(-3)).toEqual([
      'list-pods agents app=refund-worker',
      'delete-pod agents/refund-worker-0 grace=3',
      'delete-pod agents/refund-worker-1 grace=3',
    ])
    expect(cluster.pod('refund-worker-0')).toMatchObject({ terminating: true, gracePeriodSeconds: 3 })
  })

  it('verifies halted only once every pod, terminating ones included, is gone', async () => {
    const s = setup()
    s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })
    const { primitive, target, cluster } = await resolved(s)
    await primitive.apply(target, { replicas: 3 }, testContext())
    expect(cluster.podNames('app=refund-api')).toHaveLength(3)

    let verified = false
    const watchOpened = cluster.nextWatch()
    const verification = primitive.verifyHalted(target, testContext()).then(() => {
      verified = true
    })
    await watchOpened
    expect(verified).toBe(false)

    cluster.finishTermination()
    await verification

    expect(verified).toBe(true)
    expect(cluster.podNames('app=refund-api')).toEqual([])
    expect(cluster.calls.slice(-2)).toEqual(['list-pods agents app=refund-api', 'watch-pods agents app=refund-api'])
  })

  it('re-lists after the watch times out, so pods that went unseen still end the wait', async () => {
    const s = setup()
    s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 2 })
    const { primitive, target, cluster } = await resolved(s)
    await primitive.apply(target, { replicas: 2 }, testContext())
    cluster.calls.length = 0

    const watchOpened = cluster.nextWatch()
    const verification = primitive.verifyHalted(target, testContext())
    await watchOpened
    cluster.removePodsSilently()
    cluster.endWatches(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
    await verification

    expect(cluster.calls).toEqual(['list-pods agents app=refund-api', 'watch-pods agents app=refund-api', 'list-pods agents app=refund-api'])
  })

  it('rejects verification when the operation is aborted', async () => {
    const s = setup()
    s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 1 })
    const { primitive, target, cluster } = await resolved(s)
    await primitive.apply(target, { replicas: 1 }, testContext())
    const ctx = testContext()

    const watchOpened = cluster.nextWatch()
    const verification = primitive.verifyHalted(target, ctx)
    await watchOpened
    ctx.abort(new Error('time-to-halt budget exceeded'))

    await expect(verification).rejects.toThrow('time-to-halt budget exceeded')
  })
})

describe('scaleToZero restore', () => {
  it('scales back to the snapshot, removes the annotation and verifies the scale spec', async () => {
    const { cluster, primitive } = setup()
    const workload = cluster.add({ kind: 'statefulset', name: 'refund-worker', replicas: 4 })
    const target = (await primitive.resolve(spec({ names: ['statefulset/refund-worker'] }), testContext()))[0]!
    await primitive.apply(target, { replicas: 4 }, testContext())
    cluster.finishTermination()
    cluster.calls.length = 0

    await primitive.restore(target, { replicas: 4 }, testContext())
    await primitive.verifyRestored(target, { replicas: 4 }, testContext())

    expect(cluster.calls).toEqual([
      'patch-scale statefulset/refund-worker 4',
      `patch-annotations statefulset/refund-worker {"${REPLICAS_BEFORE_ANNOTATION}":null}`,
      'get-scale statefulset/refund-worker',
    ])
    expect(cluster.replicas(workload)).toBe(4)
    expect(cluster.annotations(workload)).not.toHaveProperty(REPLICAS_BEFORE_ANNOTATION)
  })

  it('acts on the context recorded in the target, not the one configured now', async () => {
    const { cluster, primitive, connected } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 1 })
    const target: Target = {
      id: 'k8s:prod-eu:agents:deployment/refund-api',
      kind: 'scaleToZero',
      label: 'agents/deployment/refund-api',
      locator: { context: 'prod-eu', namespace: 'agents', kind: 'deployment', name: 'refund-api', podSelector: 'app=refund-api' },
    }

    await primitive.restore(target, { replicas: 1 }, testContext())

    expect(connected).toEqual(['prod-eu'])
  })
})

describe('scaleToZero estimate', () => {
  const target = (locator: Record<string, string | number | null>): Target => ({
    id: 'k8s:prod-eu:agents:x',
    kind: 'scaleToZero',
    label: 'x',
    locator: { context: 'prod-eu', namespace: 'agents', name: 'x', podSelector: 'app=x', ...locator },
  })
  const { primitive } = setup()

  it('waits one grace period for a Deployment and paces in the cluster bucket', () => {
    const estimate = primitive.estimate(target({ kind: 'deployment', terminationGracePeriodSeconds: 30 }), { replicas: 4 })
    expect(estimate.settleMs).toBe(30_000)
    expect(estimate.calls).toHaveLength(5)
    expect(estimate.calls[0]).toEqual({ key: 'kubernetes:prod-eu', ratePerSecond: 50 })
  })

  it('waits one grace period per replica for an OrderedReady StatefulSet, one for Parallel', () => {
    const ordered = target({ kind: 'statefulset', terminationGracePeriodSeconds: 10, podManagementPolicy: 'OrderedReady' })
    const parallel = target({ kind: 'statefulset', terminationGracePeriodSeconds: 10, podManagementPolicy: 'Parallel' })
    expect(primitive.estimate(ordered, { replicas: 3 }).settleMs).toBe(30_000)
    expect(primitive.estimate(parallel, { replicas: 3 }).settleMs).toBe(10_000)
  })

  it('uses the override grace period and counts one delete per pod', () => {
    const estimate = primitive.estimate(
      target({ kind: 'statefulset', terminationGracePeriodSeconds: 60, podManagementPolicy: 'OrderedReady', gracePeriodOverride: 2 }),
      { replicas: 3 },
    )
    expect(estimate.settleMs).toBe(2_000)
    expect(estimate.calls).toHaveLength(5 + 1 + 3)
  })
})
