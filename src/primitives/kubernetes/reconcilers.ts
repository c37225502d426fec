/**
 * Finds, for the workloads of a step, the controllers that would scale them back up after a halt: a KEDA
 * ScaledObject whose `scaleTargetRef` is the workload, the Argo CD Application that tracks it (tracking annotation
 * or label), the Flux Kustomization or HelmRelease that applied it (their labels on the workload), and, for the
 * plan's notes only, a HorizontalPodAutoscaler (it does not scale a workload at 0 replicas, so a halt leaves it).
 *
 * Invariants: discovery only reads, and never fails a halt: a type the cluster does not serve (no such CRD) is
 * absent, and a type the identity may not read becomes a note that says what could not be checked.
 * Sources: docs/primitives/kubernetes.md#reconcilers.
 */
import { PrimitiveError } from '../../core/primitive.js'
import type { ApiResource, KubeObject, KubernetesClient, Workload } from './client.js'
import { SWITCHES, type SwitchKind } from './switches.js'

export type ReconcilerKind = Exclude<SwitchKind, 'CronJob'>

export interface FoundReconciler {
  kind: ReconcilerKind
  namespace: string
  name: string
  /** `deployment/NAME` of each workload of the step it reconciles. */
  workloads: string[]
}

export interface Discovery {
  reconcilers: FoundReconciler[]
  /** What the operator should know: HPAs left alone, what could not be checked, what cannot be paused from here. */
  notes: string[]
}

const HPA: ApiResource = { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers' }
/** Where Argo CD keeps Applications unless the tracking value names another namespace (`NS_APP`). */
const ARGOCD_NAMESPACE = 'argocd'
const ARGOCD_TRACKING_ANNOTATION = 'argocd.argoproj.io/tracking-id'
const ARGOCD_TRACKING_LABEL = 'app.kubernetes.io/instance'

const KIND_NAME: Record<Workload['kind'], string> = { deployment: 'Deployment', statefulset: 'StatefulSet' }

export async function findReconcilers(
  client: KubernetesClient,
  namespace: string,
  workloads: Workload[],
  pace: () => Promise<void>,
  signal: AbortSignal,
): Promise<Discovery> {
  const found = new Map<string, FoundReconciler>()
  const notes: string[] = []
  const add = (kind: ReconcilerKind, ns: string, name: string, workload: Workload) => {
    const key = `${kind}/${ns}/${name}`
    const entry = found.get(key) ?? { kind, namespace: ns, name, workloads: [] }
    entry.workloads.push(`${workload.kind}/${workload.name}`)
    found.set(key, entry)
  }
  const byRef = new Map(workloads.map((w) => [`${KIND_NAME[w.kind]}/${w.name}`, w]))

  const list = async (resource: ApiResource, what: string): Promise<KubeObject[]> => {
    await pace()
    try {
      return (await client.listObjects(resource, namespace, undefined, signal)) ?? []
    } catch (error) {
      if (signal.aborted) throw error
      notes.push(`could not list ${what} in ${namespace} (${reasonOf(error)}): a ${what.replace(/s$/, '')} that scales these workloads back up would go unnoticed`)
      return []
    }
  }
  const read = async (resource: ApiResource, ns: string, name: string, what: string): Promise<KubeObject | null> => {
    await pace()
    try {
      return await client.readObject(resource, ns, name, signal)
    } catch (error) {
      if (signal.aborted) throw error
      notes.push(`could not read ${what} ${ns}/${name} (${reasonOf(error)}), which may reconcile these workloads`)
      return null
    }
  }

  const keda = (async () => {
    for (const object of await list(SWITCHES.ScaledObject.resource, 'KEDA ScaledObjects')) {
      const ref = object.spec?.scaleTargetRef as { name?: string; kind?: string } | undefined
      // KEDA's scaleTargetRef.kind defaults to Deployment.
      const workload = ref?.name ? byRef.get(`${ref.kind ?? 'Deployment'}/${ref.name}`) : undefined
      if (workload && object.metadata?.name) add('ScaledObject', namespace, object.metadata.name, workload)
    }
  })()

  const hpas = (async () => {
    for (const object of await list(HPA, 'HorizontalPodAutoscalers')) {
      const ref = object.spec?.scaleTargetRef as { name?: string; kind?: string } | undefined
      const workload = ref?.name && ref.kind ? byRef.get(`${ref.kind}/${ref.name}`) : undefined
      // KEDA drives its own HPA (keda-hpa-NAME); pausing the ScaledObject covers it.
      const ownedByKeda = object.metadata?.ownerReferences?.some((r) => r.kind === 'ScaledObject')
      if (workload && !ownedByKeda) {
        notes.push(
          `HorizontalPodAutoscaler ${namespace}/${object.metadata?.name} scales ${workload.kind}/${workload.name}: an HPA does not scale a workload at 0 replicas, so the halt leaves it alone`,
        )
      }
    }
  })()

  // GitOps owners are named on the workload itself; one read per distinct owner.
  const owners = new Map<string, { kind: ReconcilerKind; ns: string; name: string; workloads: Workload[] }>()
  const owner = (kind: ReconcilerKind, ns: string, name: string, workload: Workload) => {
    const key = `${kind}/${ns}/${name}`
    const entry = owners.get(key) ?? { kind, ns, name, workloads: [] }
    entry.workloads.push(workload)
    owners.set(key, entry)
  }
  for (const workload of workloads) {
    const app = argoApplicationOf(workload)
    if (app) owner('Application', app.namespace, app.name, workload)
    const ks = fluxOwner(workload, 'kustomize.toolkit.fluxcd.io')
    if (ks) owner('Kustomization', ks.namespace, ks.name, workload)
    const hr = fluxOwner(workload, 'helm.toolkit.fluxcd.io')
    if (hr) owner('HelmRelease', hr.namespace, hr.name, workload)
  }
  const gitops = Promise.all(
    [...owners.values()].map(async ({ kind, ns, name, workloads: tracked }) => {
      const object = await read(SWITCHES[kind].resource, ns, name, `${kind}`)
      // A label such as app.kubernetes.io/instance is also Helm's: no Application of that name, no Argo CD.
      if (!object) return
      const appSet = kind === 'Application' ? object.metadata?.ownerReferences?.find((r) => r.kind === 'ApplicationSet') : undefined
      if (appSet) {
        notes.push(
          `Application ${ns}/${name} is generated by ApplicationSet ${appSet.name}, which puts its sync policy back: a pause here may not hold; pause automated sync in the ApplicationSet's template`,
        )
      }
      for (const workload of tracked) add(kind, ns, name, workload)
    }),
  )

  await Promise.all([keda, hpas, gitops])
  return { reconcilers: [...found.values()], notes }
}

/** The Application that tracks a workload: `APP:GROUP/KIND:NS/NAME` annotation, else the instance label; `NS_APP` names its namespace. */
function argoApplicationOf(workload: Workload): { namespace: string; name: string } | undefined {
  const tracking = workload.annotations[ARGOCD_TRACKING_ANNOTATION]
  const value = tracking !== undefined ? tracking.split(':')[0] : workload.labels[ARGOCD_TRACKING_LABEL]
  if (!value) return undefined
  const separator = value.indexOf('_')
  return separator > 0 ? { namespace: value.slice(0, separator), name: value.slice(separator + 1) } : { namespace: ARGOCD_NAMESPACE, name: value }
}

/** Flux marks what it applies with `<group>/name` and `<group>/namespace` labels. */
function fluxOwner(workload: Workload, group: string): { namespace: string; name: string } | undefined {
  const name = workload.labels[`${group}/name`]
  const namespace = workload.labels[`${group}/namespace`]
  return name && namespace ? { namespace, name } : undefined
}

function reasonOf(error: unknown): string {
  if (error instanceof PrimitiveError) return error.code
  return error instanceof Error ? error.message : String(error)
}
