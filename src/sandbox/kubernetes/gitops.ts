/**
 * The emulated GitOps controllers. "Git" holds each workload's seeded `spec.replicas`; drift is a live count that
 * differs from it, and a controller in force puts git's count back on its next reconcile:
 * - Argo CD's application-controller (manager `argocd-controller`, operation Update, as its kubectl-style apply
 *   records it), for workloads its Application tracks: by the annotation `argocd.argoproj.io/tracking-id:
 *   <app>:apps/<Kind>:<ns>/<name>` (annotation tracking, Argo CD 3.0's default) or the label
 *   `app.kubernetes.io/instance: <app>`, where `<app>` is `<ns>_<name>` for an Application outside `argocd`. It
 *   self-heals while `spec.syncPolicy.automated` is present, not `enabled: false` (Argo CD ≥ 3.1; absent or null
 *   counts as on) and has `selfHeal: true`; otherwise drift only turns the Application OutOfSync (Argo CD docs,
 *   "Automated Sync Policy").
 * - Flux's kustomize-controller and helm-controller (server-side apply: operation Apply), for workloads labelled
 *   `<group>/name` and `<group>/namespace` with the Kustomization's or HelmRelease's, while its `spec.suspend` is not
 *   true — for a HelmRelease, only with `spec.driftDetection.mode: enabled` (Flux helm-controller docs, "Drift
 *   detection").
 */
import { newApplication, newHelmRelease, newKustomization } from './custom-resources.js'
import { withManagedFields, type FieldManager } from './managed-fields.js'
import { timestamp, type GenericObject, type Workload } from './objects.js'
import type { Json } from './patch.js'
import type { WorkloadResource } from './resources.js'
import type { KubernetesSeed } from './seed.js'
import type { ObjectStore } from './store.js'
import type { WorkloadWriter } from './workloads.js'

export const ARGOCD_MANAGER: FieldManager = { manager: 'argocd-controller', operation: 'Update' }
export const KUSTOMIZE_MANAGER: FieldManager = { manager: 'kustomize-controller', operation: 'Apply' }
export const HELM_MANAGER: FieldManager = { manager: 'helm-controller', operation: 'Apply' }
const ARGOCD_NAMESPACE = 'argocd'
const TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id'
const INSTANCE_LABEL = 'app.kubernetes.io/instance'

type JsonObject = { [key: string]: Json }

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The field manager that created a seeded workload: its GitOps controller, or a kubectl client-side apply. */
export function creatorOf(workload: Workload): FieldManager {
  const labels = workload.metadata.labels ?? {}
  if (labels['kustomize.toolkit.fluxcd.io/name']) return KUSTOMIZE_MANAGER
  if (labels['helm.toolkit.fluxcd.io/name']) return HELM_MANAGER
  if (workload.metadata.annotations?.[TRACKING_ANNOTATION] || labels[INSTANCE_LABEL]) return ARGOCD_MANAGER
  return { manager: 'kubectl-client-side-apply', operation: 'Update' }
}

/** Argo CD's name for an Application in tracking values: `name`, or `ns_name` outside the control-plane namespace. */
function trackingName(application: GenericObject): string {
  const namespace = application.metadata.namespace ?? ARGOCD_NAMESPACE
  return namespace === ARGOCD_NAMESPACE ? application.metadata.name : `${namespace}_${application.metadata.name}`
}

function tracks(application: GenericObject, workload: Workload): boolean {
  const app = trackingName(application)
  const { namespace = '', name, annotations, labels } = workload.metadata
  const id = annotations?.[TRACKING_ANNOTATION]
  if (id !== undefined) return id === `${app}:apps/${workload.kind}:${namespace}/${name}`
  return labels?.[INSTANCE_LABEL] === app
}

/** Automated sync in force, and whether it self-heals. */
function syncPolicyOf(application: GenericObject): { automated: boolean; selfHeal: boolean } {
  const automated = isObject(application.spec.syncPolicy) ? application.spec.syncPolicy.automated : undefined
  const inForce = isObject(automated) && automated.enabled !== false
  return { automated: inForce, selfHeal: inForce && isObject(automated) && automated.selfHeal === true }
}

export class GitOps {
  /** Git's replicas per `resource/namespace/name`. */
  private readonly git = new Map<string, number>()

  constructor(
    private readonly store: ObjectStore,
    private readonly writer: WorkloadWriter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates the seeded Applications, Kustomizations and HelmReleases. */
  seed(seed: KubernetesSeed): void {
    const created = { manager: 'kubectl-client-side-apply', operation: 'Update' } as const
    for (const application of seed.argocd.applications) this.store.put('applications', withManagedFields(undefined, newApplication(application, this.now()), created, 'object', this.now()))
    for (const kustomization of seed.flux.kustomizations) this.store.put('kustomizations', withManagedFields(undefined, newKustomization(kustomization, this.now()), created, 'object', this.now()))
    for (const release of seed.flux.helmReleases) this.store.put('helmreleases', withManagedFields(undefined, newHelmRelease(release, this.now()), created, 'object', this.now()))
  }

  /** What git says the workload's replicas are. */
  remember(resource: WorkloadResource, namespace: string, name: string, replicas: number): void {
    this.git.set(`${resource}/${namespace}/${name}`, replicas)
  }

  tick(): void {
    const workloads = [...this.store.list('deployments'), ...this.store.list('statefulsets')]
    for (const application of this.store.list('applications')) this.reconcileApplication(application, workloads)
    for (const kustomization of this.store.list('kustomizations')) this.reconcileFlux(kustomization, 'kustomize.toolkit.fluxcd.io', KUSTOMIZE_MANAGER, workloads)
    for (const release of this.store.list('helmreleases')) this.reconcileFlux(release, 'helm.toolkit.fluxcd.io', HELM_MANAGER, workloads)
  }

  private gitReplicas(workload: Workload): number | undefined {
    const resource = workload.kind === 'Deployment' ? 'deployments' : 'statefulsets'
    return this.git.get(`${resource}/${workload.metadata.namespace ?? ''}/${workload.metadata.name}`)
  }

  /** Puts git's count back; returns whether the workload had drifted. */
  private heal(workload: Workload, writer: FieldManager, heal: boolean): boolean {
    const git = this.gitReplicas(workload)
    if (git === undefined || git === workload.spec.replicas) return false
    if (heal) this.writer.setReplicas(workload.kind === 'Deployment' ? 'deployments' : 'statefulsets', workload.metadata.namespace ?? '', workload.metadata.name, git, writer)
    return true
  }

  private reconcileApplication(application: GenericObject, workloads: Workload[]): void {
    const policy = syncPolicyOf(application)
    const tracked = workloads.filter((workload) => tracks(application, workload))
    let outOfSync = false
    for (const workload of tracked) if (this.heal(workload, ARGOCD_MANAGER, policy.selfHeal) && !policy.selfHeal) outOfSync = true
    const live = tracked.map((w) => this.store.get(w.kind === 'Deployment' ? 'deployments' : 'statefulsets', w.metadata.namespace ?? '', w.metadata.name)).filter((w) => w !== undefined)
    const health = live.some((w) => w.spec.paused === true)
      ? 'Suspended'
      : live.some((w) => Number(w.status.readyReplicas ?? 0) < w.spec.replicas)
        ? 'Progressing'
        : 'Healthy'
    const status = structuredClone(application.status)
    const sync = isObject(status.sync) ? status.sync : {}
    const healthStatus = isObject(status.health) ? status.health : {}
    const changed = sync.status !== (outOfSync ? 'OutOfSync' : 'Synced') || healthStatus.status !== health
    if (!changed) return
    status.sync = { ...sync, status: outOfSync ? 'OutOfSync' : 'Synced' }
    status.health = { ...healthStatus, status: health, lastTransitionTime: timestamp(this.now()) }
    status.reconciledAt = timestamp(this.now())
    this.store.put('applications', withManagedFields(application, { ...application, status }, { manager: 'argocd-application-controller', operation: 'Update' }, 'status', this.now()))
  }

  private reconcileFlux(owner: GenericObject, group: string, writer: FieldManager, workloads: Workload[]): void {
    if (owner.spec.suspend === true) return
    if (owner.kind === 'HelmRelease' && !(isObject(owner.spec.driftDetection) && owner.spec.driftDetection.mode === 'enabled')) return
    for (const workload of workloads) {
      const labels = workload.metadata.labels ?? {}
      if (labels[`${group}/name`] === owner.metadata.name && labels[`${group}/namespace`] === owner.metadata.namespace) this.heal(workload, writer, true)
    }
  }
}
