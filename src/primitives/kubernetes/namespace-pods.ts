/**
 * One namespace's pods, kept current for every workload being verified there: an informer-like cache, so that
 * verifying N workloads costs one pods list and one open watch, not N of each.
 *
 * Invariants:
 * - It lists every pod of the namespace once, then watches from that list's resourceVersion; each event updates
 *   the set of pods (name → summary: labels, owner, phase). A pod is in the set until its DELETED event; whether a
 *   waiter counts it (a terminating pod does, a finished one does not) is the waiter's predicate.
 * - Predicates may depend on more than the pod (which ReplicaSets a Deployment owns): `reevaluate()` recomputes
 *   every waiter when that knowledge changes.
 * - Any end of the watch (the server's 30 s timeout, the client giving up on a silent stream after 40 s, an ERROR
 *   event such as 410 Gone) leads to a fresh list, so no change is lost between watches. A watch that fails
 *   outright is retried after a growing delay (0.1 s doubling to 2 s), never in a busy loop.
 * - A failed list rejects every pending wait with its error and closes the cache; the next wait opens a new one.
 * - Every list and watch waits for `pace()` first, the cluster's rate-limit bucket.
 * - Once closed, no request leaves and the open watch is stopped.
 */
import { delay } from '../../core/wait.js'
import type { KubernetesClient, PodList, PodSummary, PodWatch } from './client.js'

/** Whether a pod counts for a waiter. */
export type PodPredicate = (pod: PodSummary) => boolean

const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 2000

type WatchOutcome = 'ended' | 'failed'

/** A workload waiting for its pods to be gone: the names of its live pods, kept current by every list and event. */
interface GoneWaiter {
  matches: PodPredicate
  remaining: Set<string>
  resolve(): void
  reject(error: unknown): void
}

export class NamespacePods {
  private readonly live = new Map<string, PodSummary>()
  private readonly goneWaiters = new Set<GoneWaiter>()
  private readonly syncWaiters = new Set<{ resolve(): void; reject(error: unknown): void }>()
  private readonly stopped = new AbortController()
  private synced = false
  /** Ends the open watch, if any. */
  private endWatch: (() => void) | undefined
  private failure: unknown

  constructor(
    private readonly client: KubernetesClient,
    readonly namespace: string,
    private readonly pace: () => Promise<void>,
    /** Called once, when the cache stops for good (closed, or its list failed). */
    private readonly onStop: () => void = () => undefined,
  ) {
    void this.run()
  }

  get closed(): boolean {
    return this.stopped.signal.aborted
  }

  /** Resolves once no live pod matches `matches`; rejects with `signal`'s reason, or the cache's list error. */
  untilGone(matches: PodPredicate, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure)
      signal.throwIfAborted()
      const onAbort = () => {
        this.goneWaiters.delete(waiter)
        reject(signal.reason)
      }
      const waiter: GoneWaiter = {
        matches,
        remaining: this.synced ? this.namesMatching(matches) : new Set(),
        resolve: () => {
          this.goneWaiters.delete(waiter)
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (error) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      if (this.synced && waiter.remaining.size === 0) return resolve()
      this.goneWaiters.add(waiter)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** The names of the live pods `matches` selects, once the cache has listed the namespace. */
  async podsMatching(matches: PodPredicate, signal: AbortSignal): Promise<string[]> {
    await this.whenSynced(signal)
    return [...this.namesMatching(matches)]
  }

  /** The pods `matches` selects now, once the cache has listed the namespace (what a time-out names). */
  async summariesMatching(matches: PodPredicate, signal: AbortSignal): Promise<PodSummary[]> {
    await this.whenSynced(signal)
    return [...this.live.values()].filter(matches)
  }

  /** Recomputes every waiter's pods: what a predicate depends on besides the pod has changed. */
  reevaluate(): void {
    if (!this.synced) return
    for (const waiter of [...this.goneWaiters]) {
      waiter.remaining = this.namesMatching(waiter.matches)
      if (waiter.remaining.size === 0) waiter.resolve()
    }
  }

  /** Stops the watch and every request; pending and later waits reject with `reason`. */
  close(reason: unknown = new Error(`the pod cache of namespace ${this.namespace} was closed`)): void {
    if (this.closed) return
    this.failure ??= reason
    this.stopped.abort(reason)
    this.endWatch?.()
    this.failWaiters(reason)
    this.onStop()
  }

  private whenSynced(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure)
      signal.throwIfAborted()
      if (this.synced) return resolve()
      const onAbort = () => {
        this.syncWaiters.delete(waiter)
        reject(signal.reason)
      }
      const waiter = {
        resolve: () => {
          signal.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (error: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      this.syncWaiters.add(waiter)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  private async run(): Promise<void> {
    const signal = this.stopped.signal
    let retryMs = FIRST_RETRY_MS
    while (!signal.aborted) {
      let listed: PodList
      try {
        await this.pace()
        if (signal.aborted) return
        listed = await this.client.listPods(this.namespace, signal)
      } catch (error) {
        if (signal.aborted) return
        this.close(error)
        return
      }
      this.replaceAll(listed.pods)
      const outcome = await this.watchFrom(listed.resourceVersion)
      if (outcome === 'failed') {
        try {
          await delay(retryMs, signal)
        } catch {
          return
        }
        retryMs = Math.min(MAX_RETRY_MS, retryMs * 2)
      } else {
        retryMs = FIRST_RETRY_MS
      }
    }
  }

  /** Applies watch events until the watch ends; resolves how it ended. */
  private async watchFrom(resourceVersion: string): Promise<WatchOutcome> {
    const signal = this.stopped.signal
    try {
      await this.pace()
    } catch {
      return 'failed'
    }
    if (signal.aborted) return 'ended'
    return new Promise<WatchOutcome>((resolve) => {
      let opened: PodWatch | undefined
      let ended = false
      const end = (outcome: WatchOutcome) => {
        if (ended) return
        ended = true
        this.endWatch = undefined
        opened?.stop()
        resolve(outcome)
      }
      this.endWatch = () => end('ended')
      this.client
        .watchPods(
          this.namespace,
          resourceVersion,
          (event) => {
            if (ended) return
            if (event.type === 'ERROR') return end('ended')
            if (event.pod === undefined) return
            if (event.type === 'DELETED') this.remove(event.pod.name)
            else if (event.type === 'ADDED' || event.type === 'MODIFIED') this.upsert(event.pod)
          },
          (error) => end(error === undefined || isTimeout(error) ? 'ended' : 'failed'),
        )
        .then(
          (watch) => {
            // The handle arrives after the watch may already have ended (an early ERROR, a close).
            if (ended) watch.stop()
            else opened = watch
          },
          () => end('failed'),
        )
    })
  }

  private replaceAll(pods: PodSummary[]): void {
    this.live.clear()
    for (const pod of pods) this.live.set(pod.name, pod)
    this.synced = true
    for (const waiter of [...this.goneWaiters]) {
      waiter.remaining = this.namesMatching(waiter.matches)
      if (waiter.remaining.size === 0) waiter.resolve()
    }
    const syncWaiters = [...this.syncWaiters]
    this.syncWaiters.clear()
    for (const waiter of syncWaiters) waiter.resolve()
  }

  private upsert(pod: PodSummary): void {
    this.live.set(pod.name, pod)
    for (const waiter of [...this.goneWaiters]) {
      // Labels and phase change on a MODIFIED pod: it may enter or leave a workload's selector, or finish.
      if (waiter.matches(pod)) waiter.remaining.add(pod.name)
      else if (waiter.remaining.delete(pod.name) && waiter.remaining.size === 0) waiter.resolve()
    }
  }

  private remove(name: string): void {
    this.live.delete(name)
    for (const waiter of [...this.goneWaiters]) {
      if (waiter.remaining.delete(name) && waiter.remaining.size === 0) waiter.resolve()
    }
  }

  private namesMatching(matches: PodPredicate): Set<string> {
    const names = new Set<string>()
    for (const [name, pod] of this.live) if (matches(pod)) names.add(name)
    return names
  }

  private failWaiters(error: unknown): void {
    const gone = [...this.goneWaiters]
    const synced = [...this.syncWaiters]
    this.goneWaiters.clear()
    this.syncWaiters.clear()
    for (const waiter of gone) waiter.reject(error)
    for (const waiter of synced) waiter.reject(error)
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
}
