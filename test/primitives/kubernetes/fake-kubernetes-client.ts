/**
 * An in-memory `KubernetesClient` for unit tests. Behaviour:
 * - workloads hold a replica count (the scale subresource) and annotations; pods belong to a workload by its
 *   pod selector string;
 * - scaling to N below the pod count marks the surplus pods terminating (a MODIFIED event), as the controller
 *   would; they stay listed until the test calls `finishTermination()`, which deletes them (DELETED events);
 * - `deletePod` marks a pod terminating and records the grace period; a missing pod is not an error;
 * - watches receive events from the moment they open; `endWatches(error)` ends every open watch;
 * - every call is recorded in `calls` as one readable line.
 */
import type { KubernetesClient, PodWatchEvent, Workload, WorkloadKind, WorkloadRef } from '../../../src/primitives/kubernetes/client.js'

interface FakeWorkload {
  workload: Workload
  replicas: number
}

interface FakePod {
  selector: string
  terminating: boolean
  gracePeriodSeconds?: number
}

interface OpenWatch {
  selector: string
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

  constructor(readonly context = 'prod-eu') {}

  add(input: WorkloadInput): Workload {
    const namespace = input.namespace ?? 'agents'
    const workload: Workload = {
      namespace,
      kind: input.kind,
      name: input.name,
      podSelector: `app=${input.name}`,
      annotations: { ...input.annotations },
      terminationGracePeriodSeconds: input.terminationGracePeriodSeconds ?? 30,
      podManagementPolicy: input.kind === 'statefulset' ? (input.podManagementPolicy ?? 'OrderedReady') : null,
    }
    this.workloads.set(key(workload), { workload, replicas: input.replicas, labels: input.labels ?? {} })
    for (let i = 0; i < input.replicas; i++) this.pods.set(`${input.name}-${i}`, { selector: workload.podSelector, terminating: false })
    return workload
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

  /** The kubelet's part: every terminating pod goes away. */
  finishTermination(): void {
    for (const [name, pod] of [...this.pods]) {
      if (!pod.terminating) continue
      this.pods.delete(name)
      this.emit(pod.selector, { type: 'DELETED', name })
    }
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
      .map((w) => ({ ...w.workload, annotations: { ...w.workload.annotations } }))
  }

  async readWorkload(ref: WorkloadRef): Promise<Workload | null> {
    this.calls.push(`get ${ref.kind}/${ref.name}`)
    const found = this.workloads.get(key(ref))
    return found ? { ...found.workload, annotations: { ...found.workload.annotations } } : null
  }

  async readScaleReplicas(ref: WorkloadRef): Promise<number> {
    this.calls.push(`get-scale ${ref.kind}/${ref.name}`)
    return this.get(ref).replicas
  }

  async patchScaleReplicas(ref: WorkloadRef, replicas: number): Promise<void> {
    this.calls.push(`patch-scale ${ref.kind}/${ref.name} ${replicas}`)
    const found = this.get(ref)
    found.replicas = replicas
    const pods = this.podNames(found.workload.podSelector).filter((name) => !this.pods.get(name)!.terminating)
    for (const name of pods.slice(replicas)) this.terminate(name)
    for (let i = pods.length; i < replicas; i++) this.pods.set(`${ref.name}-${i}`, { selector: found.workload.podSelector, terminating: false })
  }

  async patchAnnotations(ref: WorkloadRef, annotations: Record<string, string | null>): Promise<void> {
    this.calls.push(`patch-annotations ${ref.kind}/${ref.name} ${JSON.stringify(annotations)}`)
    const workload = this.get(ref).workload
    for (const [name, value] of Object.entries(annotations)) {
      if (value === null) delete workload.annotations[name]
      else workload.annotations[name] = value
    }
  }

  async listPods(namespace: string, labelSelector: string) {
    this.calls.push(`list-pods ${namespace} ${labelSelector}`)
    return { names: this.podNames(labelSelector), resourceVersion: String(this.calls.length) }
  }

  async deletePod(namespace: string, name: string, gracePeriodSeconds: number): Promise<void> {
    this.calls.push(`delete-pod ${namespace}/${name} grace=${gracePeriodSeconds}`)
    const pod = this.pods.get(name)
    if (!pod) return
    pod.gracePeriodSeconds = gracePeriodSeconds
    this.terminate(name)
  }

  async watchPods(
    namespace: string,
    labelSelector: string,
    _resourceVersion: string,
    onEvent: (event: PodWatchEvent) => void,
    onEnd: (error?: unknown) => void,
  ) {
    this.calls.push(`watch-pods ${namespace} ${labelSelector}`)
    const watch: OpenWatch = { selector: labelSelector, onEvent, onEnd }
    this.watches.push(watch)
    const waiters = this.watchWaiters
    this.watchWaiters = []
    for (const resolve of waiters) resolve()
    return { stop: () => void (this.watches = this.watches.filter((w) => w !== watch)) }
  }

  private terminate(name: string): void {
    const pod = this.pods.get(name)!
    if (pod.terminating) return
    pod.terminating = true
    this.emit(pod.selector, { type: 'MODIFIED', name })
  }

  private emit(selector: string, event: PodWatchEvent): void {
    for (const watch of this.watches.filter((w) => w.selector === selector)) watch.onEvent(event)
  }

  private get(ref: WorkloadRef): FakeWorkload {
    const found = this.workloads.get(key(ref))
    if (!found) throw new Error(`fake: no ${ref.kind}/${ref.name} in ${ref.namespace}`)
    return found
  }
}

function key(ref: WorkloadRef): string {
  return `${ref.namespace}/${ref.kind}/${ref.name}`
}
