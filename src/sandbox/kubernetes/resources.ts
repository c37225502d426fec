/**
 * The resources the plane serves, as discovery describes them: group, version, kind, scope, short names and the
 * verbs the sandbox answers (discovery lists only those). Custom resources belong to an add-on (KEDA, Argo CD, Flux)
 * and exist only where the seed installs it, as their CRDs do. Routes, discovery, RBAC and errors read this table.
 */

export type ResourceName =
  | 'namespaces'
  | 'nodes'
  | 'pods'
  | 'deployments'
  | 'statefulsets'
  | 'replicasets'
  | 'cronjobs'
  | 'jobs'
  | 'horizontalpodautoscalers'
  | 'scaledobjects'
  | 'applications'
  | 'kustomizations'
  | 'helmreleases'

export type WorkloadResource = 'deployments' | 'statefulsets'
export type AddOn = 'keda' | 'argocd' | 'flux'

export interface ResourceInfo {
  group: string
  version: string
  kind: string
  listKind: string
  singularName: string
  namespaced: boolean
  shortNames: string[]
  categories: string[]
  /** Verbs the sandbox serves, as discovery advertises them. */
  verbs: string[]
  /** Custom resources: the add-on whose CRD defines them. */
  addOn?: AddOn
}

const read = ['get', 'list', 'watch']

export const RESOURCES: Record<ResourceName, ResourceInfo> = {
  namespaces: { group: '', version: 'v1', kind: 'Namespace', listKind: 'NamespaceList', singularName: 'namespace', namespaced: false, shortNames: ['ns'], categories: [], verbs: read },
  nodes: { group: '', version: 'v1', kind: 'Node', listKind: 'NodeList', singularName: 'node', namespaced: false, shortNames: ['no'], categories: [], verbs: read },
  pods: { group: '', version: 'v1', kind: 'Pod', listKind: 'PodList', singularName: 'pod', namespaced: true, shortNames: ['po'], categories: ['all'], verbs: ['delete', 'get', 'list', 'patch', 'watch'] },
  deployments: { group: 'apps', version: 'v1', kind: 'Deployment', listKind: 'DeploymentList', singularName: 'deployment', namespaced: true, shortNames: ['deploy'], categories: ['all'], verbs: ['get', 'list', 'patch', 'watch'] },
  statefulsets: { group: 'apps', version: 'v1', kind: 'StatefulSet', listKind: 'StatefulSetList', singularName: 'statefulset', namespaced: true, shortNames: ['sts'], categories: ['all'], verbs: ['get', 'list', 'patch', 'watch'] },
  replicasets: { group: 'apps', version: 'v1', kind: 'ReplicaSet', listKind: 'ReplicaSetList', singularName: 'replicaset', namespaced: true, shortNames: ['rs'], categories: ['all'], verbs: read },
  cronjobs: { group: 'batch', version: 'v1', kind: 'CronJob', listKind: 'CronJobList', singularName: 'cronjob', namespaced: true, shortNames: ['cj'], categories: ['all'], verbs: ['get', 'list', 'patch', 'watch'] },
  jobs: { group: 'batch', version: 'v1', kind: 'Job', listKind: 'JobList', singularName: 'job', namespaced: true, shortNames: [], categories: ['all'], verbs: ['delete', 'get', 'list', 'watch'] },
  horizontalpodautoscalers: {
    group: 'autoscaling',
    version: 'v2',
    kind: 'HorizontalPodAutoscaler',
    listKind: 'HorizontalPodAutoscalerList',
    singularName: 'horizontalpodautoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    categories: ['all'],
    verbs: ['get', 'list', 'patch', 'watch'],
  },
  scaledobjects: { group: 'keda.sh', version: 'v1alpha1', kind: 'ScaledObject', listKind: 'ScaledObjectList', singularName: 'scaledobject', namespaced: true, shortNames: ['so'], categories: [], verbs: ['get', 'list', 'patch', 'watch'], addOn: 'keda' },
  applications: { group: 'argoproj.io', version: 'v1alpha1', kind: 'Application', listKind: 'ApplicationList', singularName: 'application', namespaced: true, shortNames: ['app', 'apps'], categories: [], verbs: ['get', 'list', 'patch', 'watch'], addOn: 'argocd' },
  kustomizations: {
    group: 'kustomize.toolkit.fluxcd.io',
    version: 'v1',
    kind: 'Kustomization',
    listKind: 'KustomizationList',
    singularName: 'kustomization',
    namespaced: true,
    shortNames: ['ks'],
    categories: [],
    verbs: ['get', 'list', 'patch', 'watch'],
    addOn: 'flux',
  },
  helmreleases: { group: 'helm.toolkit.fluxcd.io', version: 'v2', kind: 'HelmRelease', listKind: 'HelmReleaseList', singularName: 'helmrelease', namespaced: true, shortNames: ['hr'], categories: [], verbs: ['get', 'list', 'patch', 'watch'], addOn: 'flux' },
}

export const RESOURCE_NAMES = Object.keys(RESOURCES) as ResourceName[]

export function apiVersionOf(resource: ResourceName): string {
  const { group, version } = RESOURCES[resource]
  return group ? `${group}/${version}` : version
}

/** `deployments.apps`, or `pods` for the core group: how the apiserver names a resource in messages. */
export function qualifiedName(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource
}

export function isWorkload(resource: ResourceName): resource is WorkloadResource {
  return resource === 'deployments' || resource === 'statefulsets'
}

/** Custom resources reject strategic merge patches: a CRD has no patch-merge keys (apiserver `patch.go`). */
export function acceptsStrategicMerge(resource: ResourceName): boolean {
  return RESOURCES[resource].addOn === undefined
}
