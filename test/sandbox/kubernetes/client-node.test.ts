/**
 * The sandbox's Kubernetes plane against @kubernetes/client-node 2.x, the client the Kubernetes primitive uses:
 * reads, scale patches with both content types, label selectors, watches of graceful termination, StatefulSet
 * pod management policies, pod DELETE with a grace period, and optimistic concurrency on the scale subresource.
 */
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch, type V1Pod } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { NAMESPACE, podsOf, seed, waitUntil } from './support.js'

interface SeenEvent {
  type: string
  name: string
  terminating: boolean
}

describe('@kubernetes/client-node against the sandbox', () => {
  let sandbox: Sandbox
  let kubeConfig: KubeConfig
  let apps: AppsV1Api
  let core: CoreV1Api
  const aborts: AbortController[] = []

  beforeEach(async () => {
    sandbox = await startSandbox({ seed })
    kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(sandbox.kubeconfigPath)
    apps = kubeConfig.makeApiClient(AppsV1Api)
    core = kubeConfig.makeApiClient(CoreV1Api)
  })

  afterEach(async () => {
    for (const abort of aborts.splice(0)) abort.abort()
    await sandbox.stop()
  })

  /** Records pod events of `labelSelector`, starting from the current list (resourceVersion), until aborted. */
  async function watchPods(labelSelector: string): Promise<SeenEvent[]> {
    const list = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector })
    const seen: SeenEvent[] = []
    const abort = await new Watch(kubeConfig).watch(
      `/api/v1/namespaces/${NAMESPACE}/pods`,
      { labelSelector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type, pod: V1Pod) => {
        if (type !== 'BOOKMARK') seen.push({ type, name: pod.metadata!.name!, terminating: pod.metadata?.deletionTimestamp !== undefined })
      },
      () => {},
    )
    aborts.push(abort)
    return seen
  }

  it('reads a deployment and its scale subresource', async () => {
    const deployment = await apps.readNamespacedDeployment({ name: 'refund', namespace: NAMESPACE })
    expect(deployment.spec?.replicas).toBe(2)
    expect(deployment.spec?.selector.matchLabels).toEqual({ app: 'refund', class: 'refund' })
    expect(deployment.status?.readyReplicas).toBe(2)
    const scale = await apps.readNamespacedDeploymentScale({ name: 'refund', namespace: NAMESPACE })
    expect(scale.spec?.replicas).toBe(2)
    expect(scale.status).toEqual({ replicas: 2, selector: 'app=refund,class=refund' })
    expect(scale.metadata?.resourceVersion).toBe(deployment.metadata?.resourceVersion)
  })

  it('merge-patches the deployment scale to zero; a watch sees every pod MODIFIED (terminating) then DELETED', async () => {
    const seen = await watchPods('app=refund')
    const before = await apps.readNamespacedDeployment({ name: 'refund', namespace: NAMESPACE })
    const scale = await apps.patchNamespacedDeploymentScale(
      { name: 'refund', namespace: NAMESPACE, body: { spec: { replicas: 0 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )
    // ScaleSpec.replicas is omitempty: at 0 the field is absent, as from a real apiserver.
    expect(scale.spec?.replicas).toBeUndefined()
    expect(scale.status?.selector).toBe('app=refund,class=refund')

    await waitUntil('both pods are deleted', () => seen.filter((e) => e.type === 'DELETED').length === 2)
    const names = new Set(seen.map((e) => e.name))
    expect(names.size).toBe(2)
    for (const name of names) {
      const forPod = seen.filter((e) => e.name === name)
      expect(forPod.map((e) => [e.type, e.terminating])).toEqual([
        ['MODIFIED', true],
        ['DELETED', true],
      ])
    }
    const after = await apps.readNamespacedDeployment({ name: 'refund', namespace: NAMESPACE })
    expect(after.metadata?.generation).toBe((before.metadata?.generation ?? 0) + 1)
    expect(after.status?.observedGeneration).toBe(after.metadata?.generation)
    expect(after.status?.replicas).toBeUndefined()
    expect(podsOf(sandbox, 'deployment/refund')).toEqual([])
  })

  it('applies the default JSON patch to a StatefulSet scale', async () => {
    const scale = await apps.patchNamespacedStatefulSetScale({ name: 'ledger', namespace: NAMESPACE, body: [{ op: 'replace', path: '/spec/replicas', value: 1 }] })
    expect(scale.spec?.replicas).toBe(1)
    const statefulSet = await apps.readNamespacedStatefulSet({ name: 'ledger', namespace: NAMESPACE })
    expect(statefulSet.spec?.replicas).toBe(1)
    await waitUntil('ledger is down to one pod', () => podsOf(sandbox, 'statefulset/ledger').length === 1)
    expect(podsOf(sandbox, 'statefulset/ledger')[0]!.name).toBe('ledger-0')
  })

  it('lists workloads with label selectors', async () => {
    const names = async (labelSelector: string) =>
      (await apps.listNamespacedDeployment({ namespace: NAMESPACE, labelSelector })).items.map((item) => item.metadata?.name)
    expect(await names('class=refund')).toEqual(['refund'])
    expect(await names('class in (refund,lookup)')).toEqual(['refund', 'search'])
    expect(await names('class notin (refund)')).toEqual(['search'])
    expect(await names('canary')).toEqual(['search'])
    expect(await names('!canary,class!=lookup')).toEqual(['refund'])
    const statefulSets = await apps.listStatefulSetForAllNamespaces({ labelSelector: 'class==refund' })
    expect(statefulSets.items.map((item) => item.metadata?.name)).toEqual(['ledger', 'memory'])
  })

  it('OrderedReady removes one pod at a time from the highest ordinal; Parallel terminates all at once', async () => {
    const ordered = await watchPods('app=memory')
    const parallel = await watchPods('app=ledger')
    await apps.patchNamespacedStatefulSetScale({ name: 'memory', namespace: NAMESPACE, body: { spec: { replicas: 0 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
    await apps.patchNamespacedStatefulSetScale({ name: 'ledger', namespace: NAMESPACE, body: { spec: { replicas: 0 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
    await waitUntil('memory and ledger pods are all deleted', () => [ordered, parallel].every((seen) => seen.filter((e) => e.type === 'DELETED').length === 3), 15_000)

    expect(ordered.map((e) => `${e.type} ${e.name}`)).toEqual([
      'MODIFIED memory-2',
      'DELETED memory-2',
      'MODIFIED memory-1',
      'DELETED memory-1',
      'MODIFIED memory-0',
      'DELETED memory-0',
    ])
    expect(parallel.slice(0, 3).every((e) => e.type === 'MODIFIED' && e.terminating)).toBe(true)
    expect(parallel.slice(3).every((e) => e.type === 'DELETED')).toBe(true)
  })

  it('StatefulSet status.replicas counts terminating pods until they are gone', async () => {
    await apps.patchNamespacedStatefulSetScale({ name: 'ledger', namespace: NAMESPACE, body: [{ op: 'replace', path: '/spec/replicas', value: 0 }] })
    await waitUntil('ledger pods are terminating', () => podsOf(sandbox, 'statefulset/ledger').every((pod) => pod.terminating))
    const terminating = await apps.readNamespacedStatefulSetScale({ name: 'ledger', namespace: NAMESPACE })
    expect(terminating.status?.replicas).toBe(3)
    await waitUntil('ledger pods are gone', () => podsOf(sandbox, 'statefulset/ledger').length === 0)
    const gone = await apps.readNamespacedStatefulSetScale({ name: 'ledger', namespace: NAMESPACE })
    expect(gone.status?.replicas).toBe(0)
  })

  it('a pod DELETE with gracePeriodSeconds shortens a pending termination', async () => {
    const seen = await watchPods('app=search')
    const [pod] = podsOf(sandbox, 'deployment/search')
    await apps.patchNamespacedDeploymentScale({ name: 'search', namespace: NAMESPACE, body: [{ op: 'replace', path: '/spec/replicas', value: 0 }] })
    await waitUntil('the search pod is terminating with its 30 s grace', () => podsOf(sandbox, 'deployment/search')[0]?.terminating === true)
    const terminating = await core.readNamespacedPod({ name: pod!.name, namespace: NAMESPACE })
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(30)

    const shortened = await core.deleteNamespacedPod({ name: pod!.name, namespace: NAMESPACE, gracePeriodSeconds: 1 })
    expect(shortened.metadata?.deletionGracePeriodSeconds).toBe(1)
    await waitUntil('the search pod is gone well before 30 s', () => podsOf(sandbox, 'deployment/search').length === 0, 5_000)
    await waitUntil('the watch has delivered the deletion', () => seen.some((e) => e.type === 'DELETED'))
    expect(seen.map((e) => e.type)).toEqual(['MODIFIED', 'MODIFIED', 'DELETED'])
  })

  it('a pod DELETE of a running pod terminates it and the Deployment replaces it', async () => {
    const [victim, survivor] = podsOf(sandbox, 'deployment/refund')
    const deleted = await core.deleteNamespacedPod({ name: victim!.name, namespace: NAMESPACE, body: { gracePeriodSeconds: 1 } })
    expect(deleted.metadata?.deletionTimestamp).toBeDefined()
    await waitUntil('the victim is gone and a replacement runs', () => {
      const pods = podsOf(sandbox, 'deployment/refund')
      return pods.length === 2 && pods.every((p) => !p.terminating) && !pods.some((p) => p.name === victim!.name)
    })
    expect(podsOf(sandbox, 'deployment/refund').map((p) => p.name)).toContain(survivor!.name)
  })

  it('answers a stale scale PUT with 409 Conflict and a missing pod with 404 NotFound', async () => {
    const scale = await apps.readNamespacedDeploymentScale({ name: 'refund', namespace: NAMESPACE })
    await apps.replaceNamespacedDeploymentScale({ name: 'refund', namespace: NAMESPACE, body: { ...scale, spec: { replicas: 1 } } })
    const stale = await apps.replaceNamespacedDeploymentScale({ name: 'refund', namespace: NAMESPACE, body: { ...scale, spec: { replicas: 0 } } }).catch((e: unknown) => e)
    expect(stale).toBeInstanceOf(ApiException)
    expect((stale as ApiException<unknown>).code).toBe(409)
    expect(JSON.parse((stale as ApiException<string>).body)).toMatchObject({ kind: 'Status', reason: 'Conflict', code: 409 })
    expect((await apps.readNamespacedDeployment({ name: 'refund', namespace: NAMESPACE })).spec?.replicas).toBe(1)

    const missing = await core.deleteNamespacedPod({ name: 'nope', namespace: NAMESPACE }).catch((e: unknown) => e)
    expect((missing as ApiException<unknown>).code).toBe(404)
  })
})
