/**
 * Kubernetes scale-to-zero: patch the scale subresource of Deployments and StatefulSets to 0, suspend CronJobs, and
 * pause the controllers that would scale a halted workload back up (KEDA, Argo CD, Flux; see reconcilers.ts). A
 * workload is verified when none of its own running pods remains (terminating ones included; see ownership.ts), as
 * seen by one pod cache per namespace that every workload there shares. The prior replica count is the journal's
 * snapshot; it is also written, best effort, on the workload as the annotation `killswitch.dev/replicas-before`, so
 * that a human with only kubectl can see what a restore would put back.
 */
import { PrimitiveError, type HaltEstimate, type Primitive, type PrimitiveContext, type RateBucket, type Target, type TargetState } from '../../core/primitive.js'
import type { ScaleToZeroSpec } from '../../core/runbook/schema.js'
import { delay, pollUntil } from '../../core/wait.js'
import type { PrimitiveConfig } from '../registry.js'
import type { KubeObject, KubernetesClient, KubernetesConnector, Workload, WorkloadKind, WorkloadRef } from './client.js'
import { connectWithKubeconfig, KubernetesApiError } from './http-client.js'
import { labelQueryPredicate } from './label-selector.js'
import type { NamespacePods, PodPredicate } from './namespace-pods.js'
import { describeStillThere, foreignPods, isFinished, NODES, ownRunningPods, ReplicaSetOwners } from './ownership.js'
import { findReconcilers } from './reconcilers.js'
import { SharedNamespacePods } from './shared-namespace-pods.js'
import { SWITCHES, switchOf, type Switch, type SwitchKind } from './switches.js'

export const REPLICAS_BEFORE_ANNOTATION = 'killswitch.dev/replicas-before'
/** A label or annotation with this key (any value but "false") keeps an object out of every step. */
export const PROTECT_MARKER = 'killswitch.dev/protect'

function isProtected(labels: Record<string, string> | undefined, annotations: Record<string, string> | undefined): boolean {
  const value = labels?.[PROTECT_MARKER] ?? annotations?.[PROTECT_MARKER]
  return value !== undefined && value !== 'false'
}

/**
 * Client-side pacing per cluster. Kubernetes publishes no request rate; what bounds a client is API Priority and
 * Fairness: the server's concurrency (`--max-requests-inflight` 400 + `--max-mutating-requests-inflight` 200 = 600
 * seats by default) is split among priority levels by their shares. A user lands in `global-default` (20 of 245
 * shares: 49 seats), a service account in `workload-low` (100 shares: 245 seats). A request holds a seat for its
 * latency, so 100 requests/s at a slow 100 ms each hold about 10 seats (Little's law): a fifth of the smaller level,
 * and APF keeps the other levels (controllers, kubelets, leader election) apart from it. client-go's default, 5/s
 * with a burst of 10, suits a controller that runs forever in many replicas; a break-glass halt runs once, for
 * seconds, and at 5/s its two requests per workload would take 400 s for 1,000 workloads (20 s here). A busier
 * cluster answers 429 with Retry-After, which the client waits out.
 */
const RATE: Pick<RateBucket, 'ratePerSecond' | 'burst'> = { ratePerSecond: 100, burst: 20 }

const KIND_OF: Record<'Deployment' | 'StatefulSet', WorkloadKind> = { Deployment: 'deployment', StatefulSet: 'statefulset' }
type StepKind = NonNullable<ScaleToZeroSpec['kinds']>[number]
/** What a selector matches when the step does not say. */
const DEFAULT_KINDS: StepKind[] = ['Deployment', 'StatefulSet', 'CronJob']
/** A workload's scale waits at most this long for the pause of the controllers that reconcile it. */
const RECONCILER_PAUSE_WAIT_MS = 5000
/** RFC 1123 label (namespaces) and subdomain (object names), as the API server validates them. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

/** What a workload target's locator holds: the workload, its pods' selector, and how its pods terminate. */
interface WorkloadLocator extends WorkloadRef {
  context: string
  podSelector: string
  terminationGracePeriodSeconds: number
  podManagementPolicy: 'OrderedReady' | 'Parallel' | null
  /** The step's `gracePeriodSeconds`: when set, the halt deletes the pods with this grace period. */
  gracePeriodOverride: number | null
  /** Ids of the reconciler targets whose pause the scale waits for. */
  reconcilers: string[]
}

/** A CronJob's or a reconciler's locator. */
interface SwitchLocator {
  context: string
  namespace: string
  object: SwitchKind
  name: string
  /** CronJobs: the step's `jobs`. */
  jobs: 'keep' | 'delete'
}

/** A promise that a reconciler target settles once it is paused, failed, or found paused. */
interface PauseGate {
  settled: Promise<void>
  settle(): void
}

export function createScaleToZeroPrimitive(
  config: PrimitiveConfig,
  connect: KubernetesConnector = connectWithKubeconfig({ ...config.credentials.kubernetes, env: config.env }),
): Primitive<ScaleToZeroSpec> {
  const clients = new Map<string, Promise<KubernetesClient>>()
  const clientFor = (context?: string): Promise<KubernetesClient> => {
    const key = context ?? ''
    let client = clients.get(key)
    if (!client) {
      const connecting = connect(context)
      client = connecting
      // A failed connection (bad kubeconfig) must be retried on the next call, not cached.
      connecting.catch(() => clients.delete(key))
      clients.set(key, connecting)
      // Resolution asks for the configured context, later phases for it by name: one client (one connection pool,
      // one exec-plugin credential) serves both.
      if (context === undefined) connecting.then((c) => void (clients.has(c.context) || clients.set(c.context, connecting)), () => undefined)
    }
    return client
  }

  const bucket = (context: string): RateBucket => ({ key: `kubernetes:${context}`, ...RATE })
  const podCaches = new SharedNamespacePods()
  const replicaSets = new Map<string, ReplicaSetOwners>()
  const ownersOf = (client: KubernetesClient, namespace: string, pace: () => Promise<void>, warn: (m: string) => void) => {
    const key = `${client.context}\u0000${namespace}`
    let owners = replicaSets.get(key)
    if (!owners) {
      owners = new ReplicaSetOwners(client, namespace, pace, warn)
      replicaSets.set(key, owners)
    }
    return owners
  }
  const gates = new Map<string, PauseGate>()
  const gateFor = (id: string): PauseGate => {
    let gate = gates.get(id)
    if (!gate) {
      let settle!: () => void
      const settled = new Promise<void>((resolve) => (settle = resolve))
      gate = { settled, settle }
      gates.set(id, gate)
    }
    return gate
  }
  /** Jobs a halt deleted, per CronJob target: their pods are what its verification waits to see gone. */
  const deletedJobs = new Map<string, Set<string>>()

  /** The client and a pace function for a target's cluster. */
  const reach = async (target: Target, ctx: PrimitiveContext) => {
    const context = typeof target.locator.context === 'string' ? target.locator.context : undefined
    const client = await clientFor(context)
    return { client, pace: () => ctx.pace(bucket(client.context)) }
  }

  const readSwitch = async (target: Target, locator: SwitchLocator, sw: Switch, ctx: PrimitiveContext) => {
    const { client, pace } = await reach(target, ctx)
    await pace()
    const object = await client.readObject(sw.resource, locator.namespace, locator.name, ctx.signal)
    if (!object) throw new PrimitiveError(`${target.label} no longer exists (context ${locator.context})`, undefined, 'ObjectNotFound')
    return { object, state: sw.stateOf(object), client, pace }
  }

  return {
    kind: 'scaleToZero',

    async resolve(spec, ctx) {
      checkNames(spec)
      const client = await clientFor()
      const pace = () => ctx.pace(bucket(client.context))
      const kinds = spec.kinds ?? DEFAULT_KINDS
      const workloads = new Map<string, Workload>()
      const cronJobs = new Map<string, KubeObject>()
      const missing: Target[] = []
      const add = (workload: Workload) => workloads.set(`${workload.kind}/${workload.name}`, workload)

      if (spec.selector !== undefined) {
        for (const kind of kinds) {
          await pace()
          if (kind !== 'CronJob') {
            for (const workload of await client.listWorkloads(spec.namespace, KIND_OF[kind], spec.selector, ctx.signal)) add(workload)
            continue
          }
          let listed: KubeObject[] | null
          try {
            listed = await client.listObjects(SWITCHES.CronJob.resource, spec.namespace, spec.selector, ctx.signal)
          } catch (error) {
            // CronJobs are looked for by default; where this identity may not list them, say so and halt the rest.
            if (spec.kinds !== undefined || ctx.signal.aborted) throw error
            ctx.warn(
              `could not list CronJobs in ${spec.namespace} (${(error as Error).message}): CronJobs matching ${spec.selector} would not be suspended; grant list and patch on cronjobs, or set kinds: [Deployment, StatefulSet]`,
            )
            listed = []
          }
          for (const cronJob of listed ?? []) if (cronJob.metadata?.name) cronJobs.set(cronJob.metadata.name, cronJob)
        }
      }
      for (const name of spec.names ?? []) {
        const [kind, objectName] = name.split('/') as ['deployment' | 'statefulset' | 'cronjob', string]
        await pace()
        if (kind === 'cronjob') {
          const cronJob = await client.readObject(SWITCHES.CronJob.resource, spec.namespace, objectName, ctx.signal)
          if (cronJob) cronJobs.set(objectName, cronJob)
          else missing.push(missingTarget(client.context, spec.namespace, name))
          continue
        }
        const workload = await client.readWorkload({ namespace: spec.namespace, kind, name: objectName }, ctx.signal)
        if (workload) add(workload)
        else missing.push(missingTarget(client.context, spec.namespace, name))
      }

      // A workload or CronJob marked killswitch.dev/protect (label or annotation) is never selected, by name either.
      const protectedOnes: string[] = []
      for (const [key, workload] of workloads) {
        if (isProtected(workload.labels, workload.annotations)) {
          workloads.delete(key)
          protectedOnes.push(`${workload.namespace}/${key}`)
        }
      }
      for (const [name, cronJob] of cronJobs) {
        if (isProtected(cronJob.metadata?.labels, cronJob.metadata?.annotations)) {
          cronJobs.delete(name)
          protectedOnes.push(`${spec.namespace}/cronjob/${name}`)
        }
      }
      if (protectedOnes.length > 0) ctx.warn(`left out, marked ${PROTECT_MARKER}: ${protectedOnes.join(', ')}`)
      if (workloads.size === 0 && cronJobs.size === 0 && missing.length === 0 && protectedOnes.length > 0) {
        throw new PrimitiveError(
          `everything the step selects in namespace ${spec.namespace} is marked ${PROTECT_MARKER}: ${protectedOnes.join(', ')}`,
          `remove the marker from what must be halted, or the step from the scope`,
          'AllTargetsProtected',
        )
      }
      if (workloads.size === 0 && cronJobs.size === 0 && missing.length === 0) {
        throw new PrimitiveError(
          `selector ${spec.selector} matched no ${orList(kinds)} in namespace ${spec.namespace} (context ${client.context})`,
          `check with: kubectl --context ${client.context} -n ${spec.namespace} get ${kinds.map((k) => k.toLowerCase()).join(',')} -l '${spec.selector}'`,
          'SelectorMatchedNothing',
        )
      }
      for (const workload of workloads.values()) {
        if (workload.podSelector === '') {
          throw new PrimitiveError(
            `${workload.kind}/${workload.name} in ${workload.namespace} has an empty pod selector; its pods cannot be told apart`,
            'give the workload a spec.selector, or leave it out of the step',
            'EmptyPodSelector',
          )
        }
      }

      const owners = ownersOf(client, spec.namespace, pace, ctx.warn)
      const [discovery] = await Promise.all([
        workloads.size > 0 ? findReconcilers(client, spec.namespace, [...workloads.values()], pace, ctx.signal) : { reconcilers: [], notes: [] },
        // Read now, while nothing is halted yet, so that verification starts with the pods alone.
        workloads.size > 0 ? owners.ready(ctx.signal) : undefined,
        spec.selector !== undefined ? warnForeignPods(client, spec, workloads, cronJobs, owners, pace, ctx) : undefined,
      ])
      for (const note of discovery.notes) ctx.warn(note)

      const reconcilerTargets: Target[] = []
      const pausedBy = new Map<string, string[]>()
      for (const found of discovery.reconcilers) {
        const target = switchTarget(client.context, found.namespace, found.kind, found.name, 'keep')
        const what = `${found.kind} ${found.namespace}/${found.name} reconciles ${found.workloads.join(', ')}`
        if (spec.reconcilers === 'warn') {
          ctx.warn(`${what} and may scale it back up; the step says reconcilers: warn, so it is not paused`)
          continue
        }
        ctx.warn(`${what}: paused for the halt (${SWITCHES[found.kind].describe(SWITCHES[found.kind].stateOf({}))} is put back by restore)`)
        gateFor(target.id)
        reconcilerTargets.push(target)
        for (const w of found.workloads) pausedBy.set(w, [...(pausedBy.get(w) ?? []), target.id])
      }

      const cronTargets = [...cronJobs.values()].map((cronJob) => {
        const name = cronJob.metadata?.name ?? ''
        const active = activeJobsOf(cronJob)
        if (active.length > 0 && spec.jobs === 'keep') {
          ctx.warn(
            `CronJob ${spec.namespace}/${name} has ${active.length} Job(s) running (${active.join(', ')}): suspending it stops new runs only; jobs: delete in the step stops these too`,
          )
        }
        return { ...switchTarget(client.context, spec.namespace, 'CronJob', name, spec.jobs), observed: SWITCHES.CronJob.stateOf(cronJob) }
      })

      const workloadTargets = [...workloads.values()].map((workload) =>
        toTarget(client.context, workload, spec.gracePeriodSeconds ?? null, pausedBy.get(`${workload.kind}/${workload.name}`) ?? []),
      )
      return [...reconcilerTargets, ...workloadTargets, ...cronTargets, ...missing]
    },

    async read(target, ctx) {
      const sw = switchLocatorOf(target)
      if (sw) {
        try {
          const { state } = await readSwitch(target, sw.locator, sw.switch, ctx)
          if (sw.switch.isHalted(state)) gates.get(target.id)?.settle()
          return state
        } catch (error) {
          gates.get(target.id)?.settle()
          throw error
        }
      }
      const locator = workloadLocatorOf(target)
      const { client, pace } = await reach(target, ctx)
      await pace()
      return { replicas: await client.readScaleReplicas(locator, ctx.signal) }
    },

    isHalted: (state) => switchOf(state)?.isHalted(state) ?? replicasOf(state) === 0,

    sameState: (a, b) => {
      const sw = switchOf(a)
      if (sw) return switchOf(b) === sw && JSON.stringify(a) === JSON.stringify(b)
      return replicasOf(a) === replicasOf(b)
    },

    async apply(target, before, ctx) {
      const sw = switchLocatorOf(target)
      if (sw) {
        try {
          const { client, pace } = await reach(target, ctx)
          await pace()
          await client.patchObject(sw.switch.resource, sw.locator.namespace, sw.locator.name, sw.switch.haltPatch, ctx.signal)
          if (sw.locator.object === 'CronJob' && sw.locator.jobs === 'delete') await deleteActiveJobs(target, sw.locator, client, pace, ctx)
        } finally {
          gates.get(target.id)?.settle()
        }
        return
      }
      const locator = workloadLocatorOf(target)
      const { client, pace } = await reach(target, ctx)
      const replicas = replicasOf(before)
      await waitForPauses(locator, target, ctx)
      try {
        await pace()
        await client.patchScaleReplicas(locator, 0, ctx.signal)
      } catch (error) {
        if (error instanceof KubernetesApiError && error.statusCode === 404) {
          throw new PrimitiveError(`${target.label} no longer exists (context ${locator.context})`, undefined, 'WorkloadNotFound')
        }
        throw error
      }
      // After the scale, and best effort: the journal is what restore uses, and an identity that may only patch the
      // scale subresource must still halt. A repeated halt sees replicas=0 and keeps the count an earlier halt wrote.
      if (replicas > 0) {
        await bestEffort(ctx, `could not write the ${REPLICAS_BEFORE_ANNOTATION} annotation on ${target.label}`, async () => {
          await pace()
          await client.patchAnnotations(locator, { [REPLICAS_BEFORE_ANNOTATION]: String(replicas) }, ctx.signal)
        })
      }

      if (locator.gracePeriodOverride !== null) {
        const grace = locator.gracePeriodOverride
        const owners = ownersOf(client, locator.namespace, pace, ctx.warn)
        await owners.ready(ctx.signal)
        await podCaches.use(client, locator.namespace, pace, async (pods) => {
          for (const pod of await pods.podsMatching(ownRunningPods(locator.kind, locator.name, labelQueryPredicate(locator.podSelector), owners), ctx.signal)) {
            await pace()
            try {
              await client.deletePod(locator.namespace, pod, grace, ctx.signal)
            } catch (error) {
              if (!(error instanceof PrimitiveError && error.code === 'KubernetesForbidden')) throw error
              // The scale worked: the pods terminate at their own grace period, which verification waits for.
              ctx.warn(
                `${target.label}: no permission to delete pods in ${locator.namespace}, so gracePeriodSeconds ${grace} is not applied; its pods terminate at their own grace period (${locator.terminationGracePeriodSeconds} s). Grant delete on pods to shorten it`,
              )
              return
            }
          }
        })
      }
    },

    async verifyHalted(target, ctx) {
      const sw = switchLocatorOf(target)
      if (sw) {
        await pollUntil(async () => sw.switch.isHalted((await readSwitch(target, sw.locator, sw.switch, ctx)).state), { signal: ctx.signal })
        const jobs = deletedJobs.get(target.id)
        if (jobs && jobs.size > 0) {
          const { client, pace } = await reach(target, ctx)
          const ofJobs: PodPredicate = (pod) => pod.owner?.kind === 'Job' && jobs.has(pod.owner.name) && !isFinished(pod)
          await podCaches.use(client, sw.locator.namespace, pace, (pods) => waitGone(pods, ofJobs, client, ctx))
        }
        return
      }
      const locator = workloadLocatorOf(target)
      const { client, pace } = await reach(target, ctx)
      const owners = ownersOf(client, locator.namespace, pace, ctx.warn)
      await owners.ready(ctx.signal)
      const own = ownRunningPods(locator.kind, locator.name, labelQueryPredicate(locator.podSelector), owners)
      await podCaches.use(client, locator.namespace, pace, async (pods) => {
        const unsubscribe = owners.subscribe(() => pods.reevaluate())
        try {
          await waitGone(pods, own, client, ctx)
        } finally {
          unsubscribe()
        }
      })
    },

    async restore(target, snapshot, ctx) {
      const sw = switchLocatorOf(target)
      const { client, pace } = await reach(target, ctx)
      if (sw) {
        await pace()
        await client.patchObject(sw.switch.resource, sw.locator.namespace, sw.locator.name, sw.switch.restorePatch(snapshot), ctx.signal)
        return
      }
      const locator = workloadLocatorOf(target)
      await pace()
      await client.patchScaleReplicas(locator, replicasOf(snapshot), ctx.signal)
      // The annotation goes last: if the restore is interrupted, the workload still says what it should be.
      await bestEffort(ctx, `could not remove the ${REPLICAS_BEFORE_ANNOTATION} annotation from ${target.label}`, async () => {
        await pace()
        await client.patchAnnotations(locator, { [REPLICAS_BEFORE_ANNOTATION]: null }, ctx.signal)
      })
    },

    async verifyRestored(target, snapshot, ctx) {
      const sw = switchLocatorOf(target)
      if (sw) {
        const wanted = JSON.stringify(snapshot)
        await pollUntil(async () => JSON.stringify((await readSwitch(target, sw.locator, sw.switch, ctx)).state) === wanted, { signal: ctx.signal })
        return
      }
      const locator = workloadLocatorOf(target)
      const { client, pace } = await reach(target, ctx)
      const wanted = replicasOf(snapshot)
      await pollUntil(
        async () => {
          await pace()
          return (await client.readScaleReplicas(locator, ctx.signal)) === wanted
        },
        { signal: ctx.signal },
      )
    },

    async lastWriter(target, ctx) {
      if (switchLocatorOf(target)) return undefined
      const locator = workloadLocatorOf(target)
      const { client, pace } = await reach(target, ctx)
      await pace()
      return (await client.readWorkload(locator, ctx.signal))?.replicasManager
    },

    describe: (state) => switchOf(state)?.describe(state) ?? `replicas=${replicasOf(state)}`,

    estimate(target, state): HaltEstimate {
      const call = bucket(String(target.locator.context))
      const sw = switchLocatorOf(target)
      if (sw) return { calls: [call, call, call], settleMs: 0 }
      const locator = workloadLocatorOf(target)
      const replicas = replicasOf(state)
      // The scale read unless resolution saw the count, the scale patch, the annotation; with an override, one pod
      // delete per pod. Verification's pods list and watch are one per namespace, shared by all its workloads.
      const requests = (target.observed === undefined ? 1 : 0) + 2 + (locator.gracePeriodOverride !== null ? replicas : 0)
      return { calls: Array.from({ length: requests }, () => call), settleMs: settleMs(locator, replicas) }
    },

    async close() {
      podCaches.closeAll()
      replicaSets.clear()
      clients.clear()
    },
  }

  /** The scale of a workload waits (bounded) for the pause of the controllers that reconcile it. */
  async function waitForPauses(locator: WorkloadLocator, target: Target, ctx: PrimitiveContext): Promise<void> {
    const pending = locator.reconcilers.flatMap((id) => (gates.has(id) ? [gates.get(id)!.settled] : []))
    if (pending.length === 0) return
    const timedOut = Symbol('timed out')
    const outcome = await Promise.race([Promise.all(pending), delay(RECONCILER_PAUSE_WAIT_MS, ctx.signal).then(() => timedOut)])
    if (outcome === timedOut) ctx.warn(`${target.label}: scaled before its reconcilers were paused (they took over ${RECONCILER_PAUSE_WAIT_MS / 1000} s)`)
  }

  async function deleteActiveJobs(target: Target, locator: SwitchLocator, client: KubernetesClient, pace: () => Promise<void>, ctx: PrimitiveContext) {
    await pace()
    const cronJob = await client.readObject(SWITCHES.CronJob.resource, locator.namespace, locator.name, ctx.signal)
    const jobs = cronJob ? activeJobsOf(cronJob) : []
    const deleted = deletedJobs.get(target.id) ?? new Set<string>()
    deletedJobs.set(target.id, deleted)
    for (const job of jobs) {
      await pace()
      await client.deleteObject(JOBS, locator.namespace, job, ctx.signal)
      deleted.add(job)
    }
  }

  /** Waits until no pod `counts`; on giving up, says which pods are still there and why. */
  async function waitGone(
    pods: NamespacePods,
    counts: PodPredicate,
    client: KubernetesClient,
    ctx: PrimitiveContext,
  ): Promise<void> {
    try {
      await pods.untilGone(counts, ctx.signal)
    } catch (error) {
      if (!ctx.signal.aborted || pods.closed) throw error
      const still = await pods.summariesMatching(counts, AbortSignal.timeout(2000)).catch(() => [])
      // Unpaced: the verification's pacing ended with its signal, and these few reads only explain the failure.
      const notReady = await notReadyNodes(client, still.flatMap((p) => (p.nodeName ? [p.nodeName] : [])))
      throw Object.assign(error instanceof Error ? error : new Error(String(error)), { stillThere: describeStillThere(still, notReady) })
    }
  }
}

const JOBS = { group: 'batch', version: 'v1', plural: 'jobs' }

/** Nodes among `names` whose Ready condition is not True; best effort (nodes are cluster-scoped, often not readable). */
async function notReadyNodes(client: KubernetesClient, names: string[]): Promise<Set<string>> {
  const notReady = new Set<string>()
  const signal = AbortSignal.timeout(2000)
  await Promise.all(
    [...new Set(names)].slice(0, 5).map(async (name) => {
      try {
        const node = await client.readObject(NODES, '', name, signal)
        const conditions = (node?.status?.conditions ?? []) as Array<{ type?: string; status?: string }>
        if (conditions.find((c) => c.type === 'Ready')?.status !== 'True') notReady.add(name)
      } catch {
        // Unknown is not NotReady: the diagnosis just says less.
      }
    }),
  )
  return notReady
}

/** Runs a write that the halt does not depend on; a refusal or failure becomes a warning. */
async function bestEffort(ctx: PrimitiveContext, what: string, write: () => Promise<void>): Promise<void> {
  try {
    await write()
  } catch (error) {
    if (ctx.signal.aborted) throw error
    ctx.warn(`${what} (${error instanceof PrimitiveError ? error.code : (error as Error).message}); the journal holds the count restore uses`)
  }
}

/** The step's names and namespace must be names the API server accepts, never a path (`..`). */
function checkNames(spec: ScaleToZeroSpec): void {
  if (spec.namespace.length > 63 || !DNS_LABEL.test(spec.namespace)) {
    throw new PrimitiveError(
      `namespace ${JSON.stringify(spec.namespace)} is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)`,
      'fix scaleToZero.namespace in the runbook (after ${…} substitution)',
      'KubernetesNameInvalid',
    )
  }
  for (const name of spec.names ?? []) {
    const objectName = name.slice(name.indexOf('/') + 1)
    if (objectName.length > 253 || !DNS_SUBDOMAIN.test(objectName)) {
      throw new PrimitiveError(
        `${JSON.stringify(name)} does not name a Kubernetes object (lower-case letters, digits, '-' and '.', each part starting and ending alphanumeric)`,
        'fix scaleToZero.names in the runbook',
        'KubernetesNameInvalid',
      )
    }
  }
}

/** `A`, `A or B`, `A, B or C`. */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

function missingTarget(context: string, namespace: string, name: string): Target {
  const [kind, objectName] = name.split('/') as [string, string]
  return {
    id: `k8s:${context}:${namespace}:${kind}/${objectName}`,
    kind: 'scaleToZero',
    label: `${namespace}/${kind}/${objectName}`,
    locator: { context, namespace, kind, name: objectName },
    missing: {
      message: `${kind}/${objectName} does not exist in namespace ${namespace} (context ${context})`,
      hint: 'fix scaleToZero.names in the runbook, or check credentials.kubernetes.context points at the right cluster',
      code: 'WorkloadNotFound',
    },
  }
}

function switchTarget(context: string, namespace: string, kind: SwitchKind, name: string, jobs: 'keep' | 'delete'): Target {
  const locator: SwitchLocator = { context, namespace, object: kind, name, jobs }
  return {
    id: `k8s:${context}:${namespace}:${SWITCHES[kind].idType}/${name}`,
    kind: 'scaleToZero',
    label: `${namespace}/${kind}/${name}`,
    locator: { ...locator },
  }
}

function activeJobsOf(cronJob: KubeObject): string[] {
  const active = (cronJob.status?.active ?? []) as Array<{ name?: string }>
  return active.flatMap((ref) => (ref.name ? [ref.name] : []))
}

/** Names, in a warning, the pods that match the selector but that no target of the step owns. */
async function warnForeignPods(
  client: KubernetesClient,
  spec: ScaleToZeroSpec,
  workloads: Map<string, Workload>,
  cronJobs: Map<string, KubeObject>,
  owners: ReplicaSetOwners,
  pace: () => Promise<void>,
  ctx: PrimitiveContext,
): Promise<void> {
  try {
    await pace()
    const [{ pods }] = await Promise.all([client.listPods(spec.namespace, ctx.signal), owners.ready(ctx.signal)])
    const foreign = foreignPods(pods, labelQueryPredicate(spec.selector!), new Set(workloads.keys()), new Set(cronJobs.keys()), owners)
    for (const [owner, names] of foreign) {
      const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, and ${names.length - 3} more` : '')
      ctx.warn(`${names.length} running pod(s) in ${spec.namespace} match ${spec.selector} but belong to ${owner}, which this step does not stop: ${shown}`)
    }
  } catch (error) {
    if (ctx.signal.aborted) throw error
    ctx.warn(`could not check ${spec.namespace} for pods of other owners matching ${spec.selector} (${(error as Error).message})`)
  }
}

/**
 * The best case from scale-to-zero to the last pod gone: one grace period, as pods terminate in parallel, except
 * an OrderedReady StatefulSet scaled by its controller, which terminates pods one at a time (≈ N × grace). With a
 * grace-period override the halt deletes the pods itself, all at once.
 */
function settleMs(locator: WorkloadLocator, replicas: number): number {
  if (replicas === 0) return 0
  if (locator.gracePeriodOverride !== null) return locator.gracePeriodOverride * 1000
  const oneAtATime = locator.kind === 'statefulset' && locator.podManagementPolicy === 'OrderedReady'
  return locator.terminationGracePeriodSeconds * 1000 * (oneAtATime ? replicas : 1)
}

function toTarget(context: string, workload: Workload, gracePeriodOverride: number | null, reconcilers: string[]): Target {
  const locator: WorkloadLocator = {
    context,
    namespace: workload.namespace,
    kind: workload.kind,
    name: workload.name,
    podSelector: workload.podSelector,
    terminationGracePeriodSeconds: workload.terminationGracePeriodSeconds,
    podManagementPolicy: workload.podManagementPolicy,
    gracePeriodOverride,
    reconcilers,
  }
  return {
    id: `k8s:${context}:${workload.namespace}:${workload.kind}/${workload.name}`,
    kind: 'scaleToZero',
    label: `${workload.namespace}/${workload.kind}/${workload.name}`,
    locator: { ...locator, reconcilers: reconcilers.join(',') },
    // The workload's spec.replicas is what its scale subresource reports: the halt needs no read of its own.
    ...(workload.replicas === null ? {} : { observed: { replicas: workload.replicas } }),
  }
}

function text(target: Target, key: string): string {
  const value = target.locator[key]
  if (typeof value !== 'string') throw new Error(`target ${target.id}: locator.${key} is not a string`)
  return value
}

/** A CronJob's or reconciler's locator and kind; `undefined` for a workload (whose journal entries predate `object`). */
function switchLocatorOf(target: Target): { locator: SwitchLocator; switch: Switch } | undefined {
  const object = target.locator.object
  if (object === undefined || object === null) return undefined
  const sw = typeof object === 'string' ? SWITCHES[object as SwitchKind] : undefined
  if (!sw) throw new Error(`target ${target.id}: unknown object kind ${String(object)}`)
  const jobs = target.locator.jobs === 'delete' ? 'delete' : 'keep'
  return { locator: { context: text(target, 'context'), namespace: text(target, 'namespace'), object: sw.kind, name: text(target, 'name'), jobs }, switch: sw }
}

function workloadLocatorOf(target: Target): WorkloadLocator {
  const l = target.locator
  const kind = text(target, 'kind')
  if (kind !== 'deployment' && kind !== 'statefulset') throw new Error(`target ${target.id}: unknown workload kind ${kind}`)
  const policy = l.podManagementPolicy
  return {
    context: text(target, 'context'),
    namespace: text(target, 'namespace'),
    kind,
    name: text(target, 'name'),
    podSelector: text(target, 'podSelector'),
    terminationGracePeriodSeconds: typeof l.terminationGracePeriodSeconds === 'number' ? l.terminationGracePeriodSeconds : 30,
    podManagementPolicy: policy === 'OrderedReady' || policy === 'Parallel' ? policy : null,
    gracePeriodOverride: typeof l.gracePeriodOverride === 'number' ? l.gracePeriodOverride : null,
    reconcilers: typeof l.reconcilers === 'string' && l.reconcilers !== '' ? l.reconcilers.split(',') : [],
  }
}

function replicasOf(state: TargetState): number {
  const replicas = state.replicas
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`not a scale-to-zero state: ${JSON.stringify(state)}`)
  }
  return replicas
}
