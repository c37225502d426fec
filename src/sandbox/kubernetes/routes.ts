/**
 * Maps a request path onto what it addresses: a discovery document, a collection (namespaced or across all
 * namespaces), one object, a workload's scale subresource, or a review (SelfSubjectAccessReview and kin). Paths
 * outside this map — other groups, resources of add-ons the seed does not install, other subresources — are
 * `undefined` and get the plane's loud 404.
 */
import type { ReviewResource } from './discovery.js'
import { RESOURCE_NAMES, RESOURCES, type AddOn, type ResourceName, type WorkloadResource } from './resources.js'

export type Route =
  | { kind: 'version' }
  | { kind: 'coreVersions' }
  | { kind: 'groups' }
  | { kind: 'group'; group: string }
  | { kind: 'resources'; group: string; version: string }
  | { kind: 'collection'; resource: ResourceName; namespace?: string }
  | { kind: 'object'; resource: ResourceName; namespace?: string; name: string }
  | { kind: 'scale'; resource: WorkloadResource; namespace: string; name: string }
  | { kind: 'review'; group: string; review: ReviewResource }

const REVIEW_GROUPS: Record<string, ReviewResource[]> = {
  'authentication.k8s.io': ['selfsubjectreviews'],
  'authorization.k8s.io': ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
}

function decodeSegments(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').filter((segment) => segment !== '').map(decodeURIComponent)
  } catch {
    return undefined
  }
}

function resourceNamed(group: string, version: string, plural: string, installed: ReadonlySet<AddOn>): ResourceName | undefined {
  return RESOURCE_NAMES.find((resource) => {
    const info = RESOURCES[resource]
    return resource === plural && info.group === group && info.version === version && (info.addOn === undefined || installed.has(info.addOn))
  })
}

/** `rest` is what follows the group-version prefix: `[resource]`, `[resource, name]`, or `namespaces/<ns>/…`. */
function resourceRoute(group: string, version: string, rest: string[], installed: ReadonlySet<AddOn>): Route | undefined {
  const [first, second, third, fourth, fifth, ...extra] = rest
  if (first === undefined || extra.length > 0) return undefined
  const lookup = (plural: string) => resourceNamed(group, version, plural, installed)
  // `/api/v1/namespaces/<ns>` is the Namespace object itself.
  if (first === 'namespaces' && group === '' && second !== undefined && third === undefined) return { kind: 'object', resource: 'namespaces', name: second }
  if (first === 'namespaces' && second !== undefined && third !== undefined) {
    const resource = lookup(third)
    if (!resource || !RESOURCES[resource].namespaced) return undefined
    if (fourth === undefined) return { kind: 'collection', resource, namespace: second }
    if (fifth === undefined) return { kind: 'object', resource, namespace: second, name: fourth }
    if (fifth === 'scale' && (resource === 'deployments' || resource === 'statefulsets')) return { kind: 'scale', resource, namespace: second, name: fourth }
    return undefined
  }
  const resource = lookup(first)
  if (!resource || third !== undefined) return undefined
  if (second === undefined) return { kind: 'collection', resource }
  // Only cluster-scoped resources are addressed by name without a namespace.
  return RESOURCES[resource].namespaced ? undefined : { kind: 'object', resource, name: second }
}

export function route(pathname: string, installed: ReadonlySet<AddOn>): Route | undefined {
  const segments = decodeSegments(pathname)
  if (!segments) return undefined
  const [root, group, version, ...rest] = segments
  if (root === 'version' && group === undefined) return { kind: 'version' }
  if (root === 'api') {
    if (group === undefined) return { kind: 'coreVersions' }
    if (group !== 'v1') return undefined
    if (version === undefined) return { kind: 'resources', group: '', version: 'v1' }
    return resourceRoute('', 'v1', [version, ...rest], installed)
  }
  if (root !== 'apis') return undefined
  if (group === undefined) return { kind: 'groups' }
  if (version === undefined) return { kind: 'group', group }
  if (rest.length === 0) return { kind: 'resources', group, version }
  const reviews = REVIEW_GROUPS[group]
  if (reviews) {
    const review = reviews.find((r) => r === rest[0])
    return version === 'v1' && review && rest.length === 1 ? { kind: 'review', group, review } : undefined
  }
  return resourceRoute(group, version, rest, installed)
}
