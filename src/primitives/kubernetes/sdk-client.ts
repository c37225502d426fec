/**
 * `KubernetesClient` over @kubernetes/client-node 2.x. The SDK is imported on first use only, so a runbook without
 * Kubernetes steps never loads it. Every call carries the operation's abort signal.
 */
import type { ConfigurationOptions, KubeConfig, V1Deployment, V1StatefulSet } from '@kubernetes/client-node'
import { PrimitiveError } from '../../core/primitive.js'
import { delay } from '../../core/wait.js'
import type { KubernetesClient, KubernetesConnector, PodWatchEvent, Workload, WorkloadKind, WorkloadRef } from './client.js'
import { loadKubeConfig, type KubeconfigSource } from './kubeconfig.js'
import { labelSelectorToQuery } from './label-selector.js'

type KubernetesModule = typeof import('@kubernetes/client-node')

/** Kubernetes' default when a pod spec leaves terminationGracePeriodSeconds unset. */
const DEFAULT_GRACE_PERIOD_SECONDS = 30
/** Wait after a 429 that names no Retry-After. */
const DEFAULT_RETRY_MS = 1000

/** Connects with the runbook's kubeconfig; `context` overrides the configured one (a journal's recorded context). */
export function connectWithKubeconfig(source: KubeconfigSource): KubernetesConnector {
  return async (context) => {
    const k8s = await import('@kubernetes/client-node')
    const config = loadKubeConfig(k8s, { ...source, context: context ?? source.context })
    return createSdkKubernetesClient(k8s, config)
  }
}

function createSdkKubernetesClient(k8s: KubernetesModule, config: KubeConfig): KubernetesClient {
  const apps = config.makeApiClient(k8s.AppsV1Api)
  const core = config.makeApiClient(k8s.CoreV1Api)
  const context = config.getCurrentContext()

  const withSignal = (signal: AbortSignal, options?: ConfigurationOptions): ConfigurationOptions => ({
    ...options,
    middleware: [
      ...(options?.middleware ?? []),
      {
        pre: (request) => {
          request.setSignal(signal)
          return new k8s.Observable(Promise.resolve(request))
        },
        post: (response) => new k8s.Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: 'append',
  })
  const mergePatch = (signal: AbortSignal) => withSignal(signal, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))

  const toWorkload = (kind: WorkloadKind, object: V1Deployment | V1StatefulSet): Workload => ({
    namespace: object.metadata?.namespace ?? '',
    kind,
    name: object.metadata?.name ?? '',
    podSelector: labelSelectorToQuery(object.spec?.selector),
    annotations: object.metadata?.annotations ?? {},
    terminationGracePeriodSeconds: object.spec?.template.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
    podManagementPolicy:
      kind === 'statefulset' ? ((object as V1StatefulSet).spec?.podManagementPolicy === 'Parallel' ? 'Parallel' : 'OrderedReady') : null,
  })

  /**
   * Runs one API call, waiting out 429s as the API server asks (`Retry-After`, else 1 s) until the operation's
   * signal aborts; `ifNotFound` is the answer for a 404 when the caller expects one.
   */
  const call = async <T>(what: string, signal: AbortSignal, request: () => Promise<T>, ifNotFound?: { value: T }): Promise<T> => {
    for (;;) {
      try {
        return await request()
      } catch (error) {
        if (error instanceof k8s.ApiException && error.code === 404 && ifNotFound) return ifNotFound.value
        if (!(error instanceof k8s.ApiException) || error.code !== 429) throw explain(k8s, context, what, error)
        await delay(retryAfterMs(error.headers), signal)
      }
    }
  }

  return {
    context,
    async listWorkloads(namespace, kind, labelSelector, signal) {
      const options = withSignal(signal)
      if (kind === 'deployment') {
        const list = await call(`list deployments in ${namespace}`, signal, () => apps.listNamespacedDeployment({ namespace, labelSelector }, options))
        return list.items.map((item) => toWorkload(kind, item))
      }
      const list = await call(`list statefulsets in ${namespace}`, signal, () => apps.listNamespacedStatefulSet({ namespace, labelSelector }, options))
      return list.items.map((item) => toWorkload(kind, item))
    },
    async readWorkload(ref, signal) {
      const params = { name: ref.name, namespace: ref.namespace }
      const object = await call(
        `read ${describeRef(ref)}`,
        signal,
        (): Promise<V1Deployment | V1StatefulSet | null> =>
          ref.kind === 'deployment'
            ? apps.readNamespacedDeployment(params, withSignal(signal))
            : apps.readNamespacedStatefulSet(params, withSignal(signal)),
        { value: null },
      )
      return object && toWorkload(ref.kind, object)
    },
    async readScaleReplicas(ref, signal) {
      const params = { name: ref.name, namespace: ref.namespace }
      const scale = await call(`read the scale of ${describeRef(ref)}`, signal, () =>
        ref.kind === 'deployment'
          ? apps.readNamespacedDeploymentScale(params, withSignal(signal))
          : apps.readNamespacedStatefulSetScale(params, withSignal(signal)),
      )
      // ScaleSpec.replicas is `omitempty` on the wire, so zero replicas arrive as an absent field.
      return scale.spec?.replicas ?? 0
    },
    async patchScaleReplicas(ref, replicas, signal) {
      const params = { name: ref.name, namespace: ref.namespace, body: { spec: { replicas } } }
      await call(`scale ${describeRef(ref)} to ${replicas}`, signal, () =>
        ref.kind === 'deployment'
          ? apps.patchNamespacedDeploymentScale(params, mergePatch(signal))
          : apps.patchNamespacedStatefulSetScale(params, mergePatch(signal)),
      )
    },
    async patchAnnotations(ref, annotations, signal) {
      const params = { name: ref.name, namespace: ref.namespace, body: { metadata: { annotations } } }
      await call(`annotate ${describeRef(ref)}`, signal, () =>
        ref.kind === 'deployment'
          ? apps.patchNamespacedDeployment(params, mergePatch(signal))
          : apps.patchNamespacedStatefulSet(params, mergePatch(signal)),
      )
    },
    async listPods(namespace, labelSelector, signal) {
      const list = await call(`list pods in ${namespace}`, signal, () => core.listNamespacedPod({ namespace, labelSelector }, withSignal(signal)))
      return {
        names: list.items.map((pod) => pod.metadata?.name ?? ''),
        resourceVersion: list.metadata?.resourceVersion ?? '',
      }
    },
    async deletePod(namespace, name, gracePeriodSeconds, signal) {
      await call(
        `delete pod ${namespace}/${name}`,
        signal,
        async () => void (await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds }, withSignal(signal))),
        { value: undefined },
      )
    },
    async watchPods(namespace, labelSelector, resourceVersion, onEvent, onEnd) {
      const watch = new k8s.Watch(config)
      const controller = await watch.watch(
        `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
        { labelSelector, resourceVersion, allowWatchBookmarks: true },
        (type: string, object: { metadata?: { name?: string } } | undefined) => {
          onEvent({ type: type as PodWatchEvent['type'], name: object?.metadata?.name })
        },
        (error: unknown) => onEnd(error ?? undefined),
      )
      return { stop: () => controller.abort() }
    },
  }
}

function retryAfterMs(headers: Record<string, string>): number {
  const seconds = Number(headers['retry-after'])
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_RETRY_MS
}

function describeRef(ref: WorkloadRef): string {
  return `${ref.kind}/${ref.name} in ${ref.namespace}`
}

/** Turns an API error into one that says what was attempted; 401/403 become operator errors with a next step. */
function explain(k8s: KubernetesModule, context: string, what: string, error: unknown): Error {
  if (!(error instanceof k8s.ApiException)) return error instanceof Error ? error : new Error(String(error))
  const body = error.body as { message?: string } | string | undefined
  const detail = typeof body === 'object' && body?.message ? body.message : `HTTP ${error.code}`
  if (error.code === 401 || error.code === 403) {
    return new PrimitiveError(
      `Kubernetes refused to ${what} (context ${context}): ${detail}`,
      'grant the break-glass identity the RBAC rules in docs/primitives/kubernetes.md, or check credentials.kubernetes',
      error.code === 401 ? 'KubernetesUnauthorized' : 'KubernetesForbidden',
    )
  }
  return new Error(`Kubernetes could not ${what} (context ${context}): ${detail}`)
}
