/**
 * Kubernetes scale-to-zero: patch the scale subresource of Deployments and StatefulSets to 0, verified when no pod
 * of the workload remains (terminating ones included), as seen by one pod cache per namespace that every workload
 * there shares. The prior replica count is the journal's snapshot and is also written on the workload as the
 * annotation `killswitch.dev/replicas-before`, so that a human with only kubectl can see what a restore would put
 * back.
 */
import { PrimitiveError, type HaltEstimate, type Primitive, type PrimitiveContext, type RateBucket, type Target, type TargetState } from '../../core/primitive.js'
import type { ScaleToZeroSpec } from '../../core/runbook/schema.js'
import { pollUntil } from '../../core/wait.js'
import type { PrimitiveConfig } from '../registry.js'
import type { KubernetesClient, KubernetesConnector, Workload, WorkloadKind, WorkloadRef } from './client.js'
import { connectWithKubeconfig, KubernetesApiError } from './http-client.js'
import { labelQueryPredicate } from './label-selector.js'
import { SharedNamespacePods } from './shared-namespace-pods.js'

export const REPLICAS_BEFORE_ANNOTATION = 'killswitch.dev/replicas-before'

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

const KIND_OF: Record<ScaleToZeroSpec['kinds'][number], WorkloadKind> = { Deployment: 'deployment', StatefulSet: 'statefulset' }

/** What a target's locator holds: the workload, its pods' selector, and how its pods terminate. */
interface WorkloadLocator extends WorkloadRef {
  context: string
  podSelector: string
  terminationGracePeriodSeconds: number
  podManagementPolicy: 'OrderedReady' | 'Parallel' | null
  /** The step's `gracePeriodSeconds`: when set, the halt deletes the pods with this grace period. */
  gracePeriodOverride: number | null
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
      client = connect(context)
      // A failed connection (bad kubeconfig) must be retried on the next call, not cached.
      client.catch(() => clients.delete(key))
      clients.set(key, client)
    }
    return client
  }

  const bucket = (context: string): RateBucket => ({ key: `kubernetes:${context}`, ...RATE })
  const podCaches = new SharedNamespacePods()

  /** The client and a pace function for a target's cluster. */
  const reach = async (target: Target, ctx: PrimitiveContext) => {
    const locator = locatorOf(target)
    const client = await clientFor(locator.context)
    return { locator, client, pace: () => ctx.pace(bucket(locator.context)) }
  }

  return {
    kind: 'scaleToZero',

    async resolve(spec, ctx) {
      const client = await clientFor()
      const pace = () => ctx.pace(bucket(client.context))
      const found = new Map<string, Workload>()
      const add = (workload: Workload) => found.set(`${workload.kind}/${workload.name}`, workload)

      if (spec.selector !== undefined) {
        for (const kind of spec.kinds.map((k) => KIND_OF[k])) {
          await pace()
          for (const workload of await client.listWorkloads(spec.namespace, kind, spec.selector, ctx.signal)) add(workload)
        }
      }
      const missing: string[] = []
      for (const name of spec.names ?? []) {
        const [kind, workloadName] = name.split('/') as [WorkloadKind, string]
        await pace()
        const workload = await client.readWorkload({ namespace: spec.namespace, kind, name: workloadName }, ctx.signal)
        if (workload) add(workload)
        else missing.push(name)
      }

      if (missing.length > 0) {
        throw new PrimitiveError(
          `no ${missing.join(', ')} in namespace ${spec.namespace} (context ${client.context})`,
          'fix scaleToZero.names in the runbook, or check credentials.kubernetes.context points at the right cluster',
          'WorkloadNotFound',
        )
      }
      if (found.size === 0) {
        throw new PrimitiveError(
          `selector ${spec.selector} matched no ${spec.kinds.join(' or ')} in namespace ${spec.namespace} (context ${client.context})`,
          `check with: kubectl --context ${client.context} -n ${spec.namespace} get ${spec.kinds.map((k) => k.toLowerCase()).join(',')} -l '${spec.selector}'`,
          'SelectorMatchedNothing',
        )
      }

      return [...found.values()].map((workload) => {
        if (workload.podSelector === '') {
          throw new PrimitiveError(
            `${workload.kind}/${workload.name} in ${workload.namespace} has an empty pod selector; its pods cannot be told apart`,
            'give the workload a spec.selector, or leave it out of the step',
            'EmptyPodSelector',
          )
        }
        return toTarget(client.context, workload, spec.gracePeriodSeconds ?? null)
      })
    },

    async read(target, ctx) {
      const { locator, client, pace } = await reach(target, ctx)
      await pace()
      return { replicas: await client.readScaleReplicas(locator, ctx.signal) }
    },

    isHalted: (state) => replicasOf(state) === 0,

    sameState: (a, b) => replicasOf(a) === replicasOf(b),

    async apply(target, before, ctx) {
      const { locator, client, pace } = await reach(target, ctx)
      const replicas = replicasOf(before)
      try {
        // A repeated halt sees replicas=0 as "before": the annotation an earlier halt wrote holds the count a restore
        // needs, so only a running workload's count is recorded (which also replaces a stale one).
        if (replicas > 0) {
          await pace()
          await client.patchAnnotations(locator, { [REPLICAS_BEFORE_ANNOTATION]: String(replicas) }, ctx.signal)
        }
        await pace()
        await client.patchScaleReplicas(locator, 0, ctx.signal)
      } catch (error) {
        if (error instanceof KubernetesApiError && error.statusCode === 404) {
          throw new PrimitiveError(`${target.label} no longer exists (context ${locator.context})`, undefined, 'WorkloadNotFound')
        }
        throw error
      }

      if (locator.gracePeriodOverride !== null) {
        const grace = locator.gracePeriodOverride
        await podCaches.use(client, locator.namespace, pace, async (pods) => {
          for (const pod of await pods.podsMatching(labelQueryPredicate(locator.podSelector), ctx.signal)) {
            await pace()
            await client.deletePod(locator.namespace, pod, grace, ctx.signal)
          }
        })
      }
    },

    async verifyHalted(target, ctx) {
      const { locator, client, pace } = await reach(target, ctx)
      const matches = labelQueryPredicate(locator.podSelector)
      await podCaches.use(client, locator.namespace, pace, (pods) => pods.untilGone(matches, ctx.signal))
    },

    async restore(target, snapshot, ctx) {
      const { locator, client, pace } = await reach(target, ctx)
      await pace()
      await client.patchScaleReplicas(locator, replicasOf(snapshot), ctx.signal)
      // The annotation goes last: if the restore is interrupted, the workload still says what it should be.
      await pace()
      await client.patchAnnotations(locator, { [REPLICAS_BEFORE_ANNOTATION]: null }, ctx.signal)
    },

    async verifyRestored(target, snapshot, ctx) {
      const { locator, client, pace } = await reach(target, ctx)
      const wanted = replicasOf(snapshot)
      await pollUntil(
        async () => {
          await pace()
          return (await client.readScaleReplicas(locator, ctx.signal)) === wanted
        },
        { signal: ctx.signal },
      )
    },

    describe: (state) => `replicas=${replicasOf(state)}`,

    estimate(target, state): HaltEstimate {
      const locator = locatorOf(target)
      const replicas = replicasOf(state)
      const call = bucket(locator.context)
      // The scale read unless resolution saw the count, the annotation, the scale patch; with an override, one pod
      // delete per pod. Verification's pods list and watch are one per namespace, shared by all its workloads.
      const requests = (target.observed === undefined ? 1 : 0) + 2 + (locator.gracePeriodOverride !== null ? replicas : 0)
      return { calls: Array.from({ length: requests }, () => call), settleMs: settleMs(locator, replicas) }
    },

    async close() {
      podCaches.closeAll()
      clients.clear()
    },
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

function toTarget(context: string, workload: Workload, gracePeriodOverride: number | null): Target {
  const locator: WorkloadLocator = {
    context,
    namespace: workload.namespace,
    kind: workload.kind,
    name: workload.name,
    podSelector: workload.podSelector,
    terminationGracePeriodSeconds: workload.terminationGracePeriodSeconds,
    podManagementPolicy: workload.podManagementPolicy,
    gracePeriodOverride,
  }
  return {
    id: `k8s:${context}:${workload.namespace}:${workload.kind}/${workload.name}`,
    kind: 'scaleToZero',
    label: `${workload.namespace}/${workload.kind}/${workload.name}`,
    locator: { ...locator },
    // The workload's spec.replicas is what its scale subresource reports: the halt needs no read of its own.
    ...(workload.replicas === null ? {} : { observed: { replicas: workload.replicas } }),
  }
}

function locatorOf(target: Target): WorkloadLocator {
  const l = target.locator
  const text = (key: string): string => {
    const value = l[key]
    if (typeof value !== 'string') throw new Error(`target ${target.id}: locator.${key} is not a string`)
    return value
  }
  const kind = text('kind')
  if (kind !== 'deployment' && kind !== 'statefulset') throw new Error(`target ${target.id}: unknown workload kind ${kind}`)
  const policy = l.podManagementPolicy
  return {
    context: text('context'),
    namespace: text('namespace'),
    kind,
    name: text('name'),
    podSelector: text('podSelector'),
    terminationGracePeriodSeconds: typeof l.terminationGracePeriodSeconds === 'number' ? l.terminationGracePeriodSeconds : 30,
    podManagementPolicy: policy === 'OrderedReady' || policy === 'Parallel' ? policy : null,
    gracePeriodOverride: typeof l.gracePeriodOverride === 'number' ? l.gracePeriodOverride : null,
  }
}

function replicasOf(state: TargetState): number {
  const replicas = state.replicas
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`not a scale-to-zero state: ${JSON.stringify(state)}`)
  }
  return replicas
}
