/**
 * Legacy (unaggregated) discovery, which kubectl and client-go fall back to when `/api` and `/apis` answer plain
 * `application/json` instead of an `apidiscovery.k8s.io` APIGroupDiscoveryList (k8s API concepts, "Discovery API").
 * Groups: the built-in ones the plane serves, then the CRD groups of the add-ons the seed installs. The scale
 * subresources are listed as `<resource>/scale` with group `autoscaling`, version `v1`, kind `Scale`: client-go's
 * scale-kind resolver reads exactly those entries.
 */
import { RESOURCE_NAMES, RESOURCES, type AddOn, type ResourceName } from './resources.js'

/** The Kubernetes release the sandbox presents itself as. */
export const SERVER_VERSION = { major: '1', minor: '35', gitVersion: 'v1.35.0-killswitch-sandbox' }

export function versionInfo(): Record<string, string> {
  return {
    ...SERVER_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.25.0',
    compiler: 'gc',
    platform: 'linux/amd64',
  }
}

/** `/api`: the core group's versions; `serverAddress` is the sandbox's own host:port. */
export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] }
}

/** The review resources (create-only) of authentication.k8s.io/v1 and authorization.k8s.io/v1. */
const REVIEWS: Record<string, { name: string; kind: string }[]> = {
  'authentication.k8s.io': [{ name: 'selfsubjectreviews', kind: 'SelfSubjectReview' }],
  'authorization.k8s.io': [
    { name: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview' },
    { name: 'selfsubjectrulesreviews', kind: 'SelfSubjectRulesReview' },
  ],
}
export type ReviewResource = 'selfsubjectreviews' | 'selfsubjectaccessreviews' | 'selfsubjectrulesreviews'

/** Built-in groups in the apiserver's order; the review groups serve only v1. */
const BUILTIN_GROUPS: { name: string; version: string }[] = [
  { name: 'apps', version: 'v1' },
  { name: 'authentication.k8s.io', version: 'v1' },
  { name: 'authorization.k8s.io', version: 'v1' },
  { name: 'autoscaling', version: 'v2' },
  { name: 'batch', version: 'v1' },
]

function servedResources(installed: ReadonlySet<AddOn>): ResourceName[] {
  return RESOURCE_NAMES.filter((resource) => {
    const addOn = RESOURCES[resource].addOn
    return addOn === undefined || installed.has(addOn)
  })
}

/** Every group the plane serves with its one version, built-in first, then the installed CRD groups by name. */
export function servedGroups(installed: ReadonlySet<AddOn>): { name: string; version: string }[] {
  const custom = new Map<string, string>()
  for (const resource of servedResources(installed)) {
    const { group, version, addOn } = RESOURCES[resource]
    if (addOn !== undefined) custom.set(group, version)
  }
  return [...BUILTIN_GROUPS, ...[...custom].sort(([a], [b]) => a.localeCompare(b)).map(([name, version]) => ({ name, version }))]
}

function groupDocument(name: string, version: string): Record<string, unknown> {
  const gv = { groupVersion: `${name}/${version}`, version }
  return { name, versions: [gv], preferredVersion: gv }
}

/** `/apis/<group>`, or undefined for a group the plane does not serve. */
export function apiGroup(name: string, installed: ReadonlySet<AddOn>): Record<string, unknown> | undefined {
  const group = servedGroups(installed).find((g) => g.name === name)
  return group && { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group.name, group.version) }
}

/** `/apis`: the named groups. */
export function apiGroupList(installed: ReadonlySet<AddOn>): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: servedGroups(installed).map((g) => groupDocument(g.name, g.version)) }
}

function resourceEntry(resource: ResourceName): Record<string, unknown> {
  const info = RESOURCES[resource]
  return {
    name: resource,
    singularName: info.singularName,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: info.verbs,
    ...(info.shortNames.length > 0 ? { shortNames: info.shortNames } : {}),
    ...(info.categories.length > 0 ? { categories: info.categories } : {}),
  }
}

function scaleEntry(resource: 'deployments' | 'statefulsets'): Record<string, unknown> {
  return { name: `${resource}/scale`, singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] }
}

/** `/api/v1` (group '') or `/apis/<group>/<version>`; undefined for a group-version the plane does not serve. */
export function resourceList(group: string, version: string, installed: ReadonlySet<AddOn>): Record<string, unknown> | undefined {
  const groupVersion = group ? `${group}/${version}` : version
  const reviews = REVIEWS[group]
  if (reviews) {
    if (version !== 'v1') return undefined
    const resources = reviews.map(({ name, kind }) => ({ name, singularName: name.replace(/s$/, ''), namespaced: false, kind, verbs: ['create'] }))
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources }
  }
  const served = servedResources(installed).filter((resource) => RESOURCES[resource].group === group && RESOURCES[resource].version === version)
  if (served.length === 0) return undefined
  const resources = served.sort().flatMap((resource) => (resource === 'deployments' || resource === 'statefulsets' ? [resourceEntry(resource), scaleEntry(resource)] : [resourceEntry(resource)]))
  return { kind: 'APIResourceList', ...(group ? { apiVersion: 'v1' } : {}), groupVersion, resources }
}
