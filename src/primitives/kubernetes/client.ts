/**
 * The narrow view of the Kubernetes API that scale-to-zero uses: exactly the calls it makes, so that unit tests
 * run against an in-memory fake and the HTTP details stay in `http-client.ts`. Workloads and pods have typed calls
 * (they are on the hot path of every halt); the objects a halt touches more rarely (ReplicaSets, CronJobs, Jobs and
 * the reconcilers' custom resources) go through the four generic object calls at the end.
 */

export type WorkloadKind = 'deployment' | 'statefulset'

export interface WorkloadRef {
  namespace: string
  kind: WorkloadKind
  name: string
}

export interface Workload extends WorkloadRef {
  /** `spec.selector` as a label query (`app=agent,tier in (a,b)`): which pods belong to the workload. */
  podSelector: string
  /** The workload's own `metadata.labels` (GitOps controllers mark what they manage with them). */
  labels: Record<string, string>
  annotations: Record<string, string>
  /** The pod template's `terminationGracePeriodSeconds` (Kubernetes' default 30 when unset). */
  terminationGracePeriodSeconds: number
  /** StatefulSets only; `null` for Deployments. */
  podManagementPolicy: 'OrderedReady' | 'Parallel' | null
  /** The workload's `spec.replicas` (what its scale subresource reports); `null` when the object does not say. */
  replicas: number | null
  /** The field manager (`metadata.managedFields`) that owns `spec.replicas`: who last set the count. */
  replicasManager?: string
}

/** An object's controlling owner (`metadata.ownerReferences[]` with `controller: true`). */
export interface OwnerRef {
  kind: string
  name: string
}

/**
 * What the pod cache keeps of a pod: enough to tell whose it is and whether it still runs, nothing that would grow
 * the cache further. The optional fields are absent only where a source does not give them.
 */
export interface PodSummary {
  name: string
  labels: Record<string, string>
  /** The controlling owner; `null` for a pod no controller owns. */
  owner?: OwnerRef | null
  /** `status.phase`: `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`. */
  phase?: string
  /** `status.reason`, e.g. `Evicted`. */
  reason?: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  finalizers?: string[]
  nodeName?: string
}

/** A resource type of the API: `{group: 'batch', version: 'v1', plural: 'cronjobs'}`; group `''` is the core group. */
export interface ApiResource {
  group: string
  version: string
  plural: string
  /** Cluster-scoped resources (nodes) take no namespace. */
  clusterScoped?: boolean
}

/** Any object as the API server sends it. */
export interface KubeObject {
  metadata?: {
    name?: string
    namespace?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>
    [key: string]: unknown
  }
  spec?: Record<string, unknown>
  status?: Record<string, unknown>
}

export interface PodList {
  /** Every pod of the namespace, terminating ones included. */
  pods: PodSummary[]
  /** The list's resourceVersion, where a watch starts so that no change is missed. */
  resourceVersion: string
}

export interface PodWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'
  /** The pod; absent for BOOKMARK and ERROR. */
  pod?: PodSummary
}

export interface PodWatch {
  stop(): void
}

export interface KubernetesClient {
  /** The kubeconfig context this client talks to; part of every target id. */
  readonly context: string
  listWorkloads(namespace: string, kind: WorkloadKind, labelSelector: string, signal: AbortSignal): Promise<Workload[]>
  /** `null` when the workload does not exist. */
  readWorkload(ref: WorkloadRef, signal: AbortSignal): Promise<Workload | null>
  /** `spec.replicas` of the scale subresource. */
  readScaleReplicas(ref: WorkloadRef, signal: AbortSignal): Promise<number>
  /** Merge-patches the scale subresource's `spec.replicas`. */
  patchScaleReplicas(ref: WorkloadRef, replicas: number, signal: AbortSignal): Promise<void>
  /** Merge-patches the workload's annotations; a `null` value removes the annotation. */
  patchAnnotations(ref: WorkloadRef, annotations: Record<string, string | null>, signal: AbortSignal): Promise<void>
  /** Every pod of the namespace: one list serves every workload there. */
  listPods(namespace: string, signal: AbortSignal): Promise<PodList>
  /** Deletes one pod with the given grace period; a pod already gone is not an error. */
  deletePod(namespace: string, name: string, gracePeriodSeconds: number, signal: AbortSignal): Promise<void>
  /**
   * Watches every pod of the namespace from `resourceVersion`. `onEnd` is called once when the watch ends: with no argument when the
   * server closed it, with the error otherwise (including a silent connection given up after 40 s, a `TimeoutError`; the server ends a watch after 30 s).
   */
  watchPods(
    namespace: string,
    resourceVersion: string,
    onEvent: (event: PodWatchEvent) => void,
    onEnd: (error?: unknown) => void,
  ): Promise<PodWatch>
  /** The namespace's objects of a type (with a label selector, if given); `null` when the server does not serve the type (no such CRD). */
  listObjects(resource: ApiResource, namespace: string, labelSelector: string | undefined, signal: AbortSignal): Promise<KubeObject[] | null>
  /** `null` when the object, or its type, does not exist. */
  readObject(resource: ApiResource, namespace: string, name: string, signal: AbortSignal): Promise<KubeObject | null>
  /** A JSON merge patch (RFC 7386) of one object. */
  patchObject(resource: ApiResource, namespace: string, name: string, patch: unknown, signal: AbortSignal): Promise<void>
  /** Deletes one object, its dependents in the background (`propagationPolicy: Background`); one already gone is not an error. */
  deleteObject(resource: ApiResource, namespace: string, name: string, signal: AbortSignal): Promise<void>
}

/** Opens a client for a kubeconfig context; `undefined` means the configured (or current) context. */
export type KubernetesConnector = (context?: string) => Promise<KubernetesClient>
