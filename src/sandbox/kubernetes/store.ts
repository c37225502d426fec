/**
 * The plane's object store, standing in for etcd behind the apiserver's watch cache.
 *
 * Invariants: one revision counter for all objects; every write (create, update, delete) takes the next revision
 * and stamps it as the object's `metadata.resourceVersion`; every write is one event in `history` and is pushed to
 * listeners synchronously, in revision order. Readers get copies, so a caller can never mutate stored state.
 * History is bounded (like etcd compaction): a watch from a revision older than what is retained gets 410 Gone.
 */
import type { KubeObject, ResourceName, ResourceTypes } from './objects.js'

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoreEvent {
  type: EventType
  resource: ResourceName
  revision: number
  object: KubeObject
  /** The object before this write (for MODIFIED), so a watch can tell when it enters or leaves a selector. */
  previous?: KubeObject
}

export type StoreListener = (event: StoreEvent) => void

const DEFAULT_HISTORY_LIMIT = 5000

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name
}

export class ObjectStore {
  private revision = 0
  private readonly objects = new Map<ResourceName, Map<string, KubeObject>>()
  private readonly history: StoreEvent[] = []
  private readonly listeners = new Set<StoreListener>()

  constructor(private readonly historyLimit = DEFAULT_HISTORY_LIMIT) {}

  /** The revision of the latest write; lists report it as their resourceVersion. */
  get currentRevision(): number {
    return this.revision
  }

  get<R extends ResourceName>(resource: R, namespace: string | undefined, name: string): ResourceTypes[R] | undefined {
    const found = this.objects.get(resource)?.get(keyOf(namespace, name))
    return found && (structuredClone(found) as ResourceTypes[R])
  }

  /**
   * Objects of a resource, all namespaces when `namespace` is undefined, ordered by namespace then name. `matches`
   * filters the stored objects before they are copied: a controller scanning a thousand pods for one workload's
   * copies only that workload's.
   */
  list<R extends ResourceName>(resource: R, namespace?: string, matches?: (object: ResourceTypes[R]) => boolean): ResourceTypes[R][] {
    const all = [...(this.objects.get(resource)?.values() ?? [])] as ResourceTypes[R][]
    return all
      .filter((object) => (namespace === undefined || object.metadata.namespace === namespace) && (matches === undefined || matches(object)))
      .sort((a, b) => {
        const ka = keyOf(a.metadata.namespace, a.metadata.name)
        const kb = keyOf(b.metadata.namespace, b.metadata.name)
        return ka < kb ? -1 : ka > kb ? 1 : 0
      })
      .map((object) => structuredClone(object))
  }

  /** Creates or replaces the object; returns the stored copy with its new resourceVersion. */
  put<R extends ResourceName>(resource: R, object: ResourceTypes[R]): ResourceTypes[R] {
    let byKey = this.objects.get(resource)
    if (!byKey) {
      byKey = new Map()
      this.objects.set(resource, byKey)
    }
    const key = keyOf(object.metadata.namespace, object.metadata.name)
    const previous = byKey.get(key)
    const stored = structuredClone(object)
    stored.metadata.resourceVersion = String(++this.revision)
    byKey.set(key, stored)
    this.record({ type: previous ? 'MODIFIED' : 'ADDED', resource, revision: this.revision, object: stored, ...(previous ? { previous } : {}) })
    return structuredClone(stored)
  }

  /** Removes the object; the DELETED event carries it with the deletion's resourceVersion, as etcd reports it. */
  delete<R extends ResourceName>(resource: R, namespace: string | undefined, name: string): ResourceTypes[R] | undefined {
    const byKey = this.objects.get(resource)
    const key = keyOf(namespace, name)
    const existing = byKey?.get(key)
    if (!byKey || !existing) return undefined
    byKey.delete(key)
    const removed = structuredClone(existing)
    removed.metadata.resourceVersion = String(++this.revision)
    this.record({ type: 'DELETED', resource, revision: this.revision, object: removed })
    return structuredClone(removed) as ResourceTypes[R]
  }

  /**
   * Events after `revision`, oldest first; `undefined` when that revision has been compacted away (410 Gone).
   * The oldest revision still answerable is reported by `oldestRetainedRevision`.
   */
  eventsAfter(revision: number): StoreEvent[] | undefined {
    if (revision < this.oldestRetainedRevision) return undefined
    return this.history.filter((event) => event.revision > revision)
  }

  /** The smallest revision a watch may start from. */
  get oldestRetainedRevision(): number {
    const first = this.history[0]
    return first ? first.revision - 1 : this.revision
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private record(event: StoreEvent): void {
    this.history.push(event)
    if (this.history.length > this.historyLimit) this.history.splice(0, this.history.length - this.historyLimit)
    for (const listener of [...this.listeners]) listener(event)
  }
}
