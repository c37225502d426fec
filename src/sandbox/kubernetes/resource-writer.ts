/**
 * PATCH of everything but workloads: pods (labels, annotations, finalizers), CronJobs, HPAs and the custom resources.
 * The rules are the apiserver's, as for workloads: `metadata.resourceVersion` in the body is a precondition (409
 * when stale); system fields and `status` are not written (status is a subresource); `generation` increases when the
 * spec changes; a write that changes nothing does not write; `dryRun=All` answers without storing; every write
 * updates `managedFields`. Custom resources accept merge and JSON patches only (415 for strategic merge), and are
 * checked against their CRD schemas' types (422 Invalid). A pod's spec cannot change, and a pod being deleted takes
 * no new finalizers (k8s `pkg/apis/core/validation` ValidatePodUpdate, apimachinery ValidateObjectMetaUpdate).
 */
import { withManagedFields, type FieldManager } from './managed-fields.js'
import type { KubeObject, ObjectMeta } from './objects.js'
import { applyPatch, CUSTOM_RESOURCE_PATCH_TYPES, PATCH_CONTENT_TYPES, type Json } from './patch.js'
import { acceptsStrategicMerge, RESOURCES, type ResourceName } from './resources.js'
import { badRequestError, conflictError, invalidError, notFoundError } from './status.js'
import type { ObjectStore } from './store.js'

type JsonObject = { [key: string]: Json }
export type PatchableResource = 'pods' | 'cronjobs' | 'horizontalpodautoscalers' | 'scaledobjects' | 'applications' | 'kustomizations' | 'helmreleases'

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isStringMap(value: Json | undefined): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string')
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

type Check = (path: string, value: Json | undefined, type: 'boolean' | 'integer' | 'string' | 'object') => void

/** A CRD's structural schema check: `spec.x in body must be of type boolean: "string"` (apiextensions validation). */
function crdCheck(kind: string, group: string, name: string): Check {
  return (path, value, type) => {
    if (value === undefined) return
    const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value
    if (actual === type || (type === 'object' && actual === 'object')) return
    throw invalidError(kind, group, name, `${path}: Invalid value: "${actual}": ${path} in body must be of type ${type}: "${actual}"`)
  }
}

/** A built-in type's JSON decoding: a wrong type is a 400 from the decoder. */
function decodeCheck(goType: string): Check {
  return (path, value, type) => {
    if (value === undefined || value === null) return
    const actual = Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value
    if (actual === type) return
    throw badRequestError(`json: cannot unmarshal ${actual === 'integer' ? 'number' : actual} into Go struct field ${goType}.${path} of type ${type === 'integer' ? 'int32' : type === 'boolean' ? 'bool' : type}`)
  }
}

/** Defaults and validation of each resource's spec; returns the spec to store. */
function acceptSpec(resource: PatchableResource, name: string, spec: JsonObject): JsonObject {
  const { kind, group } = RESOURCES[resource]
  const next = structuredClone(spec)
  switch (resource) {
    case 'cronjobs': {
      const check = decodeCheck('CronJobSpec')
      check('spec.suspend', next.suspend, 'boolean')
      check('spec.schedule', next.schedule, 'string')
      // Defaulting (k8s pkg/apis/batch/v1/defaults.go): an absent suspend is false, concurrencyPolicy Allow.
      next.suspend ??= false
      next.concurrencyPolicy ??= 'Allow'
      if (typeof next.schedule !== 'string' || next.schedule === '') throw invalidError(kind, group, name, 'spec.schedule: Required value')
      if (!['Allow', 'Forbid', 'Replace'].includes(String(next.concurrencyPolicy))) {
        throw invalidError(kind, group, name, `spec.concurrencyPolicy: Unsupported value: "${String(next.concurrencyPolicy)}": supported values: "Allow", "Forbid", "Replace"`)
      }
      if (!isObject(next.jobTemplate)) throw invalidError(kind, group, name, 'spec.jobTemplate.spec.template.spec.containers: Required value')
      return next
    }
    case 'horizontalpodautoscalers': {
      const check = decodeCheck('HorizontalPodAutoscalerSpec')
      check('spec.minReplicas', next.minReplicas, 'integer')
      check('spec.maxReplicas', next.maxReplicas, 'integer')
      next.minReplicas ??= 1
      const min = next.minReplicas as number
      if (min < 1) throw invalidError(kind, group, name, `spec.minReplicas: Invalid value: ${min}: must be greater than or equal to 1`)
      if (typeof next.maxReplicas !== 'number' || next.maxReplicas < min) {
        throw invalidError(kind, group, name, `spec.maxReplicas: Invalid value: ${JSON.stringify(next.maxReplicas)}: must be greater than or equal to \`minReplicas\``)
      }
      if (!isObject(next.scaleTargetRef)) throw invalidError(kind, group, name, 'spec.scaleTargetRef.kind: Required value')
      return next
    }
    case 'scaledobjects': {
      const check = crdCheck(kind, group, name)
      const target = next.scaleTargetRef
      if (!isObject(target) || typeof target.name !== 'string') throw invalidError(kind, group, name, 'spec.scaleTargetRef.name: Required value')
      check('spec.minReplicaCount', next.minReplicaCount, 'integer')
      check('spec.maxReplicaCount', next.maxReplicaCount, 'integer')
      return next
    }
    case 'applications': {
      const check = crdCheck(kind, group, name)
      if (!isObject(next.destination)) throw invalidError(kind, group, name, 'spec.destination: Required value')
      const policy = next.syncPolicy
      check('spec.syncPolicy', policy, 'object')
      const automated = isObject(policy) ? policy.automated : undefined
      if (automated !== null) check('spec.syncPolicy.automated', automated, 'object')
      for (const flag of ['selfHeal', 'prune', 'enabled', 'allowEmpty']) check(`spec.syncPolicy.automated.${flag}`, isObject(automated) ? automated[flag] : undefined, 'boolean')
      // A null in the stored object is pruned: the field is absent (apiextensions pruning of nullable: false).
      if (isObject(policy) && policy.automated === null) delete policy.automated
      return next
    }
    case 'kustomizations':
    case 'helmreleases': {
      crdCheck(kind, group, name)('spec.suspend', next.suspend, 'boolean')
      if (next.suspend === null) delete next.suspend
      return next
    }
    case 'pods':
      return next
  }
}

export class ResourceWriter {
  constructor(
    private readonly store: ObjectStore,
    /** Told of every stored write, so that controllers react (a pod's finalizers gone, a reconciler paused). */
    private readonly written: (resource: PatchableResource, object: KubeObject) => void,
  ) {}

  patch(resource: PatchableResource, namespace: string, name: string, contentType: string | undefined, body: Buffer, dryRun: boolean, writer: FieldManager): KubeObject {
    const { group, kind } = RESOURCES[resource]
    const current = this.store.get(resource as ResourceName, namespace, name) as KubeObject | undefined
    if (!current) throw notFoundError(resource, group, name)
    const accepted = acceptsStrategicMerge(resource) ? PATCH_CONTENT_TYPES : CUSTOM_RESOURCE_PATCH_TYPES
    const candidate = applyPatch(current as unknown as Json, contentType, body, accepted)
    if (!isObject(candidate) || !isObject(candidate.metadata)) throw invalidError(kind, group, name, 'metadata: Required value')
    const metadata = candidate.metadata
    if (metadata.name !== name || (metadata.namespace !== undefined && metadata.namespace !== namespace)) {
      throw badRequestError(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`)
    }
    if (typeof metadata.resourceVersion === 'string' && metadata.resourceVersion !== '' && metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw conflictError(resource, group, name)
    }
    for (const field of ['labels', 'annotations'] as const) {
      if (metadata[field] !== undefined && metadata[field] !== null && !isStringMap(metadata[field])) {
        throw badRequestError(`metadata.${field}: expected a map of strings, got ${JSON.stringify(metadata[field])}`)
      }
    }
    const finalizers = metadata.finalizers ?? []
    if (!Array.isArray(finalizers) || !finalizers.every((f) => typeof f === 'string')) throw badRequestError(`metadata.finalizers: expected a list of strings, got ${JSON.stringify(finalizers)}`)
    const added = (finalizers as string[]).filter((f) => !(current.metadata.finalizers ?? []).includes(f))
    if (current.metadata.deletionTimestamp !== undefined && added.length > 0) {
      throw invalidError(kind, group, name, `metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`)
    }
    const currentSpec = current.spec as unknown as JsonObject
    const candidateSpec = isObject(candidate.spec) ? candidate.spec : {}
    if (resource === 'pods' && !same(candidateSpec, currentSpec)) {
      throw invalidError(kind, group, name, 'spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)')
    }
    const spec = acceptSpec(resource, name, candidateSpec)
    const nextMeta: ObjectMeta = { ...current.metadata }
    const setMap = (field: 'labels' | 'annotations') => {
      const map = metadata[field] as Record<string, string> | null | undefined
      if (map && Object.keys(map).length > 0) nextMeta[field] = { ...map }
      else delete nextMeta[field]
    }
    setMap('labels')
    setMap('annotations')
    if (finalizers.length > 0) nextMeta.finalizers = [...(finalizers as string[])]
    else delete nextMeta.finalizers
    const specChanged = !same(spec, currentSpec)
    if (!specChanged && same(nextMeta, current.metadata)) return current
    if (specChanged && current.metadata.generation !== undefined) nextMeta.generation = current.metadata.generation + 1
    const next = { ...current, metadata: nextMeta, spec } as KubeObject
    if (dryRun) return next
    const stored = this.store.put(resource as ResourceName, withManagedFields(current, next, writer, 'object', new Date()) as never) as KubeObject
    this.written(resource, stored)
    return stored
  }
}
