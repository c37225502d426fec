/**
 * `KubernetesClient` over node:https / node:http: the handful of REST calls scale-to-zero makes, with no SDK to load
 * (the Kubernetes SDK costs more start-up time than a whole halt). The connection, authentication and retry rules
 * live in `transport.ts`; wire formats in docs/primitives/kubernetes.md.
 */
import type { IncomingMessage } from 'node:http'
import type { ApiRequest } from './transport.js'
import type { KubernetesClient, KubernetesConnector, PodSummary, PodWatchEvent, Workload, WorkloadKind, WorkloadRef } from './client.js'
import { loadKubeconfig, type KubeconfigSource, type KubernetesConnection } from './kubeconfig.js'
import { labelSelectorToQuery, type StructuredLabelSelector } from './label-selector.js'
import { createTransport } from './transport.js'

export { KubernetesApiError } from './transport.js'

/** Kubernetes' default when a pod spec leaves terminationGracePeriodSeconds unset. */
const DEFAULT_GRACE_PERIOD_SECONDS = 30
/** The API server ends a watch after this long; the caller then lists again. */
const WATCH_SERVER_TIMEOUT_SECONDS = 30
/** The client gives up on a watch the server did not end in time (a dead connection) with a TimeoutError. */
const WATCH_CLIENT_TIMEOUT_MS = (WATCH_SERVER_TIMEOUT_SECONDS + 10) * 1000

const PLURAL: Record<WorkloadKind, string> = { deployment: 'deployments', statefulset: 'statefulsets' }

/** Connects with the runbook's kubeconfig; `context` overrides the configured one (a journal's recorded context). */
export function connectWithKubeconfig(source: KubeconfigSource): KubernetesConnector {
  return async (context) => createHttpKubernetesClient(loadKubeconfig({ ...source, context: context ?? source.context }), source.env)
}

/** What the client reads of a Deployment or StatefulSet. */
interface WorkloadObject {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> }
  spec?: {
    replicas?: number
    selector?: StructuredLabelSelector
    podManagementPolicy?: string
    template?: { spec?: { terminationGracePeriodSeconds?: number } }
  }
}

/** What the client reads of a Pod: its name and labels, nothing that would grow the cache. */
interface PodObject {
  metadata?: { name?: string; labels?: Record<string, string> }
}

interface ListOf<T> {
  metadata?: { resourceVersion?: string }
  items?: T[]
}

export function createHttpKubernetesClient(connection: KubernetesConnection, env: NodeJS.ProcessEnv): KubernetesClient {
  const { context, json, call } = createTransport(connection, env)

  const workloadPath = (ref: WorkloadRef, subresource = '') =>
    `/apis/apps/v1/namespaces/${encodeURIComponent(ref.namespace)}/${PLURAL[ref.kind]}/${encodeURIComponent(ref.name)}${subresource}`
  const podsPath = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`
  const mergePatch = (path: string, body: unknown, signal: AbortSignal): ApiRequest => ({
    method: 'PATCH',
    path,
    body,
    contentType: 'application/merge-patch+json',
    signal,
  })

  return {
    context,
    async listWorkloads(namespace, kind, labelSelector, signal) {
      const list = await json<ListOf<WorkloadObject>>(`list ${PLURAL[kind]} in ${namespace} with selector ${labelSelector}`, {
        method: 'GET',
        path: `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${PLURAL[kind]}`,
        query: { labelSelector },
        signal,
      })
      return (list?.items ?? []).map((item) => toWorkload(kind, item))
    },
    async readWorkload(ref, signal) {
      const object = await json<WorkloadObject>(`read ${describeRef(ref)}`, { method: 'GET', path: workloadPath(ref), signal }, { notFoundIsNull: true })
      return object && toWorkload(ref.kind, object)
    },
    async readScaleReplicas(ref, signal) {
      const scale = await json<{ spec?: { replicas?: number } }>(`read the scale of ${describeRef(ref)}`, {
        method: 'GET',
        path: workloadPath(ref, '/scale'),
        signal,
      })
      // ScaleSpec.replicas is `omitempty` on the wire, so zero replicas arrive as an absent field.
      return scale?.spec?.replicas ?? 0
    },
    async patchScaleReplicas(ref, replicas, signal) {
      await json(`scale ${describeRef(ref)} to ${replicas}`, mergePatch(workloadPath(ref, '/scale'), { spec: { replicas } }, signal))
    },
    async patchAnnotations(ref, annotations, signal) {
      await json(`annotate ${describeRef(ref)}`, mergePatch(workloadPath(ref), { metadata: { annotations } }, signal))
    },
    async listPods(namespace, signal) {
      const list = await json<ListOf<PodObject>>(`list pods in ${namespace}`, { method: 'GET', path: podsPath(namespace), signal })
      return { pods: (list?.items ?? []).map(toPodSummary), resourceVersion: list?.metadata?.resourceVersion ?? '' }
    },
    async deletePod(namespace, name, gracePeriodSeconds, signal) {
      await json(
        `delete pod ${name} in ${namespace}`,
        {
          method: 'DELETE',
          path: `${podsPath(namespace)}/${encodeURIComponent(name)}`,
          body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds },
          signal,
        },
        { notFoundIsNull: true },
      )
    },
    async watchPods(namespace, resourceVersion, onEvent, onEnd) {
      const stopped = new AbortController()
      const timeout = AbortSignal.timeout(WATCH_CLIENT_TIMEOUT_MS)
      const signal = AbortSignal.any([stopped.signal, timeout])
      const response = await call(`watch pods in ${namespace}`, {
        method: 'GET',
        path: podsPath(namespace),
        query: {
          watch: 'true',
          resourceVersion,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(WATCH_SERVER_TIMEOUT_SECONDS),
        },
        signal,
      })
      streamWatchEvents(response!, onEvent).then(
        () => onEnd(),
        (error: unknown) => onEnd(signal.aborted ? signal.reason : error),
      )
      return { stop: () => stopped.abort() }
    },
  }
}

/** Reads the newline-delimited `{"type":…,"object":…}` events of a watch until the server ends the response. */
async function streamWatchEvents(response: IncomingMessage, onEvent: (event: PodWatchEvent) => void): Promise<void> {
  response.setEncoding('utf8')
  let pending = ''
  const deliver = (line: string) => {
    if (line.trim() === '') return
    const event = JSON.parse(line) as { type: PodWatchEvent['type']; object?: PodObject }
    onEvent(event.type === 'ERROR' || event.type === 'BOOKMARK' ? { type: event.type } : { type: event.type, pod: toPodSummary(event.object ?? {}) })
  }
  for await (const chunk of response as AsyncIterable<string>) {
    pending += chunk
    let newline: number
    while ((newline = pending.indexOf('\n')) >= 0) {
      deliver(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
    }
  }
  deliver(pending)
}

function toWorkload(kind: WorkloadKind, object: WorkloadObject): Workload {
  return {
    namespace: object.metadata?.namespace ?? '',
    kind,
    name: object.metadata?.name ?? '',
    podSelector: labelSelectorToQuery(object.spec?.selector),
    annotations: object.metadata?.annotations ?? {},
    terminationGracePeriodSeconds: object.spec?.template?.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
    podManagementPolicy: kind === 'statefulset' ? (object.spec?.podManagementPolicy === 'Parallel' ? 'Parallel' : 'OrderedReady') : null,
    replicas: typeof object.spec?.replicas === 'number' ? object.spec.replicas : null,
  }
}

function toPodSummary(object: PodObject): PodSummary {
  return { name: object.metadata?.name ?? '', labels: object.metadata?.labels ?? {} }
}

function describeRef(ref: WorkloadRef): string {
  return `${ref.kind}/${ref.name} in ${ref.namespace}`
}

