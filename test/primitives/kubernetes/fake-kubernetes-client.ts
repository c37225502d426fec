/**
 * An in-memory `KubernetesClient` for unit tests. Behaviour:
 * - workloads hold a replica count (the scale subresource and `spec.replicas`) and annotations; their pods carry
 *   the label `app=<workload name>`, which is the workload's pod selector;
 * - scaling to N below the pod count marks the surplus pods terminating (a MODIFIED event), as the controller
 *   would; they stay listed until the test calls `finishTermination()`, which deletes them (DELETED events);
 * - `deletePod` marks a pod terminating and records the grace period; a missing pod is not an error;
 * - pods lists and watches cover the whole namespace; watches receive events (with the pod's labels) from the
 *   moment they open; `endWatches(error)` ends every open watch, `openWatches` counts them;
 * - `failPodLists(error)` makes pods lists fail;
 * - other objects (CronJobs, custom resources) live in a generic store: `putObject` adds one (and makes its type
 *   served), merge patches apply RFC 7386, a type never put is not served (lists and reads answer `null`);
 * - `forbid('patch deployments')` makes that verb on that resource answer 403 (`KubernetesForbidden`);
 * - every call is recorded in `calls` as one readable line.
 */
import { PrimitiveError } from '../../../src/core/primitive.js'
import type { ApiResource, KubeObject, KubernetesClient, PodSummary, PodWatchEvent, Workload, WorkloadKind, WorkloadRef } from '../../../src/primitives/kubernetes/client.js'
import { KubernetesApiError } from '../../../src/primitives/kubernetes/http-client.js'

interface FakeWorkload {
  workload: Workload
  replicas: number
}

interface FakePod {
  namespace: string
  selector: string
  labels: Record<string, string>
  terminating: boolean
  gracePeriodSeconds?: number
  /** Owner, phase and the like, as the pod's object would say them. */
  extra?: Omit<PodSummary, 'name' | 'labels'>
}

interface OpenWatch {
  namespace: string
  onEvent: (event: PodWatchEvent) => void
  onEnd: (error?: unknown) => void
}

export interface WorkloadInput {
  kind: WorkloadKind
  name: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  replicas: number
  terminationGracePeriodSeconds?: number
  podManagementPolicy?: 'OrderedReady' | 'Parallel'
}

export class FakeKubernetesClient implements KubernetesClient {
  readonly calls: string[] = []
  private readonly workloads = new Map<string, FakeWorkload & { labels: Record<string, string> }>()
  private readonly pods = new Map<string, FakePod>()
  private watches: OpenWatch[] = []
  private watchWaiters: Array<() => void> = []
  private podListError: Error | undefined
  private readonly objects = new Map<string, KubeObject>()
  private readonly served = new Set<string>()
  private readonly forbidden = new Set<string>()

  constructor(readonly context = 'prod-eu') {
    // Every cluster serves ReplicaSets; the fake's pods name no owner, so the list stays empty.
    this.served.add('replicasets')
  }

  add(input: WorkloadInput): Workload {
    const namespace = input.namespace ?? 'agents'
    const workload: Workload = {
      namespace,
      kind: input.kind,
      name: input.name,
      podSelector: `app=${input.name}`,
      labels: { ...input.labels },
      annotations: { ...input.annotations },
      terminationGracePeriodSeconds: input.terminationGracePeriodSeconds ?? 30,
      podManagementPolicy: input.kind === 'statefulset' ? (input.podManagementPolicy ?? 'OrderedReady') : null,
      replicas: input.replicas,
    }
    this.workloads.set(key(workload), { workload, replicas: input.replicas, labels: input.labels ?? {} })
    for (let i = 0; i < input.replicas; i++) this.addPod(workload, `${input.name}-${i}`)
    return workload
  }

  /** A pod of the namespace that belongs to no workload of the test (another team's), with what its object says. */
  addStrayPod(name: string, labels: Record<string, string>, namespace = 'agents', extra: Omit<PodSummary, 'name' | 'labels'> = {}): void {
    this.pods.set(name, { namespace, selector: '', labels, terminating: false, extra })
    this.emit(this.pods.get(name)!, { type: 'ADDED', pod: { name, labels: { ...labels }, ...extra } })
  }

  /** Adds an object of any type (its type is then served). */
  putObject(resource: ApiResource, namespace: string, object: KubeObject): void {
    this.served.add(resource.plural)
    this.objects.set(objectKey(resource, namespace, object.metadata?.name ?? ''), structuredClone(object))
  }

  object(resource: ApiResource, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(objectKey(resource, namespace, name))
  }

  /** `verb resource`, e.g. `patch deployments`, `delete pods`, `list cronjobs`: answered 403 from now on. */
  forbid(rule: string): void {
    this.forbidden.add(rule)
  }

  replicas(ref: WorkloadRef): number {
    return this.get(ref).replicas
  }

  annotations(ref: WorkloadRef): Record<string, string> {
    return { ...this.get(ref).workload.annotations }
  }

  podNames(selector: string): string[] {
    return [...this.pods].filter(([, pod]) => pod.selector === selector).map(([name]) => name)
  }

  pod(name: string): FakePod | undefined {
    return this.pods.get(name)
  }

  /** The kubelet's part: every terminating pod (of one workload, if named) goes away. */
  finishTermination(workloadName?: string): void {
    for (const [name, pod] of [...this.pods]) {
      if (!pod.terminating || (workloadName !== undefined && pod.selector !== `app=${workloadName}`)) continue
      this.pods.delete(name)
      this.emit(pod, { type: 'DELETED', pod: { name, labels: { ...pod.labels } } })
    }
  }

  /** Every pods list fails with `error` until called with `undefined`. */
  failPodLists(error: Error | undefined): void {
    this.podListError = error
  }

  get openWatches(): number {
    return this.watches.length
  }

  /** Pods disappear without any watch hearing of it (events lost between watches). */
  removePodsSilently(): void {
    this.pods.clear()
  }

  endWatches(error?: unknown): void {
    const ending = this.watches
    this.watches = []
    for (const watch of ending) watch.onEnd(error)
  }

  /** Resolves when the next watch opens. */
  nextWatch(): Promise<void> {
    return new Promise((resolve) => this.watchWaiters.push(resolve))
  }

  async listWorkloads(namespace: string, kind: WorkloadKind, labelSelector: string): Promise<Workload[]> {
    this.calls.push(`list ${kind} ${namespace} ${labelSelector}`)
    const [label, value] = labelSelector.split('=')
    return [...this.workloads.values()]
      .filter((w) => w.workload.namespace === namespace && w.workload.kind === kind && w.labels[label!] === value)
      .map(copy)
  }

  async readWorkload(ref: WorkloadRef): Promise<Workload | null> {
    this.calls.push(`get ${ref.kind}/${ref.name}`)
    const found = this.workloads.get(key(ref))
    return found ? copy(found) : null
  }

  async readScaleReplicas(ref: WorkloadRef): Promise<number> {
    this.calls.push(`get-scale ${ref.kind}/${ref.name}`)
    return this.get(ref).replicas
  }

  async patchScaleReplicas(ref: WorkloadRef, replicas: number): Promise<void> {
    this.calls.push(`patch-scale ${ref.kind}/${ref.name} ${replicas}`)
    this.check('patch', `${ref.kind}s/scale`)
    const found = this.get(ref)
    found.replicas = replicas
    const pods = this.podNames(found.workload.podSelector).filter((name) => !this.pods.get(name)!.terminating)
    for (const name of pods.slice(replicas)) this.terminate(name)
    for (let i = pods.length; i < replicas; i++) this.addPod(found.workload, `${ref.name}-${i}`)
  }

  async patchAnnotations(ref: WorkloadRef, annotations: Record<string, string | null>): Promise<void> {
    this.calls.push(`patch-annotations ${ref.kind}/${ref.name} ${JSON.stringify(annotations)}`)
    this.check('patch', `${ref.kind}s`)
    const workload = this.get(ref).workload
    for (const [name, value] of Object.entries(annotations)) {
      if (value === null) delete workload.annotations[name]
      else workload.annotations[name] = value
    }
  }

  async listPods(namespace: string) {
    this.calls.push(`list-pods ${namespace}`)
    if (this.podListError) throw this.podListError
    const pods = [...this.pods].filter(([, pod]) => pod.namespace === namespace).map(([name, pod]) => ({ name, labels: { ...pod.labels }, ...pod.extra }))
    return { pods, resourceVersion: String(this.calls.length) }
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds: number): Promise<void> {
    this.calls.push(`delete-pod ${namespace}/${name} grace=${gracePeriodSeconds}`)
    this.check('delete', 'pods')
    const pod = this.pods.get(name)
    if (!pod) return
    pod.gracePeriodSeconds = gracePeriodSeconds
    this.terminate(name)
  }

  async watchPods(namespace: string, _resourceVersion: string, onEvent: (event: PodWatchEvent) => void, onEnd: (error?: unknown) => void) {
    this.calls.push(`watch-pods ${namespace}`)
    const watch: OpenWatch = { namespace, onEvent, onEnd }
    this.watches.push(watch)
    const waiters = this.watchWaiters
    this.watchWaiters = []
    for (const resolve of waiters) resolve()
    return { stop: () => void (this.watches = this.watches.filter((w) => w !== watch)) }
  }

  async listObjects(resource: ApiResource, namespace: string, labelSelector: string | undefined): Promise<KubeObject[] | null> {
    this.calls.push(`list ${resource.plural} ${namespace}${labelSelector ? ` ${labelSelector}` : ''}`)
    this.check('list', resource.plural)
    if (!this.served.has(resource.plural)) return null
    const [label, value] = (labelSelector ?? '').split('=')
    return [...this.objects]
      .filter(([k]) => k.startsWith(objectKey(resource, namespace, '')))
      .map(([, o]) => structuredClone(o))
      .filter((o) => labelSelector === undefined || o.metadata?.labels?.[label!] === value)
  }

  async readObject(resource: ApiResource, namespace: string, name: string): Promise<KubeObject | null> {
    this.calls.push(`get ${resource.plural} ${namespace}/${name}`)
    this.check('get', resource.plural)
    const found = this.objects.get(objectKey(resource, namespace, name))
    return found ? structuredClone(found) : null
  }

  async patchObject(resource: ApiResource, namespace: string, name: string, patch: unknown): Promise<void> {
    this.calls.push(`patch ${resource.plural} ${namespace}/${name} ${JSON.stringify(patch)}`)
    this.check('patch', resource.plural)
    const key = objectKey(resource, namespace, name)
    const found = this.objects.get(key)
    if (!found) throw new KubernetesApiError(`fake: no ${resource.plural} ${name} in ${namespace}`, 404, 'NotFound')
    this.objects.set(key, mergePatch(found, patch) as KubeObject)
  }

  async deleteObject(resource: ApiResource, namespace: string, name: string): Promise<void> {
    this.calls.push(`delete ${resource.plural} ${namespace}/${name}`)
    this.check('delete', resource.plural)
    this.objects.delete(objectKey(resource, namespace, name))
  }

  private check(verb: string, resource: string): void {
    if (this.forbidden.has(`${verb} ${resource}`)) {
      throw new PrimitiveError(`fake: forbidden to ${verb} ${resource}`, undefined, 'KubernetesForbidden')
    }
  }

  private addPod(workload: Workload, name: string): void {
    const pod: FakePod = { namespace: workload.namespace, selector: workload.podSelector, labels: { app: workload.name }, terminating: false }
    this.pods.set(name, pod)
    this.emit(pod, { type: 'ADDED', pod: { name, labels: { ...pod.labels } } })
  }

  private terminate(name: string): void {
    const pod = this.pods.get(name)!
    if (pod.terminating) return
    pod.terminating = true
    this.emit(pod, { type: 'MODIFIED', pod: { name, labels: { ...pod.labels } } })
  }

  private emit(pod: FakePod, event: PodWatchEvent): void {
    for (const watch of this.watches.filter((w) => w.namespace === pod.namespace)) watch.onEvent(event)
  }

  private get(ref: WorkloadRef): FakeWorkload {
    const found = this.workloads.get(key(ref))
    if (!found) throw new KubernetesApiError(`fake: no ${ref.kind}/${ref.name} in ${ref.namespace}`, 404, 'NotFound')
    return found
  }
}

function copy(found: FakeWorkload): Workload {
  return { ...found.workload, labels: { ...found.workload.labels }, annotations: { ...found.workload.annotations }, replicas: found.replicas }
}

function key(ref: WorkloadRef): string {
  return `${ref.namespace}/${ref.kind}/${ref.name}`
}

function objectKey(resource: ApiResource, namespace: string, name: string): string {
  return `${resource.group}/${resource.plural}/${namespace}/${name}`
}

/** RFC 7386: objects merge, `null` removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const result: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatch(result[key], value)
  }
  return result
}
