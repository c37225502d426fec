/**
 * Whose pod is it, and does it still run? A halt is verified on the workload's own pods: a pod counts for a
 * Deployment when its controlling owner is a ReplicaSet that the Deployment owns, for a StatefulSet when the
 * StatefulSet owns it, and for a CronJob when one of the Jobs the halt deleted owns it; a pod that has finished
 * (`Succeeded`, or `Failed` as an evicted pod is) is not a running agent. A pod that matches the selector but
 * belongs to someone else (a canary Deployment, a DaemonSet, a bare pod) does not hold the halt back; the step names
 * it as a warning instead (`foreignPods`).
 *
 * Invariants: what is not known counts. A pod whose source gave no owner, or whose ReplicaSet is not (yet) in the
 * namespace's ReplicaSet list, counts for every workload whose selector it matches until the list is read again;
 * a namespace whose ReplicaSets cannot be listed falls back to the Deployment controller's naming
 * (`<deployment>-<pod-template-hash>`). Sources: docs/primitives/kubernetes.md#verification.
 */
import type { ApiResource, KubernetesClient, OwnerRef, PodSummary, WorkloadKind } from './client.js'
import type { LabelPredicate } from './label-selector.js'
import type { PodPredicate } from './namespace-pods.js'
import { controllerOf } from './http-client.js'

export const REPLICA_SETS: ApiResource = { group: 'apps', version: 'v1', plural: 'replicasets' }
export const NODES: ApiResource = { group: '', version: 'v1', plural: 'nodes', clusterScoped: true }

/** A re-list of the ReplicaSets leaves at most this often, however many unknown owners appear. */
const RELIST_INTERVAL_MS = 1000

export function isFinished(pod: PodSummary): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed'
}

/** One namespace's ReplicaSets → the Deployment that controls each, read on first use and again when an unknown one appears. */
export class ReplicaSetOwners {
  private owners = new Map<string, OwnerRef | null>()
  private listed: Promise<void> | undefined
  /** The list was refused: owners are told by the Deployment controller's naming instead. */
  private byName = false
  private lastListAt = 0
  private relisting = false
  private readonly onChange = new Set<() => void>()

  constructor(
    private readonly client: KubernetesClient,
    private readonly namespace: string,
    private readonly pace: () => Promise<void>,
    private readonly warn: (message: string) => void,
  ) {}

  /** Resolves once the namespace's ReplicaSets were listed (or found unlistable). */
  ready(signal: AbortSignal): Promise<void> {
    this.listed ??= this.list(signal)
    return this.listed
  }

  /** Called after every re-list, so that waiters recompute which pods are whose. */
  subscribe(listener: () => void): () => void {
    this.onChange.add(listener)
    return () => this.onChange.delete(listener)
  }

  /** The Deployment that controls the ReplicaSet `replicaSet` (`null`: none does); `undefined` when not known yet. */
  deploymentOf(replicaSet: string, podTemplateHash: string | undefined): string | null | undefined {
    if (this.byName) {
      const suffix = `-${podTemplateHash ?? ''}`
      return replicaSet.endsWith(suffix) && replicaSet.length > suffix.length ? replicaSet.slice(0, -suffix.length) : null
    }
    if (!this.owners.has(replicaSet)) {
      this.relistSoon()
      return undefined
    }
    const owner = this.owners.get(replicaSet)
    return owner?.kind === 'Deployment' ? owner.name : null
  }

  private async list(signal: AbortSignal): Promise<void> {
    this.lastListAt = Date.now()
    try {
      await this.pace()
      const items = await this.client.listObjects(REPLICA_SETS, this.namespace, undefined, signal)
      if (items === null) throw new Error('the API server does not serve apps/v1 replicasets')
      this.owners = new Map(items.map((rs) => [rs.metadata?.name ?? '', controllerOf(rs.metadata?.ownerReferences)]))
    } catch (error) {
      if (signal.aborted) throw error
      if (!this.byName) {
        this.warn(
          `could not list ReplicaSets in ${this.namespace} (${(error as Error).message}); pods are matched to Deployments by the ReplicaSet's name (<deployment>-<pod-template-hash>) instead: grant list on replicasets for ownership by reference`,
        )
      }
      this.byName = true
    }
  }

  private relistSoon(): void {
    if (this.relisting || this.byName) return
    this.relisting = true
    const wait = Math.max(0, this.lastListAt + RELIST_INTERVAL_MS - Date.now())
    setTimeout(() => {
      void this.list(AbortSignal.timeout(30_000))
        .catch(() => undefined)
        .finally(() => {
          this.relisting = false
          for (const listener of this.onChange) listener()
        })
    }, wait).unref()
  }
}

/** Which pods are a workload's own, running ones: what verification waits to see gone. */
export function ownRunningPods(kind: WorkloadKind, name: string, selector: LabelPredicate, owners: ReplicaSetOwners): PodPredicate {
  return (pod) => selector(pod.labels) && !isFinished(pod) && ownedBy(pod, kind, name, owners) !== false
}

/** `true`/`false` when known; `undefined` when the pod's owner is not known yet (it then counts). */
function ownedBy(pod: PodSummary, kind: WorkloadKind, name: string, owners: ReplicaSetOwners): boolean | undefined {
  if (pod.owner === undefined) return undefined
  if (pod.owner === null) return false
  if (kind === 'statefulset') return pod.owner.kind === 'StatefulSet' && pod.owner.name === name
  if (pod.owner.kind !== 'ReplicaSet') return false
  const deployment = owners.deploymentOf(pod.owner.name, pod.labels['pod-template-hash'])
  return deployment === undefined ? undefined : deployment === name
}

/**
 * The running pods that match a step's selector but that none of its targets owns, grouped by owner: what the halt
 * will not stop. `targets` are `deployment/NAME` and `statefulset/NAME`; `jobOwners` are the step's CronJobs.
 */
export function foreignPods(
  pods: PodSummary[],
  selector: LabelPredicate,
  targets: Set<string>,
  cronJobs: Set<string>,
  owners: ReplicaSetOwners,
): Map<string, string[]> {
  const byOwner = new Map<string, string[]>()
  const hasDeployments = [...targets].some((t) => t.startsWith('deployment/'))
  for (const pod of pods) {
    if (!selector(pod.labels) || isFinished(pod)) continue
    const owner = pod.owner
    if (owner === undefined) continue
    let ours = false
    if (owner?.kind === 'StatefulSet') ours = targets.has(`statefulset/${owner.name}`)
    else if (owner?.kind === 'ReplicaSet') {
      const deployment = owners.deploymentOf(owner.name, pod.labels['pod-template-hash'])
      // Not known yet: counted as the step's own when it halts any Deployment, as verification counts it.
      ours = deployment === undefined ? hasDeployments : targets.has(`deployment/${deployment}`)
    } else if (owner?.kind === 'Job') {
      // A CronJob's Job is named <cronjob>-<scheduled time in minutes>.
      ours = [...cronJobs].some((c) => owner.name.startsWith(`${c}-`))
    }
    if (ours) continue
    const key = owner ? `${owner.kind}/${owner.name}` : 'no owner (a bare pod)'
    byOwner.set(key, [...(byOwner.get(key) ?? []), pod.name])
  }
  return byOwner
}

/** One line per pod still there when verification gave up: why it is still there. */
export function describeStillThere(pods: PodSummary[], notReadyNodes: Set<string>, now = Date.now()): string {
  const shown = pods.slice(0, 5).map((pod) => {
    const facts: string[] = []
    if (pod.deletionTimestamp !== undefined) {
      const since = Math.max(0, Math.round((now - Date.parse(pod.deletionTimestamp)) / 1000))
      facts.push(`Terminating since ${pod.deletionTimestamp} (${since} s ago, grace period ${pod.deletionGracePeriodSeconds ?? '?'} s)`)
    } else {
      facts.push(`${pod.phase ?? 'phase unknown'}, not being deleted`)
    }
    if (pod.finalizers?.length) facts.push(`finalizers ${pod.finalizers.join(', ')} (removed only by their controller)`)
    if (pod.nodeName && notReadyNodes.has(pod.nodeName)) facts.push(`its node ${pod.nodeName} is NotReady (no kubelet to stop it)`)
    if (pod.owner) facts.push(`owner ${pod.owner.kind}/${pod.owner.name}`)
    return `${pod.name}: ${facts.join('; ')}`
  })
  const more = pods.length > shown.length ? `; and ${pods.length - shown.length} more` : ''
  return `${pods.length} pod(s) still there: ${shown.join('; ')}${more}`
}
