/**
 * Writes to Deployments and StatefulSets through the API: PATCH of the object and GET/PUT/PATCH of its scale
 * subresource. The apiserver's rules that a halt depends on:
 * - a `metadata.resourceVersion` in the body is a precondition (409 Conflict when stale); absent, the write is
 *   unconditional;
 * - `generation` increases exactly when the spec changes; `status` cannot be written through these paths;
 * - `spec.selector` is immutable, the template labels must match it, `spec.replicas` is an integer ≥ 0
 *   (422 Invalid otherwise) and defaults to 1 when a patch removes it; a PUT Scale without `spec.replicas` means 0
 *   (`omitempty`);
 * - a write that changes nothing does not write (no new resourceVersion, no watch event);
 * - every write updates `metadata.managedFields` for its writer (managed-fields.ts), a scale write as the `scale`
 *   subresource's entry on the workload (Kubernetes ≥ 1.22).
 */
import type { WorkloadController } from './controller.js'
import { withManagedFields, type FieldManager } from './managed-fields.js'
import { toScale, type Scale, type Workload, type WorkloadResource, type WorkloadSpec } from './objects.js'
import { applyPatch, type Json } from './patch.js'
import { RESOURCES } from './resources.js'
import { badRequestError, conflictError, invalidError, notFoundError } from './status.js'
import type { ObjectStore } from './store.js'

type JsonObject = { [key: string]: Json }

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function isStringMap(value: Json | undefined): value is Record<string, string> {
  return isObject(value) && Object.values(value).every((v) => typeof v === 'string')
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

export class WorkloadWriter {
  constructor(
    private readonly store: ObjectStore,
    private readonly controller: WorkloadController,
  ) {}

  read(resource: WorkloadResource, namespace: string, name: string): Workload {
    const workload = this.store.get(resource, namespace, name)
    if (!workload) throw notFoundError(resource, 'apps', name)
    return workload
  }

  /** PATCH of the workload object (merge, strategic merge as merge, or JSON patch). */
  patch(resource: WorkloadResource, namespace: string, name: string, contentType: string | undefined, body: Buffer, dryRun: boolean, writer: FieldManager): Workload {
    const current = this.read(resource, namespace, name)
    const candidate = applyPatch(current as unknown as Json, contentType, body)
    return this.write(resource, this.acceptWorkload(resource, current, candidate), current, dryRun, writer)
  }

  /** A controller's write of `spec.replicas`, through the object or (`writer.subresource`) the scale subresource. */
  setReplicas(resource: WorkloadResource, namespace: string, name: string, replicas: number, writer: FieldManager): Workload | undefined {
    const current = this.store.get(resource, namespace, name)
    if (!current || current.spec.replicas === replicas) return current
    return this.write(resource, { ...current, spec: { ...current.spec, replicas } }, current, false, writer)
  }

  readScale(resource: WorkloadResource, namespace: string, name: string): Scale {
    return toScale(this.read(resource, namespace, name))
  }

  /** PUT of the Scale subresource. */
  replaceScale(resource: WorkloadResource, namespace: string, name: string, body: Buffer, dryRun: boolean, writer: FieldManager): Scale {
    const current = this.read(resource, namespace, name)
    let candidate: Json
    try {
      candidate = JSON.parse(body.toString('utf8')) as Json
    } catch (error) {
      throw badRequestError(`error decoding Scale: ${(error as Error).message}`)
    }
    return this.scaleTo(resource, current, candidate, dryRun, writer)
  }

  /** PATCH of the Scale subresource: the patch applies to the Scale object, then its replicas are written. */
  patchScale(resource: WorkloadResource, namespace: string, name: string, contentType: string | undefined, body: Buffer, dryRun: boolean, writer: FieldManager): Scale {
    const current = this.read(resource, namespace, name)
    const candidate = applyPatch(toScale(current) as unknown as Json, contentType, body)
    return this.scaleTo(resource, current, candidate, dryRun, writer)
  }

  private scaleTo(resource: WorkloadResource, current: Workload, candidate: Json, dryRun: boolean, writer: FieldManager): Scale {
    const name = current.metadata.name
    if (!isObject(candidate) || (candidate.kind !== undefined && candidate.kind !== 'Scale')) throw badRequestError('the body must be an autoscaling/v1 Scale object')
    const metadata = isObject(candidate.metadata) ? candidate.metadata : {}
    if (metadata.name !== undefined && metadata.name !== name) {
      throw badRequestError(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`)
    }
    this.checkPrecondition(resource, current, metadata.resourceVersion)
    const spec = isObject(candidate.spec) ? candidate.spec : {}
    const replicas = this.checkReplicas('Scale', 'autoscaling', name, spec.replicas ?? 0)
    const next: Workload = { ...current, spec: { ...current.spec, replicas } }
    return toScale(this.write(resource, next, current, dryRun, writer))
  }

  private checkPrecondition(resource: WorkloadResource, current: Workload, resourceVersion: Json | undefined): void {
    if (resourceVersion === undefined || resourceVersion === null || resourceVersion === '') return
    if (resourceVersion !== current.metadata.resourceVersion) throw conflictError(resource, 'apps', current.metadata.name)
  }

  private checkReplicas(kind: string, group: string, name: string, replicas: Json): number {
    if (typeof replicas !== 'number') throw badRequestError(`spec.replicas: expected an integer, got ${JSON.stringify(replicas)}`)
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 2 ** 31 - 1) {
      throw invalidError(kind, group, name, `spec.replicas: Invalid value: ${replicas}: must be greater than or equal to 0`)
    }
    return replicas
  }

  /** Validates the patched object and keeps only what a client may change. */
  private acceptWorkload(resource: WorkloadResource, current: Workload, candidate: Json): Workload {
    const kind = RESOURCES[resource].kind
    const name = current.metadata.name
    if (!isObject(candidate) || !isObject(candidate.metadata) || !isObject(candidate.spec)) {
      throw invalidError(kind, 'apps', name, 'metadata and spec are required')
    }
    const { metadata, spec } = candidate
    if (metadata.name !== name || (metadata.namespace !== undefined && metadata.namespace !== current.metadata.namespace)) {
      throw badRequestError(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`)
    }
    this.checkPrecondition(resource, current, metadata.resourceVersion)
    for (const field of ['labels', 'annotations'] as const) {
      if (metadata[field] !== undefined && !isStringMap(metadata[field])) {
        throw badRequestError(`metadata.${field}: expected a map of strings, got ${JSON.stringify(metadata[field])}`)
      }
    }
    const replicas = this.checkReplicas(kind, 'apps', name, spec.replicas ?? 1)
    if (!sameJson(spec.selector, current.spec.selector)) {
      throw invalidError(kind, 'apps', name, `spec.selector: Invalid value: ${JSON.stringify(spec.selector)}: field is immutable`)
    }
    if (resource === 'statefulsets' && spec.podManagementPolicy !== current.spec.podManagementPolicy) {
      throw invalidError(kind, 'apps', name, "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
    }
    const template = isObject(spec.template) ? spec.template : {}
    const templateLabels = isObject(template.metadata) ? template.metadata.labels : undefined
    const selectorLabels = current.spec.selector.matchLabels
    if (!isStringMap(templateLabels) || Object.entries(selectorLabels).some(([k, v]) => templateLabels[k] !== v)) {
      throw invalidError(kind, 'apps', name, `spec.template.metadata.labels: Invalid value: ${JSON.stringify(templateLabels)}: \`selector\` does not match template \`labels\``)
    }
    const grace = isObject(template.spec) ? (template.spec.terminationGracePeriodSeconds ?? 30) : 30
    if (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0) {
      throw invalidError(kind, 'apps', name, `spec.template.spec.terminationGracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}: must be greater than or equal to 0`)
    }
    const nextSpec: WorkloadSpec = structuredClone(current.spec)
    nextSpec.replicas = replicas
    if (resource === 'deployments') {
      const paused = spec.paused ?? false
      if (typeof paused !== 'boolean') throw badRequestError(`spec.paused: expected a boolean, got ${JSON.stringify(paused)}`)
      // omitempty: a Deployment that is not paused has no `paused` field.
      if (paused) nextSpec.paused = true
      else delete nextSpec.paused
    }
    nextSpec.template.metadata.labels = { ...templateLabels }
    nextSpec.template.spec.terminationGracePeriodSeconds = grace
    const labels = metadata.labels as Record<string, string> | undefined
    const annotations = metadata.annotations as Record<string, string> | undefined
    return {
      ...current,
      metadata: { ...current.metadata, ...(labels ? { labels } : { labels: undefined }), ...(annotations ? { annotations } : { annotations: undefined }) },
      spec: nextSpec,
    }
  }

  /** Stores `next` unless nothing changed; bumps generation on a spec change, records the writer, wakes the controller. */
  private write(resource: WorkloadResource, next: Workload, current: Workload, dryRun: boolean, writer: FieldManager): Workload {
    const updated: Workload = structuredClone(next)
    for (const field of ['labels', 'annotations'] as const) {
      const map = updated.metadata[field]
      if (map === undefined || Object.keys(map).length === 0) delete updated.metadata[field]
    }
    const specChanged = !sameJson(updated.spec, current.spec)
    if (!specChanged && sameJson(updated.metadata, current.metadata)) return current
    if (specChanged) updated.metadata.generation = (current.metadata.generation ?? 1) + 1
    if (dryRun) return updated
    const stored = this.store.put(resource, withManagedFields(current, updated, writer, 'object', new Date()))
    if (specChanged) this.controller.workloadChanged(resource, stored.metadata.namespace ?? '', stored.metadata.name)
    return stored
  }
}
