/**
 * `KubernetesClient` over node:https / node:http: the handful of REST calls scale-to-zero makes, with no SDK to load
 * (the Kubernetes SDK costs more start-up time than a whole halt). The connection, authentication and retry rules
 * live in `transport.ts`; wire formats in docs/primitives/kubernetes.md.
 */
import type { IncomingMessage } from 'node:http'
import type { ApiRequest } from './transport.js'
import type {
  ApiResource,
  KubeObject,
  KubernetesClient,
  KubernetesConnector,
  OwnerRef,
  PodSummary,
  PodWatchEvent,
  Workload,
  WorkloadKind,
  WorkloadRef,
} from './client.js'
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
/** One `metadata.managedFields[]` entry: which manager owns which fields (`fieldsV1`), and when it last wrote. */
interface ManagedFieldsEntry {
  manager?: string
  time?: string
  fieldsV1?: { 'f:spec'?: { 'f:replicas'?: unknown } }
}

interface WorkloadObject {
  metadata?: {
    name?: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    managedFields?: ManagedFieldsEntry[]
  }
  spec?: {
    replicas?: number
    selector?: StructuredLabelSelector
    podManagementPolicy?: string
    template?: { spec?: { terminationGracePeriodSeconds?: number } }
  }
}

/** What the client reads of a Pod: who owns it and whether it still runs, nothing that would grow the cache. */
interface PodObject {
  metadata?: {
    name?: string
    labels?: Record<string, string>
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>
    deletionTimestamp?: string
    deletionGracePeriodSeconds?: number
    finalizers?: string[]
  }
  spec?: { nodeName?: string }
  status?: { phase?: string; reason?: string }
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
    async listObjects(resource, namespace, labelSelector, signal) {
      const list = await json<ListOf<KubeObject>>(
        `list ${resourceName(resource)} in ${namespace}`,
        { method: 'GET', path: objectPath(resource, namespace), ...(labelSelector === undefined ? {} : { query: { labelSelector } }), signal },
        { notFoundIsNull: true },
      )
      return list && (list.items ?? [])
    },
    async readObject(resource, namespace, name, signal) {
      return await json<KubeObject>(`read ${resourceName(resource)} ${name} in ${namespace}`, { method: 'GET', path: objectPath(resource, namespace, name), signal }, { notFoundIsNull: true })
    },
    async patchObject(resource, namespace, name, patch, signal) {
      await json(`patch ${resourceName(resource)} ${name} in ${namespace}`, mergePatch(objectPath(resource, namespace, name), patch, signal))
    },
    async deleteObject(resource, namespace, name, signal) {
      await json(
        `delete ${resourceName(resource)} ${name} in ${namespace}`,
        {
          method: 'DELETE',
          path: objectPath(resource, namespace, name),
          body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
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

/** `/api/v1/namespaces/NS/pods`, `/apis/batch/v1/namespaces/NS/cronjobs/NAME`, `/api/v1/nodes/NAME`. */
function objectPath(resource: ApiResource, namespace: string, name?: string): string {
  const base = resource.group === '' ? `/api/${resource.version}` : `/apis/${resource.group}/${resource.version}`
  const scope = resource.clusterScoped ? '' : `/namespaces/${encodeURIComponent(namespace)}`
  return `${base}${scope}/${resource.plural}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`
}

function resourceName(resource: ApiResource): string {
  return resource.group === '' ? resource.plural : `${resource.plural}.${resource.group}`
}

/** The controlling owner reference; `null` when no controller owns the object. */
export function controllerOf(references: Array<{ kind?: string; name?: string; controller?: boolean }> | undefined): OwnerRef | null {
  const owner = references?.find((r) => r.controller === true)
  return owner?.kind && owner.name ? { kind: owner.kind, name: owner.name } : null
}

/**
 * The manager whose managedFields entry owns `spec.replicas`. The API server moves a field to whoever writes it
 * last, so one entry holds it; should several claim it (an Apply and an Update sharing it), the latest write wins.
 */
function replicasManager(entries: ManagedFieldsEntry[] | undefined): string | undefined {
  const owners = (entries ?? []).filter((e) => e.manager && e.fieldsV1?.['f:spec']?.['f:replicas'] !== undefined)
  owners.sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''))
  return owners.at(-1)?.manager
}

function toWorkload(kind: WorkloadKind, object: WorkloadObject): Workload {
  const manager = replicasManager(object.metadata?.managedFields)
  return {
    namespace: object.metadata?.namespace ?? '',
    kind,
    name: object.metadata?.name ?? '',
    podSelector: labelSelectorToQuery(object.spec?.selector),
    labels: object.metadata?.labels ?? {},
    ...(manager === undefined ? {} : { replicasManager: manager }),
    annotations: object.metadata?.annotations ?? {},
    terminationGracePeriodSeconds: object.spec?.template?.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
    podManagementPolicy: kind === 'statefulset' ? (object.spec?.podManagementPolicy === 'Parallel' ? 'Parallel' : 'OrderedReady') : null,
    replicas: typeof object.spec?.replicas === 'number' ? object.spec.replicas : null,
  }
}

function toPodSummary(object: PodObject): PodSummary {
  const meta = object.metadata
  const summary: PodSummary = { name: meta?.name ?? '', labels: meta?.labels ?? {}, owner: controllerOf(meta?.ownerReferences) }
  if (object.status?.phase !== undefined) summary.phase = object.status.phase
  if (object.status?.reason !== undefined) summary.reason = object.status.reason
  if (meta?.deletionTimestamp !== undefined) summary.deletionTimestamp = meta.deletionTimestamp
  if (meta?.deletionGracePeriodSeconds !== undefined) summary.deletionGracePeriodSeconds = meta.deletionGracePeriodSeconds
  if (meta?.finalizers?.length) summary.finalizers = meta.finalizers
  if (object.spec?.nodeName !== undefined) summary.nodeName = object.spec.nodeName
  return summary
}

function describeRef(ref: WorkloadRef): string {
  return `${ref.kind}/${ref.name} in ${ref.namespace}`
}

