/**
 * batch/v1 CronJobs and Jobs, with the Job and CronJob controllers and the garbage collector's part in deleting a Job:
 * - a Job keeps `spec.parallelism` active pods `<job>-<rand5>`, each owned by it and carrying the
 *   `batch.kubernetes.io/job-tracking` finalizer, which the Job controller removes once the pod terminates (counting
 *   it in `status.failed`); a deleted pod is replaced at once (podReplacementPolicy TerminatingOrFailed) until
 *   `backoffLimit` (6) failures, when the Job fails and its pods are terminated (k8s Job docs; `pkg/controller/job`);
 * - a CronJob's Jobs are `<cronjob>-<scheduled minutes>`, owned by it, with one pod; `status.active` lists them while
 *   they exist. A new Job starts every `everyMs` (the seed's speed knob) while `spec.suspend` is not true;
 * - DELETE of a Job honours `propagationPolicy`: Background removes the Job at once and its pods afterwards, each
 *   with its grace period; Foreground keeps the Job (finalizer `foregroundDeletion`) until its pods are gone; Orphan
 *   (finalizer `orphan`) leaves the pods running without the owner reference. Without a policy, batch/v1 orphans, for
 *   backward compatibility, and warns (k8s `pkg/registry/batch/job/strategy.go` DefaultGarbageCollectionPolicy,
 *   `pkg/registry/batch/job/storage/storage.go` deleteOptionWarnings).
 */
import type { Kubelet } from './kubelet.js'
import { KUBE_CONTROLLER_MANAGER, withManagedFields } from './managed-fields.js'
import {
  controllerOf,
  controllerReference,
  isActive,
  isReady,
  isTerminating,
  newMeta,
  newPod,
  nonEmpty,
  randomSuffix,
  timestamp,
  type GenericObject,
  type OwnerReference,
  type Placement,
  type Pod,
} from './objects.js'
import type { Json } from './patch.js'
import type { CronJobSeed, JobSeed } from './seed.js'
import { conflictError, notFoundError, type StatusObject } from './status.js'
import type { ObjectStore } from './store.js'

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking'
const BACKOFF_LIMIT = 6
export const ORPHAN_WARNING =
  'child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning'

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground'

export interface JobDeleteOptions {
  propagationPolicy?: PropagationPolicy
  orphanDependents?: boolean
  preconditions?: { uid?: string; resourceVersion?: string }
  dryRun: boolean
}

export interface JobDeleteResult {
  body: GenericObject | StatusObject
  /** The apiserver's warning, when the request left the propagation to batch/v1's default. */
  warning?: string
}

interface JobOptions {
  namespace: string
  name: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  owner?: OwnerReference
  parallelism: number
  terminationGracePeriodSeconds: number
  restartPolicy: 'Never' | 'OnFailure'
}

function image(name: string): string {
  return `sandbox.local/${name}:latest`
}

/** A Job as the apiserver defaults it: a generated selector on its uid, the pod template labelled to match. */
export function newJob(options: JobOptions, now: Date): GenericObject {
  const metadata = newMeta(options.name, options.namespace, now, { generation: 1, ...(options.owner ? { ownerReferences: [options.owner] } : {}) })
  const uid = metadata.uid
  const generated = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': options.name, 'controller-uid': uid, 'job-name': options.name }
  const templateLabels = { ...options.labels, ...generated }
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { ...metadata, labels: Object.keys(options.labels).length > 0 ? { ...options.labels } : templateLabels, ...nonEmpty('annotations', options.annotations ?? {}) },
    spec: {
      parallelism: options.parallelism,
      completions: options.parallelism,
      backoffLimit: BACKOFF_LIMIT,
      completionMode: 'NonIndexed',
      suspend: false,
      manualSelector: false,
      podReplacementPolicy: 'TerminatingOrFailed',
      selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } },
      template: {
        metadata: { labels: templateLabels },
        spec: {
          containers: [{ name: 'agent', image: image(options.name) }],
          restartPolicy: options.restartPolicy,
          terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
        },
      },
    },
    status: {},
  }
}

export function newCronJob(namespace: string, seed: CronJobSeed, now: Date): GenericObject {
  const podSpec = { containers: [{ name: 'agent', image: image(seed.name) }], restartPolicy: 'OnFailure', terminationGracePeriodSeconds: seed.terminationGracePeriodSeconds }
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: newMeta(seed.name, namespace, now, { generation: 1, ...nonEmpty('labels', seed.labels) }),
    spec: {
      schedule: seed.schedule,
      concurrencyPolicy: 'Allow',
      suspend: seed.suspend,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: { metadata: { ...nonEmpty('labels', seed.labels) }, spec: { template: { metadata: { ...nonEmpty('labels', seed.labels) }, spec: podSpec } } },
    },
    status: {},
  }
}

type JsonObject = { [key: string]: Json }

function field(object: Json | undefined, ...path: string[]): Json | undefined {
  let node = object
  for (const key of path) node = typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as JsonObject)[key] : undefined
  return node
}

function numberField(object: Json | undefined, ...path: string[]): number {
  const value = field(object, ...path)
  return typeof value === 'number' ? value : 0
}

export class BatchController {
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly intervals = new Set<NodeJS.Timeout>()
  /** The last scheduled minute per CronJob, so that Jobs started faster than once a minute keep distinct names. */
  private readonly lastMinute = new Map<string, number>()

  constructor(
    private readonly store: ObjectStore,
    private readonly kubelet: Kubelet,
    private readonly controllerDelayMs: () => number,
    private readonly schedule: () => Placement,
    private readonly now: () => Date = () => new Date(),
  ) {}

  seedJob(namespace: string, seed: JobSeed): void {
    const job = newJob(
      { namespace, name: seed.name, labels: seed.labels, parallelism: seed.pods, terminationGracePeriodSeconds: seed.terminationGracePeriodSeconds, restartPolicy: 'Never' },
      this.now(),
    )
    this.store.put('jobs', withManagedFields(undefined, job, { manager: 'kubectl-client-side-apply', operation: 'Update' }, 'object', this.now()))
    this.reconcileJob(namespace, seed.name)
  }

  seedCronJob(namespace: string, seed: CronJobSeed): void {
    const cronJob = this.store.put('cronjobs', withManagedFields(undefined, newCronJob(namespace, seed, this.now()), { manager: 'kubectl-client-side-apply', operation: 'Update' }, 'object', this.now()))
    const minute = Math.floor(this.now().getTime() / 60_000)
    for (let i = seed.activeJobs; i > 0; i--) this.startJob(cronJob, minute - i)
    this.writeCronJobStatus(namespace, seed.name)
    if (seed.everyMs !== undefined) {
      const interval = setInterval(() => {
        const current = this.store.get('cronjobs', namespace, seed.name)
        if (!current || current.spec.suspend === true || isTerminating(current)) return
        this.startJob(current, Math.floor(this.now().getTime() / 60_000))
        this.writeCronJobStatus(namespace, seed.name)
      }, seed.everyMs)
      this.intervals.add(interval)
    }
  }

  /** A pod of a Job changed or went: the Job's status now; its tracking finalizer and replacement after the delay. */
  podEvent(pod: Pod): void {
    const owner = controllerOf(pod)
    const namespace = pod.metadata.namespace ?? ''
    if (pod.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER) && isTerminating(pod)) this.later(() => this.releasePod(namespace, pod.metadata.name))
    if (owner?.kind !== 'Job') return
    this.writeJobStatus(namespace, owner.name)
    this.later(() => this.reconcileJob(namespace, owner.name))
  }

  /** The Job DELETE with its propagation policy. */
  deleteJob(namespace: string, name: string, options: JobDeleteOptions): JobDeleteResult {
    const job = this.store.get('jobs', namespace, name)
    if (!job) throw notFoundError('jobs', 'batch', name)
    const { preconditions } = options
    if ((preconditions?.uid && preconditions.uid !== job.metadata.uid) || (preconditions?.resourceVersion && preconditions.resourceVersion !== job.metadata.resourceVersion)) {
      throw conflictError('jobs', 'batch', name)
    }
    const explicit = options.propagationPolicy ?? (options.orphanDependents === undefined ? undefined : options.orphanDependents ? 'Orphan' : 'Background')
    const warning = explicit === undefined ? ORPHAN_WARNING : undefined
    const policy: PropagationPolicy = explicit ?? 'Orphan'
    if (isTerminating(job)) return { body: job, ...(warning ? { warning } : {}) }
    const success: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: 'batch', kind: 'jobs', uid: job.metadata.uid } }
    if (options.dryRun) return { body: policy === 'Background' ? success : job, ...(warning ? { warning } : {}) }
    if (policy === 'Background') {
      this.store.delete('jobs', namespace, name)
      this.jobGone(job)
      this.later(() => this.collectDependents(namespace, job.metadata.uid))
      return { body: success, ...(warning ? { warning } : {}) }
    }
    const marked = structuredClone(job)
    marked.metadata.finalizers = [...(job.metadata.finalizers ?? []), policy === 'Foreground' ? 'foregroundDeletion' : 'orphan']
    marked.metadata.deletionTimestamp = timestamp(this.now())
    marked.metadata.deletionGracePeriodSeconds = 0
    const stored = this.store.put('jobs', marked)
    this.later(() => (policy === 'Foreground' ? this.collectDependents(namespace, job.metadata.uid) : this.orphanDependents(namespace, job)))
    return { body: stored, ...(warning ? { warning } : {}) }
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer)
    for (const interval of this.intervals) clearInterval(interval)
    this.timers.clear()
    this.intervals.clear()
  }

  private later(action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      action()
    }, this.controllerDelayMs())
    this.timers.add(timer)
  }

  private podsOf(namespace: string, uid: string): Pod[] {
    return this.store.list('pods', namespace, (pod) => pod.metadata.ownerReferences?.some((reference) => reference.uid === uid) === true)
  }

  private startJob(cronJob: GenericObject, scheduledMinute: number): void {
    const namespace = cronJob.metadata.namespace ?? ''
    const key = `${namespace}/${cronJob.metadata.name}`
    const minute = Math.max(scheduledMinute, (this.lastMinute.get(key) ?? -Infinity) + 1)
    this.lastMinute.set(key, minute)
    const template = field(cronJob.spec, 'jobTemplate')
    const labels = (field(template, 'metadata', 'labels') ?? {}) as Record<string, string>
    const name = `${cronJob.metadata.name}-${minute}`
    const job = newJob(
      {
        namespace,
        name,
        labels,
        annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': timestamp(new Date(minute * 60_000)) },
        owner: controllerReference(cronJob),
        parallelism: 1,
        terminationGracePeriodSeconds: numberField(template, 'spec', 'template', 'spec', 'terminationGracePeriodSeconds') || 30,
        restartPolicy: 'OnFailure',
      },
      this.now(),
    )
    this.store.put('jobs', withManagedFields(undefined, job, KUBE_CONTROLLER_MANAGER, 'object', this.now()))
    this.reconcileJob(namespace, name)
  }

  private reconcileJob(namespace: string, name: string): void {
    const job = this.store.get('jobs', namespace, name)
    if (!job || isTerminating(job)) return this.writeJobStatus(namespace, name)
    const failed = Array.isArray(job.status.conditions) && job.status.conditions.some((c) => field(c, 'type') === 'Failed')
    const active = this.podsOf(namespace, job.metadata.uid).filter(isActive)
    if (failed) return this.writeJobStatus(namespace, name)
    if (numberField(job.status, 'failed') > numberField(job.spec, 'backoffLimit')) {
      for (const pod of active) this.kubelet.delete(namespace, pod.metadata.name, undefined)
      return this.writeJobStatus(namespace, name, true)
    }
    const template = field(job.spec, 'template')
    const labels = (field(template, 'metadata', 'labels') ?? {}) as Record<string, string>
    for (let i = active.length; i < numberField(job.spec, 'parallelism'); i++) {
      this.store.put(
        'pods',
        newPod(
          {
            namespace,
            name: `${name}-${randomSuffix()}`,
            generateName: `${name}-`,
            labels,
            owner: controllerReference(job),
            containers: (field(template, 'spec', 'containers') ?? []) as { name: string; image: string }[],
            terminationGracePeriodSeconds: numberField(template, 'spec', 'terminationGracePeriodSeconds'),
            restartPolicy: field(template, 'spec', 'restartPolicy') === 'OnFailure' ? 'OnFailure' : 'Never',
            ...this.schedule(),
            phase: 'Running',
            finalizers: [JOB_TRACKING_FINALIZER],
          },
          this.now(),
        ),
      )
    }
    this.writeJobStatus(namespace, name)
  }

  /** The Job controller's part of a pod's termination: drop the tracking finalizer, count the failure. */
  private releasePod(namespace: string, name: string): void {
    const pod = this.store.get('pods', namespace, name)
    if (!pod?.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER)) return
    pod.metadata.finalizers = pod.metadata.finalizers.filter((f) => f !== JOB_TRACKING_FINALIZER)
    if (pod.metadata.finalizers.length === 0) delete pod.metadata.finalizers
    const released = this.store.put('pods', pod)
    const owner = controllerOf(released)
    const job = owner?.kind === 'Job' ? this.store.get('jobs', namespace, owner.name) : undefined
    if (job && !isTerminating(job)) {
      const next = structuredClone(job)
      next.status = { ...next.status, failed: numberField(job.status, 'failed') + 1 }
      this.store.put('jobs', withManagedFields(job, next, { ...KUBE_CONTROLLER_MANAGER, subresource: 'status' }, 'status', this.now()))
    }
    this.kubelet.finalizersChanged(released)
  }

  private writeJobStatus(namespace: string, name: string, failing = false): void {
    const job = this.store.get('jobs', namespace, name)
    if (!job) return
    const pods = this.podsOf(namespace, job.metadata.uid)
    const active = pods.filter(isActive)
    const status: JsonObject = {
      ...(typeof job.status.conditions === 'object' ? { conditions: job.status.conditions } : {}),
      startTime: typeof job.status.startTime === 'string' ? job.status.startTime : job.metadata.creationTimestamp,
      ...(active.length > 0 ? { active: active.length } : {}),
      ...(numberField(job.status, 'failed') > 0 ? { failed: numberField(job.status, 'failed') } : {}),
      ready: active.filter(isReady).length,
      terminating: pods.filter(isTerminating).length,
      uncountedTerminatedPods: {},
    }
    if (failing && status.conditions === undefined) {
      const at = timestamp(this.now())
      const condition = (type: string) => ({ type, status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastProbeTime: at, lastTransitionTime: at })
      status.conditions = [condition('FailureTarget'), condition('Failed')]
    }
    if (JSON.stringify(status) !== JSON.stringify(job.status)) {
      this.store.put('jobs', withManagedFields(job, { ...job, status }, { ...KUBE_CONTROLLER_MANAGER, subresource: 'status' }, 'status', this.now()))
    }
    const cronJob = controllerOf(job)
    if (cronJob?.kind === 'CronJob') this.writeCronJobStatus(namespace, cronJob.name)
    if (isTerminating(job) && job.metadata.finalizers?.includes('foregroundDeletion') && pods.length === 0) this.removeJob(job)
  }

  /** `status.active`: references to the CronJob's Jobs that still exist; `lastScheduleTime` of the newest. */
  private writeCronJobStatus(namespace: string, name: string): void {
    const cronJob = this.store.get('cronjobs', namespace, name)
    if (!cronJob) return
    const jobs = this.store.list('jobs', namespace, (job) => controllerOf(job)?.uid === cronJob.metadata.uid)
    const scheduled = jobs.map((job) => job.metadata.annotations?.['batch.kubernetes.io/cronjob-scheduled-timestamp'] ?? '').sort()
    const status: JsonObject = {
      ...(jobs.length > 0
        ? { active: jobs.map((job) => ({ kind: 'Job', namespace, name: job.metadata.name, uid: job.metadata.uid, apiVersion: 'batch/v1', resourceVersion: job.metadata.resourceVersion })) }
        : {}),
      ...(scheduled.length > 0 || typeof cronJob.status.lastScheduleTime === 'string' ? { lastScheduleTime: scheduled.at(-1) || (cronJob.status.lastScheduleTime as string) } : {}),
    }
    if (JSON.stringify(status) === JSON.stringify(cronJob.status)) return
    this.store.put('cronjobs', withManagedFields(cronJob, { ...cronJob, status }, { ...KUBE_CONTROLLER_MANAGER, subresource: 'status' }, 'status', this.now()))
  }

  /** The garbage collector deletes the dependents of a deleted (or foreground-deleting) owner, each gracefully. */
  private collectDependents(namespace: string, uid: string): void {
    for (const pod of this.podsOf(namespace, uid)) {
      if (!isTerminating(pod)) this.kubelet.delete(namespace, pod.metadata.name, undefined)
    }
    const job = this.store.list('jobs', namespace, (candidate) => candidate.metadata.uid === uid)[0]
    if (job) this.writeJobStatus(namespace, job.metadata.name)
  }

  /** Orphaning: the owner reference leaves each pod (and the Job controller's finalizer with it), then the Job goes. */
  private orphanDependents(namespace: string, job: GenericObject): void {
    for (const pod of this.podsOf(namespace, job.metadata.uid)) {
      const references = pod.metadata.ownerReferences?.filter((reference) => reference.uid !== job.metadata.uid) ?? []
      if (references.length > 0) pod.metadata.ownerReferences = references
      else delete pod.metadata.ownerReferences
      const finalizers = pod.metadata.finalizers?.filter((f) => f !== JOB_TRACKING_FINALIZER) ?? []
      if (finalizers.length > 0) pod.metadata.finalizers = finalizers
      else delete pod.metadata.finalizers
      this.kubelet.finalizersChanged(this.store.put('pods', pod))
    }
    const current = this.store.get('jobs', namespace, job.metadata.name)
    if (current) this.removeJob(current)
  }

  /** The last finalizer goes (MODIFIED), then the object (DELETED), as the garbage collector and apiserver do it. */
  private removeJob(job: GenericObject): void {
    const namespace = job.metadata.namespace ?? ''
    const released = structuredClone(job)
    released.metadata.finalizers = released.metadata.finalizers?.filter((f) => f !== 'foregroundDeletion' && f !== 'orphan')
    if (released.metadata.finalizers?.length === 0) delete released.metadata.finalizers
    this.store.put('jobs', released)
    this.store.delete('jobs', namespace, job.metadata.name)
    this.jobGone(job)
  }

  private jobGone(job: GenericObject): void {
    const cronJob = controllerOf(job)
    if (cronJob?.kind === 'CronJob') this.writeCronJobStatus(job.metadata.namespace ?? '', cronJob.name)
  }
}
