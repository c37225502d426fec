/**
 * The emulated autoscalers, each writing through the target's scale subresource under its own field manager:
 * - keda-operator, per ScaledObject (KEDA `controllers/keda/scaledobject_controller.go`): with the annotation
 *   `autoscaling.keda.sh/paused-replicas: N` it scales the target to N once (recording `status.pausedReplicaCount`)
 *   and leaves it alone; with `autoscaling.keda.sh/paused` true (any value but a false boolean) it leaves it alone;
 *   paused either way, it deletes its HPA and sets the Paused condition. Otherwise it keeps the HPA `keda-hpa-<name>`
 *   and the target at max(minReplicaCount, 1 if a trigger is active else 0) or more. Scaling an idle target down to
 *   zero after `cooldownPeriod` is not emulated [sandbox].
 * - kube-controller-manager, per HPA (KEDA's included): a target at 0 replicas is left alone (autoscaling is
 *   disabled at 0, k8s HPA docs); otherwise it is kept within [minReplicas, maxReplicas]. There are no metrics: the
 *   HPA only clamps [sandbox].
 * - scaleBack, an undiscoverable scaler for tests: each time its target is scaled to 0, `afterMs` later it scales
 *   it back to `replicas` under the seeded manager.
 */
import { newKedaHpa, newHpa, newScaledObject, workloadOf } from './custom-resources.js'
import { KUBE_CONTROLLER_MANAGER, withManagedFields, type FieldManager } from './managed-fields.js'
import { timestamp, type GenericObject, type Workload } from './objects.js'
import type { Json } from './patch.js'
import type { WorkloadResource } from './resources.js'
import type { KubernetesNamespaceSeed, ScaleBackSeed } from './seed.js'
import type { ObjectStore, StoreEvent } from './store.js'
import type { WorkloadWriter } from './workloads.js'

const KEDA: FieldManager = { manager: 'keda-operator', operation: 'Update' }
/** Who created the seeded objects: a `kubectl apply`. */
const APPLIED: FieldManager = { manager: 'kubectl-client-side-apply', operation: 'Update' }
export const PAUSED_REPLICAS_ANNOTATION = 'autoscaling.keda.sh/paused-replicas'
export const PAUSED_ANNOTATION = 'autoscaling.keda.sh/paused'

type JsonObject = { [key: string]: Json }

function targetOf(object: GenericObject): { resource: WorkloadResource; name: string } | undefined {
  const ref = object.spec.scaleTargetRef as JsonObject | undefined
  const name = typeof ref?.name === 'string' ? ref.name : undefined
  // KEDA's scaleTargetRef.kind defaults to Deployment; the HPA's is required.
  const kind = typeof ref?.kind === 'string' ? ref.kind : object.kind === 'ScaledObject' ? 'Deployment' : undefined
  if (!name) return undefined
  if (kind === 'Deployment') return { resource: 'deployments', name }
  if (kind === 'StatefulSet') return { resource: 'statefulsets', name }
  return undefined
}

/** KEDA's reading of a boolean annotation: present and not a false boolean (`getBoolAnnotation`). */
function truthy(value: string | undefined): boolean {
  if (value === undefined) return false
  return !['false', '0', 'f', 'F', 'FALSE', 'False'].includes(value)
}

function conditions(object: GenericObject): JsonObject[] {
  return Array.isArray(object.status.conditions) ? (object.status.conditions as JsonObject[]) : []
}

function setCondition(list: JsonObject[], type: string, status: string, reason: string, message: string): JsonObject[] {
  const next = list.filter((c) => c.type !== type)
  const index = list.findIndex((c) => c.type === type)
  const condition = { type, status, reason, message }
  next.splice(index < 0 ? next.length : index, 0, condition)
  return next
}

export class Autoscalers {
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly unsubscribe: () => void
  private readonly scaleBacks: { namespace: string; seed: ScaleBackSeed; target: { resource: WorkloadResource; name: string } }[] = []

  constructor(
    private readonly store: ObjectStore,
    private readonly writer: WorkloadWriter,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.unsubscribe = store.subscribe((event) => this.scaledToZero(event))
  }

  /** Creates the namespace's ScaledObjects (with their HPAs) and HPAs, and arms its scale-back scalers. */
  seed(namespace: string, seed: KubernetesNamespaceSeed): void {
    for (const scaledObject of seed.scaledObjects) {
      const target = workloadOf(scaledObject.target)
      const workload = this.store.get(target.resource, namespace, target.name)
      const object = newScaledObject(namespace, scaledObject, workload?.spec.replicas ?? 0, this.now())
      const created = this.store.put('scaledobjects', withManagedFields(undefined, object, APPLIED, 'object', this.now()))
      if (!this.pausedBy(created)) this.store.put('horizontalpodautoscalers', withManagedFields(undefined, newKedaHpa(created, this.now()), KEDA, 'object', this.now()))
    }
    for (const hpa of seed.hpas) this.store.put('horizontalpodautoscalers', withManagedFields(undefined, newHpa(namespace, hpa, this.now()), APPLIED, 'object', this.now()))
    for (const scaleBack of seed.scaleBack) {
      this.scaleBacks.push({ namespace, seed: scaleBack, target: workloadOf(scaleBack.target) })
    }
  }

  /** One reconcile of every ScaledObject, then every HPA. */
  tick(): void {
    for (const scaledObject of this.store.list('scaledobjects')) this.reconcileScaledObject(scaledObject)
    for (const hpa of this.store.list('horizontalpodautoscalers')) this.reconcileHpa(hpa)
  }

  close(): void {
    this.unsubscribe()
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  private pausedBy(scaledObject: GenericObject): 'replicas' | 'annotation' | undefined {
    const annotations = scaledObject.metadata.annotations ?? {}
    if (annotations[PAUSED_REPLICAS_ANNOTATION] !== undefined) return 'replicas'
    return truthy(annotations[PAUSED_ANNOTATION]) ? 'annotation' : undefined
  }

  private reconcileScaledObject(scaledObject: GenericObject): void {
    const namespace = scaledObject.metadata.namespace ?? ''
    const target = targetOf(scaledObject)
    const workload = target && this.store.get(target.resource, namespace, target.name)
    if (!target || !workload) return
    const status: JsonObject = structuredClone(scaledObject.status)
    let list = conditions(scaledObject)
    const hpaName = `keda-hpa-${scaledObject.metadata.name}`
    const paused = this.pausedBy(scaledObject)
    if (paused) {
      const count = Number(scaledObject.metadata.annotations?.[PAUSED_REPLICAS_ANNOTATION])
      if (paused === 'replicas' && Number.isInteger(count) && count >= 0 && status.pausedReplicaCount !== count) {
        this.writer.setReplicas(target.resource, namespace, target.name, count, { ...KEDA, subresource: 'scale' })
        status.pausedReplicaCount = count
      }
      if (this.store.get('horizontalpodautoscalers', namespace, hpaName)) this.store.delete('horizontalpodautoscalers', namespace, hpaName)
      list = setCondition(list, 'Paused', 'True', 'ScaledObjectPaused', 'ScaledObject is paused')
    } else {
      if (list.some((c) => c.type === 'Paused' && c.status === 'True')) {
        list = setCondition(list, 'Paused', 'False', 'ScaledObjectUnpaused', 'pause annotation removed for ScaledObject')
      }
      delete status.pausedReplicaCount
      this.ensureHpa(scaledObject)
      const active = list.some((c) => c.type === 'Active' && c.status === 'True')
      const min = typeof scaledObject.spec.minReplicaCount === 'number' ? scaledObject.spec.minReplicaCount : 0
      const floor = Math.max(min, active ? 1 : 0)
      if (workload.spec.replicas < floor) this.writer.setReplicas(target.resource, namespace, target.name, floor, { ...KEDA, subresource: 'scale' })
    }
    status.conditions = list
    this.writeStatus('scaledobjects', scaledObject, status, { ...KEDA, subresource: 'status' })
  }

  /** KEDA's HPA exists, with bounds following the ScaledObject's. */
  private ensureHpa(scaledObject: GenericObject): void {
    const namespace = scaledObject.metadata.namespace ?? ''
    const wanted = newKedaHpa(scaledObject, this.now())
    const existing = this.store.get('horizontalpodautoscalers', namespace, wanted.metadata.name)
    if (!existing) {
      this.store.put('horizontalpodautoscalers', withManagedFields(undefined, wanted, KEDA, 'object', this.now()))
      return
    }
    if (existing.spec.minReplicas === wanted.spec.minReplicas && existing.spec.maxReplicas === wanted.spec.maxReplicas) return
    const next: GenericObject = { ...existing, spec: { ...existing.spec, minReplicas: wanted.spec.minReplicas!, maxReplicas: wanted.spec.maxReplicas! } }
    this.store.put('horizontalpodautoscalers', withManagedFields(existing, next, KEDA, 'object', this.now()))
  }

  private reconcileHpa(hpa: GenericObject): void {
    const namespace = hpa.metadata.namespace ?? ''
    const target = targetOf(hpa)
    const workload = target && this.store.get(target.resource, namespace, target.name)
    const status: JsonObject = structuredClone(hpa.status)
    let list = conditions(hpa)
    if (!target || !workload) {
      list = setCondition(list, 'AbleToScale', 'False', 'FailedGetScale', `the HPA controller was unable to get the target's current scale: ${target?.resource ?? 'target'} "${target?.name ?? ''}" not found`)
    } else {
      const current = workload.spec.replicas
      const min = typeof hpa.spec.minReplicas === 'number' ? hpa.spec.minReplicas : 1
      const max = typeof hpa.spec.maxReplicas === 'number' ? hpa.spec.maxReplicas : current
      list = setCondition(list, 'AbleToScale', 'True', 'ReadyForNewScale', 'recommended size matches current size')
      if (current === 0) {
        list = setCondition(list, 'ScalingActive', 'False', 'ScalingDisabled', 'scaling is disabled since the replica count of the target is zero')
        status.desiredReplicas = 0
      } else {
        const desired = Math.min(max, Math.max(min, current))
        list = setCondition(list, 'ScalingActive', 'True', 'ValidMetricFound', 'the HPA was able to successfully calculate a replica count')
        if (desired !== current) {
          this.writer.setReplicas(target.resource, namespace, target.name, desired, { ...KUBE_CONTROLLER_MANAGER, subresource: 'scale' })
          status.lastScaleTime = timestamp(this.now())
        }
        status.desiredReplicas = desired
      }
      status.currentReplicas = Number(workload.status.replicas ?? 0)
    }
    status.conditions = list
    this.writeStatus('horizontalpodautoscalers', hpa, status, { ...KUBE_CONTROLLER_MANAGER, subresource: 'status' })
  }

  private writeStatus(resource: 'scaledobjects' | 'horizontalpodautoscalers', object: GenericObject, status: JsonObject, writer: FieldManager): void {
    const current = this.store.get(resource, object.metadata.namespace ?? '', object.metadata.name)
    if (!current || JSON.stringify(current.status) === JSON.stringify(status)) return
    this.store.put(resource, withManagedFields(current, { ...current, status }, writer, 'status', this.now()))
  }

  /** Arms the scale-back scalers whose target was just scaled from a positive count to 0. */
  private scaledToZero(event: StoreEvent): void {
    if (event.type !== 'MODIFIED' || (event.resource !== 'deployments' && event.resource !== 'statefulsets')) return
    const before = (event.previous as Workload | undefined)?.spec.replicas ?? 0
    const after = (event.object as Workload).spec.replicas
    if (before === 0 || after !== 0) return
    const { namespace = '', name } = event.object.metadata
    for (const { namespace: ns, seed, target } of this.scaleBacks) {
      if (ns !== namespace || target.resource !== event.resource || target.name !== name) continue
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.writer.setReplicas(target.resource, namespace, name, seed.replicas, { manager: seed.manager, operation: 'Update', subresource: 'scale' })
      }, seed.afterMs)
      this.timers.add(timer)
    }
  }
}
