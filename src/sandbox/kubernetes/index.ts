/**
 * The sandbox's Kubernetes plane: apps/v1 Deployments, StatefulSets and ReplicaSets with scale subresources, core/v1
 * Pods, Nodes and Namespaces, batch/v1 CronJobs and Jobs, autoscaling/v2 HPAs, the KEDA, Argo CD and Flux custom
 * resources with their controllers, watches, graceful pod termination, RBAC, legacy discovery. Behaviour and
 * sources: docs/sandbox/kubernetes.md.
 */
import type { ServerResponse } from 'node:http'
import type { Plane, PlaneOptions, SandboxRequest } from '../server.js'
import { Autoscalers } from './autoscalers.js'
import { BatchController } from './batch.js'
import { WorkloadController } from './controller.js'
import { workloadOf } from './custom-resources.js'
import { creatorOf, GitOps } from './gitops.js'
import { requestAttributes, sendJson, serveRoute, type PlaneParts } from './handlers.js'
import { Kubelet } from './kubelet.js'
import { replicasManager, withManagedFields } from './managed-fields.js'
import {
  controllerOf,
  controllerReference,
  DEFAULT_NODE,
  isNodeReady,
  isTerminating,
  newNamespace,
  newNode,
  newPod,
  newWorkload,
  type GenericObject,
  type OwnerReference,
  type Placement,
  type Pod,
} from './objects.js'
import { Authorizer, forbidden, ImpersonationError } from './rbac.js'
import { ResourceWriter } from './resource-writer.js'
import type { AddOn, WorkloadResource } from './resources.js'
import { route } from './routes.js'
import type { KubernetesSeed, PodSeed } from './seed.js'
import { ApiError, internalError, notEmulatedError, tooManyRequestsError } from './status.js'
import { ObjectStore } from './store.js'
import { serveTls, type TlsEndpoint } from './tls.js'
import { WatchStreams } from './watch.js'
import { WorkloadWriter } from './workloads.js'

export { kubeconfigFor } from './kubeconfig.js'

interface WorkloadState {
  /** spec.replicas */
  replicas: number
  annotations: Record<string, string>
  labels: Record<string, string>
  status: { replicas: number; terminatingReplicas?: number }
  /** Deployments: `spec.paused` (kubectl rollout pause). */
  paused: boolean
  /** The managedFields manager that owns spec.replicas: who last set the count. */
  replicasManager: string | null
}

interface PodState {
  name: string
  /** `deployment/<name>`, `statefulset/<name>`, `job/<name>`, `<kind>/<name>` for other owners; '' for a bare pod. */
  owner: string
  /** The controller reference's kind (ReplicaSet, StatefulSet, Job, …); '' for a bare pod. */
  ownerKind: string
  phase: string
  reason?: string
  terminating: boolean
  finalizers: string[]
  /** spec.nodeName; '' when not scheduled. */
  node: string
}

export interface NamespaceState {
  deployments: Record<string, WorkloadState>
  statefulsets: Record<string, WorkloadState>
  pods: PodState[]
  replicasets: Record<string, { replicas: number; owner: string; status: { replicas: number } }>
  cronjobs: Record<string, { suspend: boolean; schedule: string; active: string[] }>
  jobs: Record<string, { owner: string; active: number; failed: number; terminating: boolean; finalizers: string[] }>
  scaledObjects: Record<string, { target: string; annotations: Record<string, string>; paused: boolean; minReplicaCount: number; maxReplicaCount: number }>
  hpas: Record<string, { target: string; minReplicas: number; maxReplicas: number; currentReplicas: number; owner: string }>
  /** Argo CD Applications (in their own namespace, usually `argocd`): `automated` is spec.syncPolicy.automated or null. */
  applications: Record<string, { automated: Record<string, unknown> | null; sync: string; health: string }>
  kustomizations: Record<string, { suspend: boolean }>
  helmReleases: Record<string, { suspend: boolean }>
}

/** Namespaces that exist in every cluster, whether or not the seed mentions them. */
const BUILTIN_NAMESPACES = ['default', 'kube-system']

/** The add-ons whose CRDs the seed installs: asked for, or implied by objects of theirs. */
function installedAddOns(seed: KubernetesSeed): Set<AddOn> {
  const installed = new Set<AddOn>(seed.crds)
  if (Object.values(seed.namespaces).some((ns) => ns.scaledObjects.length > 0)) installed.add('keda')
  if (seed.argocd.applications.length > 0) installed.add('argocd')
  if (seed.flux.kustomizations.length > 0 || seed.flux.helmReleases.length > 0) installed.add('flux')
  return installed
}

function defaultApiVersion(kind: string): string {
  if (['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Deployment'].includes(kind)) return 'apps/v1'
  if (kind === 'Job' || kind === 'CronJob') return 'batch/v1'
  if (kind === 'Rollout') return 'argoproj.io/v1alpha1'
  return 'v1'
}

function ownerString(kind: string, name: string): string {
  return `${kind.toLowerCase()}/${name}`
}

class KubernetesCluster {
  readonly store = new ObjectStore()
  readonly kubelet = new Kubelet(this.store)
  readonly controller: WorkloadController
  readonly batch: BatchController
  readonly workloads: WorkloadWriter
  readonly autoscalers: Autoscalers
  readonly gitops: GitOps
  readonly resources: ResourceWriter
  private readonly interval: NodeJS.Timeout | undefined

  constructor(
    private readonly seed: KubernetesSeed,
    controllerDelayMs: () => number,
  ) {
    const schedule = (preferred: string | undefined) => this.schedule(preferred)
    this.controller = new WorkloadController(this.store, this.kubelet, controllerDelayMs, schedule)
    this.batch = new BatchController(this.store, this.kubelet, controllerDelayMs, () => schedule(undefined))
    this.kubelet.notify({ podChanged: (pod) => this.podEvent(pod), podRemoved: (pod) => this.podEvent(pod) })
    this.workloads = new WorkloadWriter(this.store, this.controller)
    this.autoscalers = new Autoscalers(this.store, this.workloads)
    this.gitops = new GitOps(this.store, this.workloads)
    this.resources = new ResourceWriter(this.store, (resource, object) => {
      if (resource === 'pods') this.kubelet.finalizersChanged(object as Pod)
    })
    this.populate()
    const reconciles = Object.values(seed.namespaces).some((ns) => ns.scaledObjects.length + ns.hpas.length > 0) || seed.argocd.applications.length + seed.flux.kustomizations.length + seed.flux.helmReleases.length > 0
    if (reconciles) {
      this.interval = setInterval(() => {
        this.autoscalers.tick()
        this.gitops.tick()
      }, seed.reconcileIntervalMs)
    }
  }

  close(): void {
    clearInterval(this.interval)
    this.controller.close()
    this.batch.close()
    this.autoscalers.close()
    this.kubelet.close()
  }

  /** The scheduler: the preferred node while it is Ready, else the first Ready node; unscheduled when none is. */
  private schedule(preferred: string | undefined): Placement {
    const nodes = this.store.list('nodes').filter(isNodeReady)
    const node = nodes.find((n) => n.metadata.name === preferred) ?? nodes.find((n) => n.metadata.name === DEFAULT_NODE) ?? nodes[0]
    return node ? { nodeName: node.metadata.name, nodeReady: true } : { nodeReady: false }
  }

  private podEvent(pod: Pod): void {
    this.controller.podEvent(pod)
    this.batch.podEvent(pod)
  }

  private populate(): void {
    const { seed, store } = this
    const now = new Date()
    const namespaces = new Set([
      ...BUILTIN_NAMESPACES,
      ...Object.keys(seed.namespaces),
      ...seed.argocd.applications.flatMap((app) => [app.namespace, app.destinationNamespace]),
      ...seed.flux.kustomizations.map((k) => k.namespace),
      ...seed.flux.helmReleases.map((h) => h.namespace),
    ])
    for (const name of namespaces) store.put('namespaces', newNamespace(name, now))
    const nodes = new Map<string, boolean>([[DEFAULT_NODE, true], ...seed.nodes.map((n): [string, boolean] => [n.name, n.ready])])
    for (const [name, ready] of nodes) store.put('nodes', newNode(name, ready, now))

    for (const [namespace, seeded] of Object.entries(seed.namespaces)) {
      const workloads: [WorkloadResource, typeof seeded.deployments][] = [
        ['deployments', seeded.deployments],
        ['statefulsets', seeded.statefulsets],
      ]
      for (const [resource, seeds] of workloads) {
        for (const workloadSeed of seeds) {
          const workload = newWorkload(resource, namespace, workloadSeed, now)
          const stored = store.put(resource, withManagedFields(undefined, workload, creatorOf(workload), 'object', now))
          if (resource === 'deployments') this.controller.replicaSetFor(stored)
          this.controller.place(resource, namespace, workloadSeed.name, { finalizers: workloadSeed.podFinalizers, ...(workloadSeed.nodeName ? { nodeName: workloadSeed.nodeName } : {}) })
          this.gitops.remember(resource, namespace, workloadSeed.name, workloadSeed.replicas)
        }
      }
      for (const podSeed of seeded.pods) store.put('pods', this.seededPod(namespace, podSeed, now))
      for (const [resource, seeds] of workloads) for (const workloadSeed of seeds) this.controller.reconcile(resource, namespace, workloadSeed.name, true)
      for (const job of seeded.jobs) this.batch.seedJob(namespace, job)
      for (const cronJob of seeded.cronjobs) this.batch.seedCronJob(namespace, cronJob)
      this.autoscalers.seed(namespace, seeded)
    }
    this.gitops.seed(seed)
  }

  /** A seeded extra pod: bare, owned by a named controller, or owned by a workload of the namespace. */
  private seededPod(namespace: string, seed: PodSeed, now: Date): Pod {
    let owner: OwnerReference | undefined
    let labels = seed.labels
    let containers = [{ name: 'agent', image: `sandbox.local/${seed.name}:latest` }]
    let grace = seed.terminationGracePeriodSeconds ?? 30
    if (seed.ownerWorkload) {
      const { resource, name } = workloadOf(seed.ownerWorkload)
      const workload = this.store.get(resource, namespace, name)
      if (!workload) throw new Error(`kubernetes seed: pod ${namespace}/${seed.name} is owned by ${seed.ownerWorkload}, which the seed does not have`)
      const controlling = resource === 'deployments' ? this.controller.replicaSetFor(workload) : workload
      owner = controllerReference(controlling)
      labels = { ...controlling.spec.template.metadata.labels, ...seed.labels }
      const ordinal = resource === 'statefulsets' ? new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`).exec(seed.name)?.[1] : undefined
      if (ordinal !== undefined) labels = { ...labels, 'statefulset.kubernetes.io/pod-name': seed.name, 'apps.kubernetes.io/pod-index': ordinal }
      containers = workload.spec.template.spec.containers
      grace = seed.terminationGracePeriodSeconds ?? workload.spec.template.spec.terminationGracePeriodSeconds
    } else if (seed.owner) {
      const apiVersion = seed.owner.apiVersion ?? defaultApiVersion(seed.owner.kind)
      owner = { apiVersion, kind: seed.owner.kind, name: seed.owner.name, uid: crypto.randomUUID(), controller: true, blockOwnerDeletion: true }
    }
    const nodeName = seed.nodeName ?? (seed.phase === 'Pending' ? undefined : DEFAULT_NODE)
    return newPod(
      {
        namespace,
        name: seed.name,
        labels,
        ...(owner ? { owner } : {}),
        containers,
        terminationGracePeriodSeconds: grace,
        restartPolicy: 'Always',
        ...(nodeName === undefined ? {} : { nodeName }),
        nodeReady: isNodeReady(nodeName === undefined ? undefined : this.store.get('nodes', undefined, nodeName)),
        phase: seed.phase,
        ...(seed.reason ? { reason: seed.reason } : {}),
        finalizers: seed.finalizers,
      },
      now,
    )
  }

  /** The plan's observable state, keyed by namespace (see NamespaceState). */
  state(): Record<string, NamespaceState> {
    const { store } = this
    const state: Record<string, NamespaceState> = {}
    for (const namespace of store.list('namespaces')) {
      state[namespace.metadata.name] = { deployments: {}, statefulsets: {}, pods: [], replicasets: {}, cronjobs: {}, jobs: {}, scaledObjects: {}, hpas: {}, applications: {}, kustomizations: {}, helmReleases: {} }
    }
    const of = (object: { metadata: { namespace?: string } }) => state[object.metadata.namespace ?? '']!
    for (const resource of ['deployments', 'statefulsets'] as const) {
      for (const workload of store.list(resource)) {
        const status: WorkloadState['status'] = { replicas: Number(workload.status.replicas ?? 0) }
        if (workload.status.terminatingReplicas !== undefined) status.terminatingReplicas = Number(workload.status.terminatingReplicas)
        of(workload)[resource][workload.metadata.name] = {
          replicas: workload.spec.replicas,
          annotations: workload.metadata.annotations ?? {},
          labels: workload.metadata.labels ?? {},
          status,
          paused: workload.spec.paused === true,
          replicasManager: replicasManager(workload.metadata.managedFields) ?? null,
        }
      }
    }
    const deploymentOfReplicaSet = new Map<string, string>()
    for (const replicaSet of store.list('replicasets')) {
      const owner = controllerOf(replicaSet)
      const ownerName = owner ? ownerString(owner.kind, owner.name) : ''
      deploymentOfReplicaSet.set(`${replicaSet.metadata.namespace}/${replicaSet.metadata.name}`, ownerName)
      of(replicaSet).replicasets[replicaSet.metadata.name] = { replicas: replicaSet.spec.replicas, owner: ownerName, status: { replicas: Number(replicaSet.status.replicas ?? 0) } }
    }
    for (const pod of store.list('pods')) {
      const owner = controllerOf(pod)
      const viaReplicaSet = owner?.kind === 'ReplicaSet' ? deploymentOfReplicaSet.get(`${pod.metadata.namespace}/${owner.name}`) : undefined
      of(pod).pods.push({
        name: pod.metadata.name,
        owner: viaReplicaSet || (owner ? ownerString(owner.kind, owner.name) : ''),
        ownerKind: owner?.kind ?? '',
        phase: pod.status.phase,
        ...(pod.status.reason ? { reason: pod.status.reason } : {}),
        terminating: isTerminating(pod),
        finalizers: pod.metadata.finalizers ?? [],
        node: pod.spec.nodeName ?? '',
      })
    }
    for (const cronJob of store.list('cronjobs')) {
      const active = Array.isArray(cronJob.status.active) ? cronJob.status.active.map((ref) => String((ref as { name?: string }).name)) : []
      of(cronJob).cronjobs[cronJob.metadata.name] = { suspend: cronJob.spec.suspend === true, schedule: String(cronJob.spec.schedule), active }
    }
    for (const job of store.list('jobs')) {
      const owner = controllerOf(job)
      of(job).jobs[job.metadata.name] = {
        owner: owner ? ownerString(owner.kind, owner.name) : '',
        active: Number(job.status.active ?? 0),
        failed: Number(job.status.failed ?? 0),
        terminating: isTerminating(job),
        finalizers: job.metadata.finalizers ?? [],
      }
    }
    const targetOf = (object: GenericObject) => {
      const ref = (object.spec.scaleTargetRef ?? {}) as { kind?: string; name?: string }
      return `${(ref.kind ?? 'Deployment').toLowerCase()}/${ref.name ?? ''}`
    }
    for (const scaledObject of store.list('scaledobjects')) {
      const annotations = scaledObject.metadata.annotations ?? {}
      const paused = Array.isArray(scaledObject.status.conditions) && scaledObject.status.conditions.some((c) => (c as { type?: string }).type === 'Paused' && (c as { status?: string }).status === 'True')
      of(scaledObject).scaledObjects[scaledObject.metadata.name] = {
        target: targetOf(scaledObject),
        annotations,
        paused,
        minReplicaCount: Number(scaledObject.spec.minReplicaCount ?? 0),
        maxReplicaCount: Number(scaledObject.spec.maxReplicaCount ?? 100),
      }
    }
    for (const hpa of store.list('horizontalpodautoscalers')) {
      const owner = controllerOf(hpa)
      of(hpa).hpas[hpa.metadata.name] = {
        target: targetOf(hpa),
        minReplicas: Number(hpa.spec.minReplicas ?? 1),
        maxReplicas: Number(hpa.spec.maxReplicas ?? 0),
        currentReplicas: Number(hpa.status.currentReplicas ?? 0),
        owner: owner ? ownerString(owner.kind, owner.name) : '',
      }
    }
    for (const application of store.list('applications')) {
      const policy = (application.spec.syncPolicy ?? {}) as { automated?: Record<string, unknown> | null }
      const status = application.status as { sync?: { status?: string }; health?: { status?: string } }
      of(application).applications[application.metadata.name] = { automated: policy.automated ?? null, sync: status.sync?.status ?? '', health: status.health?.status ?? '' }
    }
    for (const kustomization of store.list('kustomizations')) of(kustomization).kustomizations[kustomization.metadata.name] = { suspend: kustomization.spec.suspend === true }
    for (const release of store.list('helmreleases')) of(release).helmReleases[release.metadata.name] = { suspend: release.spec.suspend === true }
    return state
  }
}

function sendError(res: ServerResponse, error: ApiError): void {
  const retryAfter = error.status.details?.retryAfterSeconds
  sendJson(res, error.code, error.status, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) })
}

export interface KubernetesPlane extends Plane {
  /**
   * The plane's TLS endpoint (`https://127.0.0.1:PORT`), started when the seed has RBAC users, whose kubeconfig
   * contexts need it: kubectl sends their tokens only over TLS. Undefined without users.
   */
  secureEndpoint(): Promise<string | undefined>
}

export function createKubernetesPlane(options: PlaneOptions): KubernetesPlane {
  const seed = options.seed.kubernetes
  const cluster = new KubernetesCluster(seed, () => options.realism.profile.controllerDelayMs)
  const parts: PlaneParts = {
    store: cluster.store,
    kubelet: cluster.kubelet,
    batch: cluster.batch,
    workloads: cluster.workloads,
    resources: cluster.resources,
    watches: new WatchStreams(cluster.store),
    authorizer: new Authorizer(seed.rbac.users),
    installed: installedAddOns(seed),
    serverAddress: () => new URL(options.baseUrl()).host,
  }

  let tls: Promise<TlsEndpoint> | undefined
  const plane: KubernetesPlane = {
    name: 'kubernetes',
    async secureEndpoint() {
      if (seed.rbac.users.length === 0) return undefined
      tls ??= serveTls((req, res) => plane.handle(req, res))
      return (await tls).url
    },
    async handle(req: SandboxRequest, res: ServerResponse) {
      const decision = await options.realism.gate('kubernetes')
      if (decision.kind === 'reset') {
        res.socket?.destroy()
        return
      }
      try {
        if (decision.kind === 'error') throw internalError()
        if (decision.kind === 'throttle') throw tooManyRequestsError(decision.retryAfterSeconds)
        const authenticated = parts.authorizer.authenticate(req.headers.authorization)
        const user = parts.authorizer.impersonate(authenticated, req.headers)
        const target = route(req.url.pathname, parts.installed)
        if (!target) throw notEmulatedError(req.method, req.url.pathname)
        const attributes = requestAttributes(target, req)
        if (!parts.authorizer.authorize(user, attributes).allowed) throw forbidden(user, attributes)
        serveRoute(parts, target, req, res, user)
      } catch (error) {
        if (error instanceof ImpersonationError) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' })
          res.end(`Internal Server Error: ${JSON.stringify(req.url.pathname + req.url.search)}: ${error.message}\n`)
          return
        }
        if (!(error instanceof ApiError)) throw error
        sendError(res, error)
      }
    },
    state: () => cluster.state(),
    async close() {
      parts.watches.closeAll()
      cluster.close()
      await (await tls)?.close()
    },
  }
  return plane
}
