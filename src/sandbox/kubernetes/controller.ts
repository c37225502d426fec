/**
 * The Deployment, ReplicaSet and StatefulSet controllers, reduced to what a scale-to-zero halt observes:
 * - Deployments: one ReplicaSet `<name>-<hash>` each, whose `spec.replicas` follows the Deployment's (paused or not:
 *   a paused Deployment still scales). The Deployment and ReplicaSet controllers act in the same step.
 * - ReplicaSets: keep `spec.replicas` active pods of their own (by ownerReference; pods of other owners that match
 *   the selector are never counted). Active = neither terminating nor finished: a Failed or Succeeded pod is not
 *   counted, not deleted and not replaced (k8s `pkg/controller/replicaset`, `controller.FilterActivePods`).
 *   Scale-down deletes unscheduled, then pending, then not-ready, then the newest pods first.
 * - StatefulSets: pods `<name>-<ordinal>`; OrderedReady creates in ascending order and removes one pod at a time
 *   from the highest ordinal, waiting until it is gone; Parallel creates and removes all at once. An ordinal is
 *   recreated only after its previous pod is gone (same name); a finished pod in range is deleted and recreated.
 * Reconciliation runs `controllerDelayMs` (from the realism profile) after the change that triggers it.
 */
import { Kubelet } from './kubelet.js'
import { withManagedFields, KUBE_CONTROLLER_MANAGER } from './managed-fields.js'
import {
  controllerOf,
  isActive,
  isFinished,
  isNodeReady,
  isReady,
  isTerminating,
  newControlledPod,
  newReplicaSet,
  omitZero,
  ordinalOf,
  replicaSetAnnotations,
  replicaSetName,
  type Placement,
  type Pod,
  type ReplicaSet,
  type Workload,
  type WorkloadResource,
  type WorkloadStatus,
} from './objects.js'
import type { ObjectStore } from './store.js'

/** What the seed says about a workload's pods beyond its template: their finalizers and preferred node. */
export interface PodPlacement {
  finalizers: string[]
  nodeName?: string
}

function workloadKey(resource: WorkloadResource, namespace: string, name: string): string {
  return `${resource}/${namespace}/${name}`
}

/** Pods the ReplicaSet controller deletes first (`controller.ActivePodsWithRanks`, simplified): lower ranks go first. */
function deletionRank(pod: Pod): number {
  if (pod.spec.nodeName === undefined) return 0
  if (pod.status.phase === 'Pending') return 1
  return isReady(pod) ? 3 : 2
}

export class WorkloadController {
  private readonly reconcileTimers = new Set<NodeJS.Timeout>()
  private readonly placements = new Map<string, PodPlacement>()

  constructor(
    private readonly store: ObjectStore,
    private readonly kubelet: Kubelet,
    private readonly controllerDelayMs: () => number,
    private readonly schedule: (preferred: string | undefined) => Placement,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Records the seed's finalizers and node for the workload's pods (before its first reconcile). */
  place(resource: WorkloadResource, namespace: string, name: string, placement: PodPlacement): void {
    this.placements.set(workloadKey(resource, namespace, name), placement)
  }

  /** Reconciles the workload after the controller delay (spec change, pod gone, pod deleted). */
  workloadChanged(resource: WorkloadResource, namespace: string, name: string): void {
    const timer = setTimeout(() => {
      this.reconcileTimers.delete(timer)
      this.reconcile(resource, namespace, name)
    }, this.controllerDelayMs())
    this.reconcileTimers.add(timer)
  }

  /** Brings the workload's pods towards `spec.replicas` and writes its status. Synchronous; used at seed time. */
  reconcile(resource: WorkloadResource, namespace: string, name: string, seeding = false): void {
    const workload = this.store.get(resource, namespace, name)
    if (!workload) return
    if (resource === 'deployments') this.reconcileDeployment(workload, seeding)
    else this.reconcileStatefulSet(workload, seeding)
    this.writeStatus(resource, namespace, name, { observe: true })
  }

  /** A pod of the workload changed or went: its status now, its reconcile after the delay. */
  podEvent(pod: Pod): void {
    const owner = this.workloadOf(pod)
    if (!owner) return
    this.writeStatus(owner.resource, pod.metadata.namespace ?? '', owner.name, { observe: false })
    this.workloadChanged(owner.resource, pod.metadata.namespace ?? '', owner.name)
  }

  /** The Deployment or StatefulSet a pod belongs to through its controller reference. */
  workloadOf(pod: Pod): { resource: WorkloadResource; name: string } | undefined {
    const owner = controllerOf(pod)
    if (owner?.kind === 'StatefulSet') return { resource: 'statefulsets', name: owner.name }
    if (owner?.kind !== 'ReplicaSet') return undefined
    const replicaSet = this.store.get('replicasets', pod.metadata.namespace ?? '', owner.name)
    const deployment = replicaSet && controllerOf(replicaSet)
    return deployment?.kind === 'Deployment' ? { resource: 'deployments', name: deployment.name } : undefined
  }

  /** Cancels pending reconciles. */
  close(): void {
    for (const timer of this.reconcileTimers) clearTimeout(timer)
    this.reconcileTimers.clear()
  }

  private podsOwnedBy(namespace: string, uid: string): Pod[] {
    return this.store.list('pods', namespace, (pod) => controllerOf(pod)?.uid === uid)
  }

  private placementOf(workload: Workload, seeding: boolean): { placement: Placement; finalizers: string[] } {
    const resource: WorkloadResource = workload.kind === 'Deployment' ? 'deployments' : 'statefulsets'
    const seeded = this.placements.get(workloadKey(resource, workload.metadata.namespace ?? '', workload.metadata.name))
    const finalizers = seeded?.finalizers ?? []
    // Seeded pods are where the seed put them, even on a node that has since gone NotReady; later ones are scheduled.
    if (seeding && seeded?.nodeName !== undefined) {
      return { placement: { nodeName: seeded.nodeName, nodeReady: isNodeReady(this.store.get('nodes', undefined, seeded.nodeName)) }, finalizers }
    }
    return { placement: this.schedule(seeded?.nodeName), finalizers }
  }

  /** The Deployment's ReplicaSet, created when missing, with `spec.replicas` set to the Deployment's. */
  replicaSetFor(deployment: Workload): ReplicaSet {
    const namespace = deployment.metadata.namespace ?? ''
    const existing = this.store.get('replicasets', namespace, replicaSetName(deployment))
    if (!existing) {
      const created = newReplicaSet(deployment, this.now())
      return this.store.put('replicasets', withManagedFields(undefined, created, KUBE_CONTROLLER_MANAGER, 'object', this.now()))
    }
    if (existing.spec.replicas === deployment.spec.replicas) return existing
    const next: ReplicaSet = structuredClone(existing)
    next.spec.replicas = deployment.spec.replicas
    next.metadata.annotations = { ...next.metadata.annotations, ...replicaSetAnnotations(deployment.spec.replicas) }
    next.metadata.generation = (existing.metadata.generation ?? 1) + 1
    return this.store.put('replicasets', withManagedFields(existing, next, KUBE_CONTROLLER_MANAGER, 'object', this.now()))
  }

  private reconcileDeployment(deployment: Workload, seeding: boolean): void {
    const replicaSet = this.replicaSetFor(deployment)
    const namespace = replicaSet.metadata.namespace ?? ''
    const active = this.podsOwnedBy(namespace, replicaSet.metadata.uid).filter(isActive)
    const desired = replicaSet.spec.replicas
    const { placement, finalizers } = this.placementOf(deployment, seeding)
    for (let i = active.length; i < desired; i++) this.store.put('pods', newControlledPod(replicaSet, placement, finalizers, this.now()))
    const condemned = active
      .sort((a, b) => deletionRank(a) - deletionRank(b) || b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp))
      .slice(0, Math.max(0, active.length - desired))
    for (const pod of condemned) this.kubelet.delete(namespace, pod.metadata.name, undefined)
    this.writeReplicaSetStatus(namespace, replicaSet.metadata.name)
  }

  private reconcileStatefulSet(statefulSet: Workload, seeding: boolean): void {
    const namespace = statefulSet.metadata.namespace ?? ''
    const members = this.podsOwnedBy(namespace, statefulSet.metadata.uid).filter((pod) => ordinalOf(pod) >= 0)
    const desired = statefulSet.spec.replicas
    const ordered = statefulSet.spec.podManagementPolicy !== 'Parallel'
    // OrderedReady is monotonic: nothing proceeds while any pod is terminating.
    if (ordered && members.some(isTerminating)) return
    // A finished pod in range is deleted, to be recreated once it is gone (stateful_set_control.go processReplica).
    const finished = members.filter((pod) => ordinalOf(pod) < desired && isFinished(pod) && !isTerminating(pod))
    for (const pod of finished) this.kubelet.delete(namespace, pod.metadata.name, undefined)
    const present = new Set(this.podsOwnedBy(namespace, statefulSet.metadata.uid).map(ordinalOf))
    const { placement, finalizers } = this.placementOf(statefulSet, seeding)
    for (let ordinal = 0; ordinal < desired; ordinal++) {
      if (!present.has(ordinal)) this.store.put('pods', newControlledPod(statefulSet, placement, finalizers, this.now(), ordinal))
    }
    const condemned = members.filter((pod) => ordinalOf(pod) >= desired && !isTerminating(pod)).sort((a, b) => ordinalOf(b) - ordinalOf(a))
    for (const pod of ordered ? condemned.slice(0, 1) : condemned) this.kubelet.delete(namespace, pod.metadata.name, undefined)
  }

  private writeReplicaSetStatus(namespace: string, name: string): void {
    const replicaSet = this.store.get('replicasets', namespace, name)
    if (!replicaSet) return
    const pods = this.podsOwnedBy(namespace, replicaSet.metadata.uid)
    const active = pods.filter(isActive)
    const ready = active.filter(isReady).length
    const status: WorkloadStatus = {
      replicas: active.length,
      ...omitZero({ fullyLabeledReplicas: active.length, readyReplicas: ready, availableReplicas: ready }),
      observedGeneration: replicaSet.metadata.generation ?? 1,
      ...omitZero({ terminatingReplicas: pods.filter(isTerminating).length }),
    }
    if (JSON.stringify(status) === JSON.stringify(replicaSet.status)) return
    const next = { ...replicaSet, status }
    this.store.put('replicasets', withManagedFields(replicaSet, next, { ...KUBE_CONTROLLER_MANAGER, subresource: 'status' }, 'status', this.now()))
  }

  /**
   * Writes the workload's status from its pods; no write (and no event) when nothing changed. Only a reconcile
   * `observe`s: it alone advances `observedGeneration` to the current generation.
   */
  private writeStatus(resource: WorkloadResource, namespace: string, name: string, { observe }: { observe: boolean }): void {
    const workload = this.store.get(resource, namespace, name)
    if (!workload) return
    const observedGeneration = observe ? (workload.metadata.generation ?? 1) : Number(workload.status.observedGeneration ?? 0)
    let status: WorkloadStatus
    if (resource === 'deployments') {
      const replicaSet = this.store.get('replicasets', namespace, replicaSetName(workload))
      if (replicaSet) this.writeReplicaSetStatus(namespace, replicaSet.metadata.name)
      status = deploymentStatus(workload, replicaSet ? this.podsOwnedBy(namespace, replicaSet.metadata.uid) : [], observedGeneration)
    } else {
      status = statefulSetStatus(workload, this.podsOwnedBy(namespace, workload.metadata.uid).filter((pod) => ordinalOf(pod) >= 0), observedGeneration)
    }
    if (JSON.stringify(status) === JSON.stringify(workload.status)) return
    const next = { ...workload, status }
    this.store.put(resource, withManagedFields(workload, next, { ...KUBE_CONTROLLER_MANAGER, subresource: 'status' }, 'status', this.now()))
  }
}

/**
 * DeploymentStatus: `replicas` and `updatedReplicas` count active (non-terminating, unfinished) pods, ready and
 * available the Ready ones; terminating pods are `terminatingReplicas` (beta, on by default). Every field is
 * `omitempty`.
 */
function deploymentStatus(workload: Workload, pods: Pod[], observedGeneration: number): WorkloadStatus {
  const active = pods.filter(isActive)
  const ready = active.filter(isReady).length
  return omitZero({
    observedGeneration,
    replicas: active.length,
    updatedReplicas: active.length,
    readyReplicas: ready,
    availableReplicas: ready,
    unavailableReplicas: Math.max(0, workload.spec.replicas - ready),
    terminatingReplicas: pods.filter(isTerminating).length,
  })
}

/**
 * StatefulSetStatus: `replicas` counts every pod the controller created, terminating ones included (required field);
 * ready/available count the Ready, non-terminating ones.
 */
function statefulSetStatus(workload: Workload, pods: Pod[], observedGeneration: number): WorkloadStatus {
  const ready = pods.filter((pod) => !isTerminating(pod) && isReady(pod)).length
  const revision = pods[0]?.metadata.labels?.['controller-revision-hash'] ?? `${workload.metadata.name}-initial`
  return {
    ...omitZero({ observedGeneration, readyReplicas: ready, currentReplicas: pods.length, updatedReplicas: pods.length }),
    replicas: pods.length,
    availableReplicas: ready,
    currentRevision: revision,
    updateRevision: revision,
  }
}
