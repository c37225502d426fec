/**
 * Pod deletion as the apiserver and the kubelet carry it out together:
 * - a DELETE sets `deletionTimestamp` (now + grace) and `deletionGracePeriodSeconds` (one MODIFIED event); the grace
 *   period is the request's, else the pod's `terminationGracePeriodSeconds`, and 0 for a pod that is not scheduled
 *   or has finished (k8s `pkg/registry/core/pod/strategy.go` CheckGracefulDelete);
 * - a later DELETE may only shorten a pending termination, keeping its start (apiserver `rest/delete.go`);
 * - when the grace period ends the kubelet is done and the pod is removed (DELETED) — unless finalizers remain, in
 *   which case it stays Terminating until a PATCH removes the last one; grace 0 removes it at once;
 * - a pod on a node that is not Ready never finishes terminating (its kubelet is gone), short of a grace-0 delete.
 * The sandbox always waits out the full grace period: the worst case of a process that ignores SIGTERM.
 */
import { isFinished, isNodeReady, isTerminating, timestamp, type Pod } from './objects.js'
import { notFoundError } from './status.js'
import type { ObjectStore } from './store.js'

export interface PodLifecycle {
  /** The pod started terminating, or its termination changed. */
  podChanged(pod: Pod): void
  /** The pod is gone. */
  podRemoved(pod: Pod): void
}

interface PendingTermination {
  timer?: NodeJS.Timeout
  /** When the grace period ends, in epoch ms. */
  deadline: number
  /** The kubelet has stopped the containers (or a grace-0 delete made waiting moot). */
  done: boolean
}

function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

export class Kubelet {
  private readonly terminations = new Map<string, PendingTermination>()
  private lifecycle: PodLifecycle = { podChanged: () => {}, podRemoved: () => {} }

  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Who hears of terminations: the pods' controllers. */
  notify(lifecycle: PodLifecycle): void {
    this.lifecycle = lifecycle
  }

  /** The pod DELETE (from the API, a controller or the garbage collector). Returns the pod as the apiserver does. */
  delete(namespace: string, name: string, gracePeriodSeconds: number | undefined): Pod {
    const pod = this.store.get('pods', namespace, name)
    if (!pod) throw notFoundError('pods', '', name)
    return this.terminate(pod, gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds)
  }

  /** A PATCH changed the pod's finalizers: a terminated pod whose last finalizer went is removed now. */
  finalizersChanged(pod: Pod): void {
    if (!isTerminating(pod) || (pod.metadata.finalizers?.length ?? 0) > 0) return
    const pending = this.terminations.get(podKey(pod.metadata.namespace ?? '', pod.metadata.name))
    if (pod.metadata.deletionGracePeriodSeconds === 0 || pending?.done) this.remove(pod)
  }

  /** Cancels pending terminations (pods stay as they are). */
  close(): void {
    for (const { timer } of this.terminations.values()) clearTimeout(timer)
    this.terminations.clear()
  }

  private terminate(pod: Pod, requested: number): Pod {
    // An unscheduled or finished pod has no kubelet to wait for.
    const grace = pod.spec.nodeName === undefined || isFinished(pod) ? 0 : Math.max(0, requested)
    const key = podKey(pod.metadata.namespace ?? '', pod.metadata.name)
    const pending = this.terminations.get(key)
    const currentGrace = pod.metadata.deletionGracePeriodSeconds
    if (isTerminating(pod) && currentGrace !== undefined && grace >= currentGrace) return pod
    const finalizers = pod.metadata.finalizers?.length ?? 0
    if (!isTerminating(pod) && grace === 0 && finalizers === 0) {
      this.remove(pod)
      return pod
    }
    const now = this.now().getTime()
    // A shortened termination keeps its start: the new deadline is start + the new grace period.
    const start = pending && currentGrace !== undefined ? pending.deadline - currentGrace * 1000 : now
    const deadline = start + grace * 1000
    if (pending) clearTimeout(pending.timer)
    pod.metadata.deletionTimestamp = timestamp(new Date(Math.ceil(deadline / 1000) * 1000))
    pod.metadata.deletionGracePeriodSeconds = grace
    const marked = this.store.put('pods', pod)
    const entry: PendingTermination = { deadline, done: false }
    this.terminations.set(key, entry)
    this.lifecycle.podChanged(marked)
    const kubeletAlive = isNodeReady(this.store.get('nodes', undefined, pod.spec.nodeName ?? ''))
    if (deadline <= now) this.finish(key, entry)
    else if (kubeletAlive) entry.timer = setTimeout(() => this.finish(key, entry), deadline - now)
    return marked
  }

  /** The grace period is over: the pod goes unless a finalizer holds it. */
  private finish(key: string, entry: PendingTermination): void {
    entry.done = true
    const [namespace, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)]
    const pod = this.store.get('pods', namespace, name)
    if (pod && (pod.metadata.finalizers?.length ?? 0) === 0) this.remove(pod)
  }

  private remove(pod: Pod): void {
    const namespace = pod.metadata.namespace ?? ''
    this.terminations.delete(podKey(namespace, pod.metadata.name))
    if (!this.store.delete('pods', namespace, pod.metadata.name)) return
    this.lifecycle.podRemoved(pod)
  }
}
