/**
 * The controllers that scale a workload back up, as kubectl and @kubernetes/client-node meet them: KEDA
 * ScaledObjects and their HPAs, HPAs, Argo CD Applications, Flux Kustomizations and HelmReleases, and an
 * undiscoverable scaler — each undoing a scale to zero, with managedFields naming who did, until it is paused the
 * way its project documents.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AppsV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { kubectlFor, NAMESPACE, namespaceState, waitUntil } from './support.js'

const workload = (name: string, extra: Record<string, unknown> = {}) => ({ name, labels: { app: name }, replicas: 2, terminationGracePeriodSeconds: 1, ...extra })

const seed: SeedInput = {
  kubernetes: {
    reconcileIntervalMs: 100,
    namespaces: {
      [NAMESPACE]: {
        deployments: [
          workload('queue-worker'),
          workload('idle-worker'),
          workload('web'),
          workload('argo-labelled', { metadataLabels: { 'app.kubernetes.io/instance': 'agents' } }),
          workload('argo-annotated', { annotations: { 'argocd.argoproj.io/tracking-id': 'agents:apps/Deployment:agents/argo-annotated' } }),
          workload('flux-applied', { metadataLabels: { 'kustomize.toolkit.fluxcd.io/name': 'agents', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' } }),
          workload('helm-installed', { metadataLabels: { 'helm.toolkit.fluxcd.io/name': 'agents', 'helm.toolkit.fluxcd.io/namespace': NAMESPACE } }),
          workload('rogue-target'),
        ],
        scaledObjects: [
          { name: 'queue-worker', target: 'deployment/queue-worker', active: true },
          { name: 'idle-worker', target: 'deployment/idle-worker', minReplicaCount: 0 },
        ],
        hpas: [{ name: 'web', target: 'deployment/web', minReplicas: 2, maxReplicas: 4 }],
        scaleBack: [{ target: 'deployment/rogue-target', afterMs: 300, replicas: 2, manager: 'rogue-operator' }],
      },
    },
    argocd: { applications: [{ name: 'agents', destinationNamespace: NAMESPACE, automated: { selfHeal: true, prune: true } }] },
    flux: { kustomizations: [{ name: 'agents' }], helmReleases: [{ name: 'agents', namespace: NAMESPACE }] },
  },
}

interface ManagedFieldsEntry {
  manager?: string
  operation: string
  subresource?: string
  fieldsV1: { 'f:spec'?: { 'f:replicas'?: object } }
}

describe('reconcilers', () => {
  let sandbox: Sandbox
  let cacheDir: string
  let apps: AppsV1Api
  let custom: CustomObjectsApi
  const kubectl = kubectlFor(
    () => sandbox,
    () => cacheDir,
  )
  const replicas = (name: string) => namespaceState(sandbox).deployments[name]!.replicas
  const replicasOwners = async (name: string) =>
    ((await apps.readNamespacedDeployment({ name, namespace: NAMESPACE })).metadata?.managedFields as ManagedFieldsEntry[])
      .filter((entry) => entry.fieldsV1['f:spec']?.['f:replicas'] !== undefined)
      .map((entry) => ({ manager: entry.manager, operation: entry.operation, subresource: entry.subresource }))
  /** Scales to zero, waits past a few reconciles, and tells whether the count came back. */
  const scaleToZeroAndWatch = async (name: string) => {
    await kubectl('scale', `deployment/${name}`, '--replicas=0')
    await new Promise((resolve) => setTimeout(resolve, 600))
    return replicas(name)
  }

  beforeEach(async () => {
    sandbox = await startSandbox({ seed })
    cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'))
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(sandbox.kubeconfigPath)
    apps = kubeConfig.makeApiClient(AppsV1Api)
    custom = kubeConfig.makeApiClient(CustomObjectsApi)
  })

  afterEach(async () => {
    await sandbox.stop()
    await rm(cacheDir, { recursive: true, force: true })
  })

  it('kubectl finds each reconciler through discovery and prints its columns', async () => {
    expect(await kubectl('get', 'scaledobjects')).toMatch(/NAME\s+SCALETARGETKIND\s+SCALETARGETNAME\s+MIN\s+MAX\s+READY\s+ACTIVE\s+FALLBACK\s+PAUSED[\s\S]*queue-worker\s+apps\/v1\.Deployment\s+queue-worker\s+0\s+100\s+True\s+True\s+False\s+False/)
    expect(await kubectl('get', 'so', 'idle-worker', '-o', 'jsonpath={.spec.scaleTargetRef}')).toBe('{"apiVersion":"apps/v1","kind":"Deployment","name":"idle-worker"}')
    expect(await kubectl('get', 'hpa')).toMatch(/keda-hpa-queue-worker\s+Deployment\/queue-worker[\s\S]*web\s+Deployment\/web\s+cpu: <unknown>\/80%\s+2\s+4\s+2/)
    expect(await kubectl('get', 'applications', '-n', 'argocd')).toMatch(/agents\s+Synced\s+Healthy/)
    expect(await kubectl('get', 'kustomizations', '-A')).toMatch(/flux-system\s+agents\s+\S+\s+True\s+Applied revision: main@sha1:/)
    expect(await kubectl('get', 'helmreleases', '-A')).toMatch(new RegExp(`${NAMESPACE}\\s+agents\\s+\\S+\\s+True\\s+Helm install succeeded`))
    const kedaHpa = await kubectl.json<{ metadata: { ownerReferences: { kind: string; name: string }[] }; spec: { minReplicas: number } }>('get', 'hpa', 'keda-hpa-queue-worker')
    expect(kedaHpa.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ScaledObject', name: 'queue-worker' })])
    expect(kedaHpa.spec.minReplicas).toBe(1)
  })

  it('KEDA brings an active target back to one replica; with paused-replicas it scales to that and lets go', async () => {
    expect(await scaleToZeroAndWatch('queue-worker')).toBe(1)
    expect(await replicasOwners('queue-worker')).toEqual([{ manager: 'keda-operator', operation: 'Update', subresource: 'scale' }])
    // An idle trigger with minReplicaCount 0 leaves a target at zero.
    expect(await scaleToZeroAndWatch('idle-worker')).toBe(0)

    await kubectl('annotate', 'scaledobject', 'queue-worker', 'autoscaling.keda.sh/paused-replicas=0')
    await waitUntil('KEDA scales the paused target to 0', () => replicas('queue-worker') === 0)
    await waitUntil('KEDA deletes its HPA', () => namespaceState(sandbox).hpas['keda-hpa-queue-worker'] === undefined)
    expect(namespaceState(sandbox).scaledObjects['queue-worker']).toMatchObject({ paused: true, annotations: { 'autoscaling.keda.sh/paused-replicas': '0' } })
    await kubectl('scale', 'deployment/queue-worker', '--replicas=3')
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(replicas('queue-worker')).toBe(3)

    await kubectl('annotate', 'scaledobject', 'queue-worker', 'autoscaling.keda.sh/paused-replicas-')
    await waitUntil('KEDA recreates its HPA', () => namespaceState(sandbox).hpas['keda-hpa-queue-worker'] !== undefined)
    expect(namespaceState(sandbox).scaledObjects['queue-worker']!.paused).toBe(false)
  })

  it('an HPA leaves a target at zero alone (autoscaling is disabled at 0) and keeps others within its bounds', async () => {
    expect(await scaleToZeroAndWatch('web')).toBe(0)
    const hpa = (await custom.getNamespacedCustomObject({ group: 'autoscaling', version: 'v2', namespace: NAMESPACE, plural: 'horizontalpodautoscalers', name: 'web' })) as {
      status: { conditions: { type: string; status: string; reason: string }[] }
    }
    expect(hpa.status.conditions).toContainEqual(expect.objectContaining({ type: 'ScalingActive', status: 'False', reason: 'ScalingDisabled' }))
    await kubectl('scale', 'deployment/web', '--replicas=9')
    await waitUntil('the HPA brings web to its maximum', () => replicas('web') === 4)
    expect(await replicasOwners('web')).toEqual([{ manager: 'kube-controller-manager', operation: 'Update', subresource: 'scale' }])
  })

  it('Argo CD self-heals tracked workloads (label or annotation tracking) until automated sync is removed', async () => {
    expect(await scaleToZeroAndWatch('argo-labelled')).toBe(2)
    expect(await scaleToZeroAndWatch('argo-annotated')).toBe(2)
    expect(await replicasOwners('argo-annotated')).toEqual([{ manager: 'argocd-controller', operation: 'Update', subresource: undefined }])

    await kubectl('patch', 'application', 'agents', '-n', 'argocd', '--type', 'merge', '-p', '{"spec":{"syncPolicy":{"automated":null}}}')
    expect(namespaceState(sandbox, 'argocd').applications.agents!.automated).toBeNull()
    expect(await scaleToZeroAndWatch('argo-labelled')).toBe(0)
    await waitUntil('the Application reports the drift', () => namespaceState(sandbox, 'argocd').applications.agents!.sync === 'OutOfSync')

    // Argo CD ≥ 3.1: automated with enabled: false is off too; enabled absent is on.
    await custom.patchNamespacedCustomObject(
      { group: 'argoproj.io', version: 'v1alpha1', namespace: 'argocd', plural: 'applications', name: 'agents', body: { spec: { syncPolicy: { automated: { selfHeal: true, enabled: false } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(replicas('argo-labelled')).toBe(0)
    await custom.patchNamespacedCustomObject(
      { group: 'argoproj.io', version: 'v1alpha1', namespace: 'argocd', plural: 'applications', name: 'agents', body: [{ op: 'remove', path: '/spec/syncPolicy/automated/enabled' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    )
    await waitUntil('Argo CD heals again', () => replicas('argo-labelled') === 2)
  })

  it('Flux re-applies (server-side apply) until the Kustomization or HelmRelease is suspended', async () => {
    expect(await scaleToZeroAndWatch('flux-applied')).toBe(2)
    expect(await replicasOwners('flux-applied')).toEqual([{ manager: 'kustomize-controller', operation: 'Apply', subresource: undefined }])
    expect(await scaleToZeroAndWatch('helm-installed')).toBe(2)
    expect(await replicasOwners('helm-installed')).toEqual([{ manager: 'helm-controller', operation: 'Apply', subresource: undefined }])

    await kubectl('patch', 'kustomization', 'agents', '-n', 'flux-system', '--type', 'merge', '-p', '{"spec":{"suspend":true}}')
    await kubectl('patch', 'helmrelease', 'agents', '--type', 'merge', '-p', '{"spec":{"suspend":true}}')
    expect(namespaceState(sandbox, 'flux-system').kustomizations.agents).toEqual({ suspend: true })
    expect(namespaceState(sandbox).helmReleases.agents).toEqual({ suspend: true })
    expect(await scaleToZeroAndWatch('flux-applied')).toBe(0)
    expect(await scaleToZeroAndWatch('helm-installed')).toBe(0)
    expect(await replicasOwners('flux-applied')).toEqual([{ manager: 'kubectl', operation: 'Update', subresource: 'scale' }])

    // Custom resources take no strategic merge patch, as their CRDs have no merge keys.
    const strategic = await kubectl.run('patch', 'kustomization', 'agents', '-n', 'flux-system', '--type', 'strategic', '-p', '{"spec":{"suspend":false}}')
    expect(strategic.stderr).toContain('application/strategic-merge-patch+json is not supported by kustomize.toolkit.fluxcd.io/v1, Kind=Kustomization')
  })

  it('the undiscoverable scaler scales its target back each time it is scaled to zero, under its own manager', async () => {
    await kubectl('scale', 'deployment/rogue-target', '--replicas=0')
    expect(replicas('rogue-target')).toBe(0)
    await waitUntil('the rogue scaler is back', () => replicas('rogue-target') === 2)
    expect(namespaceState(sandbox).deployments['rogue-target']!.replicasManager).toBe('rogue-operator')
    expect(await scaleToZeroAndWatch('rogue-target')).toBe(2)
  })

  it('managedFields give spec.replicas to exactly one manager: the last writer, by fieldManager or User-Agent', async () => {
    expect(await replicasOwners('web')).toEqual([{ manager: 'kubectl-client-side-apply', operation: 'Update', subresource: undefined }])
    await apps.patchNamespacedDeploymentScale(
      { name: 'web', namespace: NAMESPACE, fieldManager: 'killswitch', body: { spec: { replicas: 3 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    expect(await replicasOwners('web')).toEqual([{ manager: 'killswitch', operation: 'Update', subresource: 'scale' }])
    await kubectl('annotate', 'deployment', 'web', 'killswitch.dev/prior-replicas=3')
    const entries = (await apps.readNamespacedDeployment({ name: 'web', namespace: NAMESPACE })).metadata?.managedFields as (ManagedFieldsEntry & { fieldsV1: Record<string, unknown> })[]
    expect(entries.find((e) => e.manager === 'kubectl-annotate')).toMatchObject({
      operation: 'Update',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:killswitch.dev/prior-replicas': {} } } },
    })
    const viaUserAgent = await fetch(`${sandbox.url}/apis/apps/v1/namespaces/${NAMESPACE}/deployments/web/scale`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json', 'user-agent': 'halt-bot/1.2 (linux)' },
      body: '{"spec":{"replicas":2}}',
    })
    expect(viaUserAgent.status).toBe(200)
    expect(await replicasOwners('web')).toEqual([{ manager: 'halt-bot', operation: 'Update', subresource: 'scale' }])
    expect(namespaceState(sandbox).deployments.web!.replicasManager).toBe('halt-bot')
  })
})
