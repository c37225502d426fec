/**
 * scaleToZero beyond the workload: the controllers that would undo a halt (KEDA, Argo CD, Flux, HPAs), CronJobs,
 * pods that are not the workload's own, and an identity that may scale but not patch. Against the in-memory fake;
 * the same behaviours end to end against the sandbox are in test/e2e/kubernetes-real-clusters.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { Target, TargetState } from '../../../src/core/primitive.js'
import { ScaleToZeroSpec } from '../../../src/core/runbook/schema.js'
import { createScaleToZeroPrimitive, REPLICAS_BEFORE_ANNOTATION } from '../../../src/primitives/kubernetes/scale-to-zero.js'
import { KEDA_PAUSED_REPLICAS, SWITCHES } from '../../../src/primitives/kubernetes/switches.js'
import { FakeKubernetesClient } from './fake-kubernetes-client.js'
import { testContext } from '../../support/primitive-context.js'

const spec = (input: Record<string, unknown>) => ScaleToZeroSpec.parse({ namespace: 'agents', ...input })

function setup() {
  const cluster = new FakeKubernetesClient('prod-eu')
  const primitive = createScaleToZeroPrimitive({ credentials: {}, env: {} }, async () => cluster)
  const warnings: string[] = []
  const ctx = () => ({ ...testContext(), warn: (message: string) => void warnings.push(message) })
  return { cluster, primitive, warnings, ctx }
}

/** What the engine does per target, in its order: read, apply unless halted, verify. */
async function halt(primitive: ReturnType<typeof setup>['primitive'], targets: Target[], ctx: () => ReturnType<ReturnType<typeof setup>['ctx']>) {
  const snapshots = new Map<string, TargetState>()
  await Promise.all(
    targets.map(async (target) => {
      const before = target.observed ?? (await primitive.read(target, ctx()))
      snapshots.set(target.id, before)
      if (!primitive.isHalted(before)) await primitive.apply(target, before, ctx())
    }),
  )
  return snapshots
}

describe('scaleToZero and the controllers that would undo it', () => {
  it('pauses the KEDA ScaledObject of a workload before scaling it, and restore puts the annotation back as it was', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 3 })
    cluster.putObject(SWITCHES.ScaledObject.resource, 'agents', {
      metadata: { name: 'refund-api-so', annotations: { team: 'payments' } },
      spec: { scaleTargetRef: { name: 'refund-api' }, minReplicaCount: 1 },
    })
    cluster.putObject(SWITCHES.ScaledObject.resource, 'agents', { metadata: { name: 'other-so' }, spec: { scaleTargetRef: { name: 'billing' } } })

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    expect(targets.map((t) => t.id)).toEqual([
      'k8s:prod-eu:agents:scaledobject.keda.sh/refund-api-so',
      'k8s:prod-eu:agents:deployment/refund-api',
    ])
    expect(warnings.join('\n')).toContain('ScaledObject agents/refund-api-so reconciles deployment/refund-api: paused for the halt')

    cluster.calls.length = 0
    const snapshots = await halt(primitive, targets, ctx)
    const writes = cluster.calls.filter((c) => c.startsWith('patch'))
    // The pause lands before the scale: KEDA cannot scale the workload back between the two.
    expect(writes[0]).toBe(`patch scaledobjects agents/refund-api-so {"metadata":{"annotations":{"${KEDA_PAUSED_REPLICAS}":"0"}}}`)
    expect(writes[1]).toBe('patch-scale deployment/refund-api 0')
    expect(snapshots.get(targets[0]!.id)).toEqual({ object: 'ScaledObject', pausedReplicas: null })
    expect(primitive.describe(snapshots.get(targets[0]!.id)!)).toBe('autoscaling')
    await primitive.verifyHalted(targets[0]!, ctx())

    await primitive.restore(targets[0]!, snapshots.get(targets[0]!.id)!, ctx())
    await primitive.verifyRestored(targets[0]!, snapshots.get(targets[0]!.id)!, ctx())
    expect(cluster.object(SWITCHES.ScaledObject.resource, 'agents', 'refund-api-so')!.metadata!.annotations).toEqual({ team: 'payments' })
  })

  it('suspends Argo CD automated sync of the tracking Application and restores the exact block', async () => {
    const { cluster, primitive, ctx } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund', 'app.kubernetes.io/instance': 'agents' }, replicas: 2 })
    const automated = { prune: true, selfHeal: true }
    cluster.putObject(SWITCHES.Application.resource, 'argocd', { metadata: { name: 'agents' }, spec: { project: 'default', syncPolicy: { automated, syncOptions: ['CreateNamespace=true'] } } })

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    const app = targets.find((t) => t.id === 'k8s:prod-eu:argocd:application.argoproj.io/agents')!
    expect(app).toBeDefined()
    const snapshots = await halt(primitive, targets, ctx)
    expect(cluster.object(SWITCHES.Application.resource, 'argocd', 'agents')!.spec).toEqual({ project: 'default', syncPolicy: { syncOptions: ['CreateNamespace=true'] } })
    expect(primitive.describe(snapshots.get(app.id)!)).toBe('automated sync with self-heal')

    await primitive.restore(app, snapshots.get(app.id)!, ctx())
    expect(cluster.object(SWITCHES.Application.resource, 'argocd', 'agents')!.spec).toEqual({ project: 'default', syncPolicy: { automated, syncOptions: ['CreateNamespace=true'] } })
  })

  it('suspends the Flux Kustomization named by the workload labels; restore removes the field it added', async () => {
    const { cluster, primitive, ctx } = setup()
    cluster.add({
      kind: 'statefulset',
      name: 'refund-worker',
      labels: { class: 'refund', 'kustomize.toolkit.fluxcd.io/name': 'agents', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' },
      replicas: 2,
    })
    cluster.putObject(SWITCHES.Kustomization.resource, 'flux-system', { metadata: { name: 'agents' }, spec: { interval: '5m' } })

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    const ks = targets.find((t) => t.label === 'flux-system/Kustomization/agents')!
    const snapshots = await halt(primitive, targets, ctx)
    expect(cluster.object(SWITCHES.Kustomization.resource, 'flux-system', 'agents')!.spec).toEqual({ interval: '5m', suspend: true })

    await primitive.restore(ks, snapshots.get(ks.id)!, ctx())
    expect(cluster.object(SWITCHES.Kustomization.resource, 'flux-system', 'agents')!.spec).toEqual({ interval: '5m' })
  })

  it('with reconcilers: warn, names them and changes nothing but the workload', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 1 })
    cluster.putObject(SWITCHES.ScaledObject.resource, 'agents', { metadata: { name: 'refund-so' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'refund-api' } } })

    const targets = await primitive.resolve(spec({ selector: 'class=refund', reconcilers: 'warn' }), ctx())
    expect(targets.map((t) => t.label)).toEqual(['agents/deployment/refund-api'])
    expect(warnings.join('\n')).toContain('ScaledObject agents/refund-so reconciles deployment/refund-api and may scale it back up; the step says reconcilers: warn')
  })

  it('names an HPA in a note and leaves it alone', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 1 })
    cluster.putObject({ group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers' }, 'agents', {
      metadata: { name: 'refund-hpa' },
      spec: { scaleTargetRef: { kind: 'Deployment', name: 'refund-api' }, minReplicas: 1 },
    })

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    expect(targets).toHaveLength(1)
    expect(warnings.join('\n')).toContain('HorizontalPodAutoscaler agents/refund-hpa scales deployment/refund-api: an HPA does not scale a workload at 0 replicas')
  })

  it('says what it could not check when listing a reconciler type is forbidden, and still halts', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 1 })
    cluster.putObject(SWITCHES.ScaledObject.resource, 'agents', { metadata: { name: 'refund-so' }, spec: { scaleTargetRef: { name: 'refund-api' } } })
    cluster.forbid('list scaledobjects')

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    expect(targets.map((t) => t.label)).toEqual(['agents/deployment/refund-api'])
    expect(warnings.join('\n')).toContain('could not list KEDA ScaledObjects in agents (KubernetesForbidden)')
  })
})

describe('scaleToZero and CronJobs', () => {
  const cronJob = (suspend?: boolean, active: string[] = []) => ({
    metadata: { name: 'refund-sweep', labels: { class: 'refund' } },
    spec: { schedule: '*/5 * * * *', ...(suspend === undefined ? {} : { suspend }) },
    status: { active: active.map((name) => ({ kind: 'Job', name })) },
  })

  it('suspends a CronJob the selector matches and restores suspend exactly; running Jobs are named', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.putObject(SWITCHES.CronJob.resource, 'agents', cronJob(undefined, ['refund-sweep-29001']))

    const targets = await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    expect(targets.map((t) => t.id)).toEqual(['k8s:prod-eu:agents:cronjob/refund-sweep'])
    expect(targets[0]!.observed).toEqual({ object: 'CronJob', suspend: null })
    expect(warnings.join('\n')).toContain('CronJob agents/refund-sweep has 1 Job(s) running (refund-sweep-29001)')

    const snapshots = await halt(primitive, targets, ctx)
    await primitive.verifyHalted(targets[0]!, ctx())
    expect(cluster.object(SWITCHES.CronJob.resource, 'agents', 'refund-sweep')!.spec).toMatchObject({ suspend: true })
    expect(cluster.calls.filter((c) => c.startsWith('delete'))).toEqual([])

    await primitive.restore(targets[0]!, snapshots.get(targets[0]!.id)!, ctx())
    expect(cluster.object(SWITCHES.CronJob.resource, 'agents', 'refund-sweep')!.spec).toEqual({ schedule: '*/5 * * * *' })
  })

  it('with jobs: delete, deletes the running Jobs as well', async () => {
    const { cluster, primitive, ctx } = setup()
    cluster.putObject(SWITCHES.CronJob.resource, 'agents', cronJob(false, ['refund-sweep-29001', 'refund-sweep-29006']))
    cluster.putObject({ group: 'batch', version: 'v1', plural: 'jobs' }, 'agents', { metadata: { name: 'refund-sweep-29001' } })

    const targets = await primitive.resolve(spec({ names: ['cronjob/refund-sweep'], jobs: 'delete' }), ctx())
    await halt(primitive, targets, ctx)
    await primitive.verifyHalted(targets[0]!, ctx())
    expect(cluster.calls.filter((c) => c.startsWith('delete'))).toEqual(['delete jobs agents/refund-sweep-29001', 'delete jobs agents/refund-sweep-29006'])
  })
})

describe('scaleToZero verification counts the workload’s own running pods', () => {
  it('does not wait for a Failed (evicted) or Succeeded pod, nor for a pod another owner runs', async () => {
    const { cluster, primitive, ctx } = setup()
    cluster.add({ kind: 'statefulset', name: 'refund-worker', replicas: 1 })
    cluster.addStrayPod('refund-worker-evicted', { app: 'refund-worker' }, 'agents', { owner: { kind: 'StatefulSet', name: 'refund-worker' }, phase: 'Failed', reason: 'Evicted' })
    cluster.addStrayPod('refund-worker-done', { app: 'refund-worker' }, 'agents', { owner: { kind: 'StatefulSet', name: 'refund-worker' }, phase: 'Succeeded' })
    cluster.addStrayPod('log-agent-x1', { app: 'refund-worker' }, 'agents', { owner: { kind: 'DaemonSet', name: 'log-agent' }, phase: 'Running' })
    const [target] = await primitive.resolve(spec({ names: ['statefulset/refund-worker'] }), ctx())

    await primitive.apply(target!, { replicas: 1 }, ctx())
    cluster.finishTermination('refund-worker')
    await primitive.verifyHalted(target!, ctx())
  })

  it('names the pods of other owners that match the selector in a warning', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 1 })
    cluster.addStrayPod('log-agent-x1', { class: 'refund' }, 'agents', { owner: { kind: 'DaemonSet', name: 'log-agent' }, phase: 'Running' })
    cluster.addStrayPod('debug', { class: 'refund' }, 'agents', { owner: null, phase: 'Running' })
    cluster.addStrayPod('old-evicted', { class: 'refund' }, 'agents', { owner: null, phase: 'Failed' })

    await primitive.resolve(spec({ selector: 'class=refund' }), ctx())
    const text = warnings.join('\n')
    expect(text).toContain('1 running pod(s) in agents match class=refund but belong to DaemonSet/log-agent, which this step does not stop: log-agent-x1')
    expect(text).toContain('belong to no owner (a bare pod), which this step does not stop: debug')
    expect(text).not.toContain('old-evicted')
  })

  it('says which pods are still there, and why, when verification gives up', async () => {
    const { cluster, primitive, ctx } = setup()
    cluster.add({ kind: 'statefulset', name: 'refund-worker', replicas: 0 })
    cluster.addStrayPod('refund-worker-0', { app: 'refund-worker' }, 'agents', {
      owner: { kind: 'StatefulSet', name: 'refund-worker' },
      phase: 'Running',
      deletionTimestamp: '2026-01-01T00:00:00Z',
      deletionGracePeriodSeconds: 30,
      finalizers: ['example.com/drain'],
    })
    const [target] = await primitive.resolve(spec({ names: ['statefulset/refund-worker'] }), ctx())
    const verifying = ctx()
    const outcome = primitive.verifyHalted(target!, verifying).catch((error: { stillThere?: string }) => error)
    setTimeout(() => verifying.abort(new Error('time is up')), 50)
    const error = (await outcome) as { stillThere?: string }
    expect(error.stillThere).toMatch(/^1 pod\(s\) still there: refund-worker-0: Terminating since 2026-01-01T00:00:00Z \(\d+ s ago, grace period 30 s\); finalizers example.com\/drain/)
    expect(error.stillThere).toContain('owner StatefulSet/refund-worker')
  })
})

describe('scaleToZero with a least-privilege identity', () => {
  it('halts with only the scale subresource: the annotation is a warning, the journal has the count', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    const workload = cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 3 })
    cluster.forbid('patch deployments')
    const [target] = await primitive.resolve(spec({ names: ['deployment/refund-api'] }), ctx())

    await primitive.apply(target!, { replicas: 3 }, ctx())
    expect(cluster.replicas(workload)).toBe(0)
    expect(cluster.annotations(workload)).not.toHaveProperty(REPLICAS_BEFORE_ANNOTATION)
    expect(warnings.join('\n')).toContain(`could not write the ${REPLICAS_BEFORE_ANNOTATION} annotation on agents/deployment/refund-api (KubernetesForbidden)`)

    await primitive.restore(target!, { replicas: 3 }, ctx())
    expect(cluster.replicas(workload)).toBe(3)
  })

  it('without permission to delete pods, gracePeriodSeconds becomes a warning and the scale stands', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    const workload = cluster.add({ kind: 'deployment', name: 'refund-api', replicas: 2, terminationGracePeriodSeconds: 20 })
    cluster.forbid('delete pods')
    const [target] = await primitive.resolve(spec({ names: ['deployment/refund-api'], gracePeriodSeconds: 0 }), ctx())

    await primitive.apply(target!, { replicas: 2 }, ctx())
    expect(cluster.replicas(workload)).toBe(0)
    expect(warnings.join('\n')).toContain('no permission to delete pods in agents, so gracePeriodSeconds 0 is not applied; its pods terminate at their own grace period (20 s)')
  })
})

describe('scaleToZero and the protection marker', () => {
  it('never selects a workload marked killswitch.dev/protect, by selector or by name, and says what it left out', async () => {
    const { cluster, primitive, ctx, warnings } = setup()
    cluster.add({ kind: 'deployment', name: 'refund-api', labels: { class: 'refund' }, replicas: 2 })
    cluster.add({ kind: 'deployment', name: 'refund-ledger', labels: { class: 'refund', 'killswitch.dev/protect': 'true' }, replicas: 2 })
    cluster.add({ kind: 'statefulset', name: 'refund-db', labels: { class: 'refund' }, annotations: { 'killswitch.dev/protect': 'yes' }, replicas: 1 })

    const targets = await primitive.resolve(spec({ selector: 'class=refund', names: ['statefulset/refund-db'] }), ctx())
    expect(targets.map((t) => t.label)).toEqual(['agents/deployment/refund-api'])
    expect(warnings.join('\n')).toContain('left out, marked killswitch.dev/protect: agents/deployment/refund-ledger, agents/statefulset/refund-db')

    const only = await primitive.resolve(spec({ names: ['statefulset/refund-db'] }), ctx()).catch((e: unknown) => e)
    expect(only).toMatchObject({ code: 'AllTargetsProtected' })
  })
})

