/**
 * The narrow view of the Kubernetes API that scale-to-zero uses: exactly the calls it makes, so that unit tests
 * run against an in-memory fake and the HTTP details stay in `http-client.ts`.
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
  annotations: Record<string, string>
  /** The pod template's `terminationGracePeriodSeconds` (Kubernetes' default 30 when unset). */
  terminationGracePeriodSeconds: number
  /** StatefulSets only; `null` for Deployments. */
  podManagementPolicy: 'OrderedReady' | 'Parallel' | null
  /** The workload's `spec.replicas` (what its scale subresource reports); `null` when the object does not say. */
  replicas: number | null
}

/** What the pod cache keeps of a pod: enough to tell which workload's selector it matches. */
export interface PodSummary {
  name: string
  labels: Record<string, string>
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
}

/** Opens a client for a kubeconfig context; `undefined` means the configured (or current) context. */
export type KubernetesConnector = (context?: string) => Promise<KubernetesClient>
