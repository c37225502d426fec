/**
 * The controllers and the kubelet, reduced to what a scale-to-zero halt observes:
 * - Deployments (via their ReplicaSet): keep `spec.replicas` non-terminating pods; scale-down terminates the newest
 *   pods first; a pod that starts terminating is replaced at once (terminating pods are not "active").
 * - StatefulSets: pods `<name>-<ordinal>`; OrderedReady creates in ascending order and removes one pod at a time
 *   from the highest ordinal, waiting until it is gone; Parallel creates and removes all at once. An ordinal is
 *   recreated only after its previous pod is gone (same name).
 * - Graceful termination: a deleted pod gets `deletionTimestamp` (= now + grace) and `deletionGracePeriodSeconds`
 *   (MODIFIED) and is removed (DELETED) when the grace period ends; grace 0 removes it at once. A later delete may
 *   only shorten a pending termination.
 * Reconciliation runs `controllerDelayMs` (from the realism profile) after the change that triggers it.
 */
import { ownerOfPod, ordinalOf, newPod, omitZero, timestamp, type Pod, type Workload, type WorkloadResource, type WorkloadStatus } from './objects.js'
import type { ObjectStore } from './store.js'
import { notFoundError } from './status.js'

interface PendingTermination {
  timer: NodeJS.Timeout
  /** When the pod is removed, in epoch ms. */
  deadline: number
}

function isTerminating(pod: Pod): boolean {
  return pod.metadata.deletionTimestamp !== undefined
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

export class WorkloadController {
  private readonly reconcileTimers = new Set<NodeJS.Timeout>()
  private readonly terminations = new Map<string, PendingTermination>()

  constructor(
    private readonly store: ObjectStore,
    private readonly controllerDelayMs: () => number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Reconciles the workload after the controller delay (spec change, pod gone, pod deleted). */
  workloadChanged(resource: WorkloadResource, namespace: string, name: string): void {
    const timer = setTimeout(() => {
      this.reconcileTimers.delete(timer)
      this.reconcile(resource, namespace, name)
    }, this.controllerDelayMs())
    this.reconcileTimers.add(timer)
  }

  /** Brings the workload's pods towards `spec.replicas` and writes its status. Synchronous; used at seed time. */
  reconcile(resource: WorkloadResource, namespace: string, name: string): void {
    const workload = this.store.get(resource, namespace, name)
    if (!workload) return
    if (resource === 'deployments') this.reconcileDeployment(workload)
    else this.reconcileStatefulSet(workload)
    this.writeStatus(resource, namespace, name, { observe: true })
  }

  /**
   * The API's pod DELETE. `gracePeriodSeconds` defaults to the pod's own; a pod already terminating only accepts
   * a shorter period. Returns the pod as the apiserver does: the terminating object, or the last state if removed.
   */
  deletePod(namespace: string, name: string, gracePeriodSeconds: number | undefined): Pod {
    const pod = this.store.get('pods', namespace, name)
    if (!pod) throw notFoundError('pods', '', name)
    const grace = Math.max(0, gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds)
    const result = this.terminate(pod, grace)
    const owner = ownerOfPod(pod)
    if (owner) {
      this.writeStatus(owner.resource, namespace, owner.name, { observe: false })
      this.workloadChanged(owner.resource, namespace, owner.name)
    }
    return result
  }

  /** Cancels pending reconciles and terminations (pods stay as they are). */
  close(): void {
    for (const timer of this.reconcileTimers) clearTimeout(timer)
    for (const { timer } of this.terminations.values()) clearTimeout(timer)
    this.reconcileTimers.clear()
    this.terminations.clear()
  }

  private podsOf(workload: Workload): Pod[] {
    const namespace = workload.metadata.namespace ?? ''
    const kind: WorkloadResource = workload.kind === 'Deployment' ? 'deployments' : 'statefulsets'
    return this.store.list('pods', namespace, (pod) => {
      const owner = ownerOfPod(pod)
      return owner?.resource === kind && owner.name === workload.metadata.name
    })
  }

  private reconcileDeployment(workload: Workload): void {
    const active = this.podsOf(workload)
      .filter((pod) => !isTerminating(pod))
      .sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp))
    const desired = workload.spec.replicas
    for (let i = active.length; i < desired; i++) this.store.put('pods', newPod(workload, this.now()))
    // The ReplicaSet controller prefers deleting the youngest pods; creation order stands in for age.
    for (const pod of active.slice(desired).reverse()) this.terminate(pod, pod.spec.terminationGracePeriodSeconds)
  }

  private reconcileStatefulSet(workload: Workload): void {
    const pods = this.podsOf(workload)
    const desired = workload.spec.replicas
    const ordered = workload.spec.podManagementPolicy !== 'Parallel'
    // OrderedReady is monotonic: nothing proceeds while any pod is terminating.
    if (ordered && pods.some(isTerminating)) return
    const present = new Set(pods.map(ordinalOf))
    for (let ordinal = 0; ordinal < desired; ordinal++) {
      if (!present.has(ordinal)) this.store.put('pods', newPod(workload, this.now(), ordinal))
    }
    const condemned = pods
      .filter((pod) => ordinalOf(pod) >= desired && !isTerminating(pod))
      .sort((a, b) => ordinalOf(b) - ordinalOf(a))
    for (const pod of ordered ? condemned.slice(0, 1) : condemned) this.terminate(pod, pod.spec.terminationGracePeriodSeconds)
  }

  /** Starts, shortens or completes a pod's graceful termination (pkg/registry/rest BeforeDelete semantics). */
  private terminate(pod: Pod, grace: number): Pod {
    const namespace = pod.metadata.namespace ?? ''
    const key = podKey(namespace, pod.metadata.name)
    const pending = this.terminations.get(key)
    const currentGrace = pod.metadata.deletionGracePeriodSeconds
    if (isTerminating(pod) && currentGrace !== undefined && grace >= currentGrace) return pod
    if (!isTerminating(pod) && grace === 0) {
      this.remove(pod)
      return pod
    }
    const now = this.now().getTime()
    // A shortened termination keeps its start: the new deadline is start + the new grace period.
    const start = pending && currentGrace !== undefined ? pending.deadline - currentGrace * 1000 : now
    const deadline = start + grace * 1000
    if (pending) clearTimeout(pending.timer)
    this.terminations.delete(key)
    pod.metadata.deletionTimestamp = timestamp(new Date(Math.ceil(deadline / 1000) * 1000))
    pod.metadata.deletionGracePeriodSeconds = grace
    const marked = this.store.put('pods', pod)
    if (deadline <= now) {
      this.remove(marked)
      return marked
    }
    const timer = setTimeout(() => this.remove(marked), deadline - now)
    this.terminations.set(key, { timer, deadline })
    return marked
  }

  private remove(pod: Pod): void {
    const namespace = pod.metadata.namespace ?? ''
    this.terminations.delete(podKey(namespace, pod.metadata.name))
    this.store.delete('pods', namespace, pod.metadata.name)
    const owner = ownerOfPod(pod)
    if (!owner) return
    this.writeStatus(owner.resource, namespace, owner.name, { observe: false })
    this.workloadChanged(owner.resource, namespace, owner.name)
  }

  /**
   * Writes the workload's status from its pods; no write (and no event) when nothing changed. Only a reconcile
   * `observe`s: it alone advances `observedGeneration` to the current generation.
   */
  private writeStatus(resource: WorkloadResource, namespace: string, name: string, { observe }: { observe: boolean }): void {
    const workload = this.store.get(resource, namespace, name)
    if (!workload) return
    const pods = this.podsOf(workload)
    const observedGeneration = observe ? (workload.metadata.generation ?? 1) : Number(workload.status.observedGeneration ?? 0)
    const status = resource === 'deployments' ? deploymentStatus(workload, pods, observedGeneration) : statefulSetStatus(workload, pods, observedGeneration)
    if (JSON.stringify(status) === JSON.stringify(workload.status)) return
    workload.status = status
    this.store.put(resource, workload)
  }
}

/**
 * DeploymentStatus: `replicas` and the ready/available/updated counts are non-terminating pods; terminating pods
 * are `terminatingReplicas` (beta, on by default). Every field is `omitempty`.
 */
function deploymentStatus(workload: Workload, pods: Pod[], observedGeneration: number): WorkloadStatus {
  const active = pods.filter((pod) => !isTerminating(pod)).length
  return omitZero({
    observedGeneration,
    replicas: active,
    updatedReplicas: active,
    readyReplicas: active,
    availableReplicas: active,
    unavailableReplicas: Math.max(0, workload.spec.replicas - active),
    terminatingReplicas: pods.length - active,
  })
}

/**
 * StatefulSetStatus: `replicas` counts every pod the controller created, terminating ones included (required field);
 * ready/available count the non-terminating ones.
 */
function statefulSetStatus(workload: Workload, pods: Pod[], observedGeneration: number): WorkloadStatus {
  const ready = pods.filter((pod) => !isTerminating(pod)).length
  const revision = pods[0]?.metadata.labels?.['controller-revision-hash'] ?? `${workload.metadata.name}-initial`
  return {
    ...omitZero({ observedGeneration, readyReplicas: ready, currentReplicas: pods.length, updatedReplicas: pods.length }),
    replicas: pods.length,
    availableReplicas: ready,
    currentRevision: revision,
    updateRevision: revision,
  }
}
