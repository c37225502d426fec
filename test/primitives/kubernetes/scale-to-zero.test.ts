import { describe, expect, it } from 'vitest'
import { PrimitiveError, type Target } from '../../../src/core/primitive.js'
import { ScaleToZeroSpec } from '../../../src/core/runbook/schema.js'
import { createScaleToZeroPrimitive, REPLICAS_BEFORE_ANNOTATION } from '../../../src/primitives/kubernetes/scale-to-zero.js'
import { FakeKubernetesClient } from './fake-kubernetes-client.js'
import { testContext } from '../../support/primitive-context.js'

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
    // The list already says each workload's replica count: the halt takes it as the snapshot without a read.
    expect(targets.map((t) => t.observed)).toEqual([{ replicas: 3 }, { replicas: 2 }])
    // The kinds of the selector (CronJobs too), then, side by side, what could undo the halt (KEDA, HPAs), the
    // namespace's ReplicaSets (whose pods are whose) and its pods (which matching pods no target owns).
    expect(cluster.calls.slice(0, 3)).toEqual(['list deployment agents class=refund', 'list statefulset agents class=refund', 'list cronjobs agents class=refund'])
    expect([...cluster.calls.slice(3)].sort()).toEqual(['list horizontalpodautoscalers agents', 'list replicasets agents', 'list scaledobjects agents', 'list-pods agents'])
    expect(ctx.paced.get('kubernetes:prod-eu')).toBe(7)
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
    expect(targets.map((t) => t.observed)).toEqual([{ replicas: 3 }, { replicas: 1 }])
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

  it('returns a named workload that does not exist as a missing target, beside the ones that do', async () => {
    const { cluster, primitive } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })

    const targets = await primitive.resolve(spec({ names: ['deployment/refund-api', 'deployment/gone', 'statefulset/also-gone'] }), testContext())

    expect(targets.map((t) => [t.id, t.missing?.code])).toEqual([
      ['k8s:prod-eu:agents:deployment/refund-api', undefined],
      ['k8s:prod-eu:agents:deployment/gone', 'WorkloadNotFound'],
      ['k8s:prod-eu:agents:statefulset/also-gone', 'WorkloadNotFound'],
    ])
    expect(targets[1]!.missing!.message).toBe('deployment/gone does not exist in namespace agents (context prod-eu)')
  })

  it('refuses a namespace or name that is not a Kubernetes name, before any request', async () => {
    const { cluster, primitive } = setup()
    // The schema refuses such a namespace in the runbook; this is the value after ${…} substitution.
    const escape = await rejection(primitive.resolve({ ...spec({ names: ['deployment/refund-api'] }), namespace: 'agents-a..b' }, testContext()))
    expect(escape.code).toBe('KubernetesNameInvalid')
    expect(escape.message).toContain('"agents-a..b"')
    const dots = await rejection(primitive.resolve(spec({ names: ['deployment/..'] }), testContext()))
    expect(dots.code).toBe('KubernetesNameInvalid')
    expect(cluster.calls).toEqual([])
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

  it('scales to zero, then records the prior count as an annotation: two paced requests and nothing else', async () => {
    const s = setup()
    const workload = s.cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })
    const { primitive, target, cluster } = await resolved(s)
    const ctx = testContext()

    await primitive.apply(target, { replicas: 3 }, ctx)

    // The scale first: an identity that may patch only deployments/scale still halts.
    expect(cluster.calls).toEqual([
      'patch-scale deployment/refund-api 0',
      `patch-annotations deployment/refund-api {"${REPLICAS_BEFORE_ANNOTATION}":"3"}`,
    ])
    expect(ctx.paced.get('kubernetes:prod-eu')).toBe(2)
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

    expect(cluster.calls).toEqual(['patch-scale deployment/refund-api 0'])
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

    s.cluster.addStrayPod('search-0', { app: 'search' })

    await primitive.apply(target, { replicas: 2 }, testContext())

    // The pod names come from the namespace's shared pod cache (one list), not from a list of this workload.
    expect(cluster.calls.filter((call) => call.startsWith('list-pods'))).toEqual(['list-pods agents'])
    expect(cluster.calls.filter((call) => call.startsWith('delete-pod'))).toEqual([
      'delete-pod agents/refund-worker-0 grace=3',
      'delete-pod agents/refund-worker-1 grace=3',
    ])
    expect(cluster.pod('refund-worker-0')).toMatchObject({ terminating: true, gracePeriodSeconds: 3 })
    expect(cluster.pod('search-0')).toMatchObject({ terminating: false })
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
    expect(cluster.calls.slice(-2)).toEqual(['list-pods agents', 'watch-pods agents'])
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

    expect(cluster.calls.slice(0, 3)).toEqual(['list-pods agents', 'watch-pods agents', 'list-pods agents'])
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
    // Scale read, annotation, scale patch; verification's list and watch are shared by the namespace.
    expect(estimate.calls).toHaveLength(3)
    expect(estimate.calls[0]).toEqual({ key: 'kubernetes:prod-eu', ratePerSecond: 100, burst: 20 })
  })

  it('counts no read when resolution observed the replica count', () => {
    const observed = { ...target({ kind: 'deployment', terminationGracePeriodSeconds: 30 }), observed: { replicas: 4 } }
    expect(primitive.estimate(observed, { replicas: 4 }).calls).toHaveLength(2)
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
    expect(estimate.calls).toHaveLength(3 + 3)
  })
})

describe('scaleToZero verification through one pod cache per namespace', () => {
  /** Lets queued callbacks run, including the cache's close at the end of the event-loop turn. */
  const settle = () => new Promise((resolve) => setImmediate(resolve))

  async function halted(names: Array<{ kind: 'deployment' | 'statefulset'; name: string; replicas: number }>) {
    const s = setup()
    for (const workload of names) s.cluster.add({ ...workload, labels: { class: 'refund' } })
    s.cluster.addStrayPod('search-0', { app: 'search', class: 'refund' })
    const targets = await s.primitive.resolve(spec({ selector: 'class=refund' }), testContext())
    for (const target of targets) await s.primitive.apply(target, target.observed!, testContext())
    s.cluster.calls.length = 0
    return { ...s, targets }
  }

  it('serves every workload of the namespace with one pods list and one watch, closed after the last verification', async () => {
    const { cluster, primitive, targets } = await halted([
      { kind: 'deployment', name: 'refund-api', replicas: 3 },
      { kind: 'deployment', name: 'refund-web', replicas: 2 },
      { kind: 'statefulset', name: 'refund-worker', replicas: 2 },
    ])

    const watchOpened = cluster.nextWatch()
    const verifications = Promise.all(targets.map((target) => primitive.verifyHalted(target, testContext())))
    await watchOpened
    expect(cluster.openWatches).toBe(1)

    cluster.finishTermination()
    await verifications
    await settle()

    expect(cluster.calls).toEqual(['list-pods agents', 'watch-pods agents'])
    expect(cluster.openWatches).toBe(0)
    // Another team's pod in the namespace, whose labels match no workload's selector, never held anything up.
    expect(cluster.pod('search-0')).toMatchObject({ terminating: false })
  })

  it("resolves a workload whose pods are gone while another's are still terminating", async () => {
    const { cluster, primitive, targets } = await halted([
      { kind: 'deployment', name: 'refund-api', replicas: 2 },
      { kind: 'statefulset', name: 'refund-worker', replicas: 2 },
    ])
    const [api, worker] = targets as [Target, Target]
    let workerVerified = false

    const watchOpened = cluster.nextWatch()
    const apiVerified = primitive.verifyHalted(api, testContext())
    const workerVerification = primitive.verifyHalted(worker, testContext()).then(() => {
      workerVerified = true
    })
    await watchOpened
    cluster.finishTermination('refund-api')
    await apiVerified
    await settle()

    expect(workerVerified).toBe(false)
    expect(cluster.podNames('app=refund-worker')).toHaveLength(2)
    expect(cluster.openWatches).toBe(1)

    cluster.finishTermination('refund-worker')
    await workerVerification
    expect(workerVerified).toBe(true)
  })

  it('lists again when the server ends the watch, and keeps waiting for pods still terminating', async () => {
    const { cluster, primitive, targets } = await halted([{ kind: 'deployment', name: 'refund-api', replicas: 2 }])
    let verified = false

    const firstWatch = cluster.nextWatch()
    const verification = primitive.verifyHalted(targets[0]!, testContext()).then(() => {
      verified = true
    })
    await firstWatch
    const secondWatch = cluster.nextWatch()
    cluster.endWatches()
    await secondWatch

    expect(cluster.calls).toEqual(['list-pods agents', 'watch-pods agents', 'list-pods agents', 'watch-pods agents'])
    expect(verified).toBe(false)

    cluster.finishTermination()
    await verification
    expect(verified).toBe(true)
  })

  it('fails every pending verification with the pods list error, and opens a fresh cache for the next one', async () => {
    const { cluster, primitive, targets } = await halted([
      { kind: 'deployment', name: 'refund-api', replicas: 1 },
      { kind: 'deployment', name: 'refund-web', replicas: 1 },
    ])
    const forbidden = new PrimitiveError('Kubernetes refused to list pods in agents', undefined, 'KubernetesForbidden')
    cluster.failPodLists(forbidden)

    const outcomes = await Promise.allSettled(targets.map((target) => primitive.verifyHalted(target, testContext())))

    expect(outcomes).toEqual([
      { status: 'rejected', reason: forbidden },
      { status: 'rejected', reason: forbidden },
    ])
    expect(cluster.calls).toEqual(['list-pods agents'])

    cluster.failPodLists(undefined)
    cluster.finishTermination()
    await primitive.verifyHalted(targets[0]!, testContext())
    expect(cluster.calls.filter((call) => call === 'list-pods agents')).toHaveLength(2)
  })

  it('close() stops the watch and rejects the verifications still waiting', async () => {
    const { cluster, primitive, targets } = await halted([{ kind: 'deployment', name: 'refund-api', replicas: 1 }])

    const watchOpened = cluster.nextWatch()
    const verification = primitive.verifyHalted(targets[0]!, testContext())
    await watchOpened
    await primitive.close?.()

    await expect(verification).rejects.toThrow('the pod cache of namespace agents was closed')
    expect(cluster.openWatches).toBe(0)
  })
})
