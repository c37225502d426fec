/**
 * The `kubernetes` section of the sandbox seed: what the cluster holds when the sandbox starts. Every field and
 * default is described in docs/sandbox/kubernetes.md#seed.
 */
import { z } from 'zod'

const stringMap = z.record(z.string(), z.string()).default({})
/** `deployment/NAME` or `statefulset/NAME`: a workload in the same namespace. */
const workloadRef = z.string().regex(/^(deployment|statefulset)\/[^/]+$/, 'expected deployment/NAME or statefulset/NAME')

export const WorkloadSeed = z
  .object({
    name: z.string(),
    /** The selector, the pod template's labels and the workload's own labels. */
    labels: stringMap,
    annotations: stringMap,
    /** Labels on the workload's metadata only (not in its selector or template), e.g. GitOps tracking labels. */
    metadataLabels: stringMap,
    replicas: z.number().int().min(0),
    terminationGracePeriodSeconds: z.number().int().min(0).default(30),
    /** StatefulSets only: OrderedReady deletes pods one at a time, Parallel all at once. */
    podManagementPolicy: z.enum(['OrderedReady', 'Parallel']).default('OrderedReady'),
    /** Finalizers every pod of the workload carries: a deleted pod stays Terminating until a PATCH removes them. */
    podFinalizers: z.array(z.string()).default([]),
    /** The node the seeded pods run on (default sandbox-node-1); replacements go to a Ready node. */
    nodeName: z.string().optional(),
  })
  .strict()

export const PodSeed = z
  .object({
    name: z.string(),
    labels: stringMap,
    /** The pod's controller; absent (and no ownerWorkload): a bare pod. */
    owner: z.object({ kind: z.string(), name: z.string(), apiVersion: z.string().optional() }).strict().optional(),
    /** Owned by that workload: its ReplicaSet (Deployment) or the StatefulSet itself. */
    ownerWorkload: workloadRef.optional(),
    phase: z.enum(['Running', 'Pending', 'Failed', 'Succeeded']).default('Running'),
    /** `status.reason`, e.g. Evicted. */
    reason: z.string().optional(),
    finalizers: z.array(z.string()).default([]),
    /** Default: sandbox-node-1, except Pending pods, which are unscheduled unless a node is given. */
    nodeName: z.string().optional(),
    /** Default: the owning workload's, else 30. */
    terminationGracePeriodSeconds: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((pod) => pod.owner === undefined || pod.ownerWorkload === undefined, { message: 'a pod has either owner or ownerWorkload, not both' })

export const CronJobSeed = z
  .object({
    name: z.string(),
    labels: stringMap,
    schedule: z.string().default('*/5 * * * *'),
    suspend: z.boolean().default(false),
    /** Jobs running now, each with one Running pod. */
    activeJobs: z.number().int().min(0).default(0),
    /** Sandbox speed knob: while not suspended, a new Job starts every this many ms (instead of on the schedule). */
    everyMs: z.number().int().min(1).optional(),
    terminationGracePeriodSeconds: z.number().int().min(0).default(30),
  })
  .strict()

export const JobSeed = z
  .object({
    name: z.string(),
    labels: stringMap,
    /** Pods running at once (`spec.parallelism` and `spec.completions`). */
    pods: z.number().int().min(0).default(1),
    terminationGracePeriodSeconds: z.number().int().min(0).default(30),
  })
  .strict()

export const ScaledObjectSeed = z
  .object({
    name: z.string(),
    target: workloadRef,
    minReplicaCount: z.number().int().min(0).default(0),
    maxReplicaCount: z.number().int().min(1).default(100),
    /** Whether the trigger has work: an active ScaledObject keeps its target at one replica or more. */
    active: z.boolean().default(false),
    annotations: stringMap,
  })
  .strict()

export const HpaSeed = z
  .object({
    name: z.string(),
    target: workloadRef,
    minReplicas: z.number().int().min(1).default(1),
    maxReplicas: z.number().int().min(1),
  })
  .strict()

export const ScaleBackSeed = z
  .object({
    target: workloadRef,
    afterMs: z.number().int().min(0),
    replicas: z.number().int().min(1),
    /** The field manager its writes are recorded under. */
    manager: z.string(),
  })
  .strict()

export const KubernetesNamespaceSeed = z
  .object({
    deployments: z.array(WorkloadSeed).default([]),
    statefulsets: z.array(WorkloadSeed).default([]),
    pods: z.array(PodSeed).default([]),
    cronjobs: z.array(CronJobSeed).default([]),
    jobs: z.array(JobSeed).default([]),
    scaledObjects: z.array(ScaledObjectSeed).default([]),
    hpas: z.array(HpaSeed).default([]),
    /** An undiscoverable scaler: each time the target is scaled to 0, afterMs later it is scaled back. */
    scaleBack: z.array(ScaleBackSeed).default([]),
  })
  .strict()

const automatedPolicy = z.object({ selfHeal: z.boolean().optional(), prune: z.boolean().optional(), enabled: z.boolean().optional() }).strict()

export const ArgoApplicationSeed = z
  .object({
    name: z.string(),
    namespace: z.string().default('argocd'),
    /** `spec.syncPolicy.automated`; absent: `{ prune: true, selfHeal: true }`; null: manual sync only. */
    automated: automatedPolicy.nullable().default({ prune: true, selfHeal: true }),
    destinationNamespace: z.string(),
  })
  .strict()

export const KustomizationSeed = z
  .object({ name: z.string(), namespace: z.string().default('flux-system'), suspend: z.boolean().default(false) })
  .strict()

export const HelmReleaseSeed = z
  .object({
    name: z.string(),
    namespace: z.string(),
    suspend: z.boolean().default(false),
    /** `spec.driftDetection.mode`: helm-controller corrects drift only when enabled. */
    driftDetection: z.enum(['enabled', 'warn', 'disabled']).default('enabled'),
  })
  .strict()

export const RbacRuleSeed = z
  .object({
    apiGroups: z.array(z.string()),
    resources: z.array(z.string()),
    verbs: z.array(z.string()),
    resourceNames: z.array(z.string()).optional(),
  })
  .strict()

export const RbacUserSeed = z
  .object({
    name: z.string().min(1),
    groups: z.array(z.string()).default([]),
    rules: z.array(RbacRuleSeed).default([]),
    /** A Role and RoleBinding in each; absent: a ClusterRole and ClusterRoleBinding. */
    namespaces: z.array(z.string()).optional(),
  })
  .strict()

export const KubernetesSeed = z
  .object({
    namespaces: z.record(z.string(), KubernetesNamespaceSeed).default({}),
    /** Nodes besides sandbox-node-1 (always there, Ready unless listed here as not). */
    nodes: z.array(z.object({ name: z.string(), ready: z.boolean().default(true) }).strict()).default([]),
    /** The emulated reconcilers' (KEDA, HPA, Argo CD, Flux, CronJob) interval and reaction delay. */
    reconcileIntervalMs: z.number().int().min(1).default(500),
    argocd: z.object({ applications: z.array(ArgoApplicationSeed).default([]) }).strict().prefault({}),
    flux: z.object({ kustomizations: z.array(KustomizationSeed).default([]), helmReleases: z.array(HelmReleaseSeed).default([]) }).strict().prefault({}),
    rbac: z.object({ users: z.array(RbacUserSeed).default([]) }).strict().prefault({}),
    /** Custom resource definitions installed even without objects of theirs in the seed. */
    crds: z.array(z.enum(['keda', 'argocd', 'flux'])).default([]),
  })
  .strict()

export type KubernetesSeed = z.infer<typeof KubernetesSeed>
export type KubernetesNamespaceSeed = z.infer<typeof KubernetesNamespaceSeed>
export type WorkloadSeed = z.infer<typeof WorkloadSeed>
export type PodSeed = z.infer<typeof PodSeed>
export type CronJobSeed = z.infer<typeof CronJobSeed>
export type JobSeed = z.infer<typeof JobSeed>
export type ScaledObjectSeed = z.infer<typeof ScaledObjectSeed>
export type HpaSeed = z.infer<typeof HpaSeed>
export type ScaleBackSeed = z.infer<typeof ScaleBackSeed>
export type ArgoApplicationSeed = z.infer<typeof ArgoApplicationSeed>
export type KustomizationSeed = z.infer<typeof KustomizationSeed>
export type HelmReleaseSeed = z.infer<typeof HelmReleaseSeed>
export type RbacUserSeed = z.infer<typeof RbacUserSeed>
export type RbacRuleSeed = z.infer<typeof RbacRuleSeed>
