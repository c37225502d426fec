/**
 * Maps a request path onto what it addresses: a discovery document, a collection (namespaced or across all
 * namespaces), one object, or a workload's scale subresource. Paths outside this map are `undefined` and get the
 * plane's loud 404.
 */
import type { ResourceName, WorkloadResource } from './objects.js'

export type Route =
  | { kind: 'version' | 'api' | 'apis' | 'apps' | 'coreV1' | 'appsV1' }
  | { kind: 'collection'; resource: ResourceName; namespace?: string }
  | { kind: 'object'; resource: ResourceName; namespace?: string; name: string }
  | { kind: 'scale'; resource: WorkloadResource; namespace: string; name: string }

const CORE_RESOURCES = new Set<string>(['pods', 'namespaces'])
const APPS_RESOURCES = new Set<string>(['deployments', 'statefulsets'])

function decodeSegments(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').filter((segment) => segment !== '').map(decodeURIComponent)
  } catch {
    return undefined
  }
}

/** `rest` is what follows the group-version prefix: `[resource]`, `[resource, name]`, or `namespaces/<ns>/…`. */
function resourceRoute(rest: string[], resources: Set<string>): Route | undefined {
  const [first, second, third, fourth, fifth, ...extra] = rest
  if (first === undefined) return undefined
  // `/api/v1/namespaces/<ns>` is the Namespace object itself.
  if (first === 'namespaces' && resources.has('namespaces') && second !== undefined && third === undefined) {
    return { kind: 'object', resource: 'namespaces', name: second }
  }
  if (first === 'namespaces' && second !== undefined && third !== undefined) {
    if (!resources.has(third) || third === 'namespaces' || extra.length > 0) return undefined
    const resource = third as ResourceName
    if (fourth === undefined) return { kind: 'collection', resource, namespace: second }
    if (fifth === undefined) return { kind: 'object', resource, namespace: second, name: fourth }
    if (fifth === 'scale' && APPS_RESOURCES.has(resource)) return { kind: 'scale', resource: resource as WorkloadResource, namespace: second, name: fourth }
    return undefined
  }
  if (!resources.has(first)) return undefined
  const resource = first as ResourceName
  if (second === undefined) return { kind: 'collection', resource }
  // Only cluster-scoped resources are addressed by name without a namespace.
  if (resource === 'namespaces' && third === undefined) return { kind: 'object', resource, name: second }
  return undefined
}

export function route(pathname: string): Route | undefined {
  const segments = decodeSegments(pathname)
  if (!segments) return undefined
  const [root, group, version, ...rest] = segments
  if (root === 'version' && group === undefined) return { kind: 'version' }
  if (root === 'api') {
    if (group === undefined) return { kind: 'api' }
    if (group !== 'v1') return undefined
    if (version === undefined) return { kind: 'coreV1' }
    return resourceRoute([version, ...rest], CORE_RESOURCES)
  }
  if (root === 'apis') {
    if (group === undefined) return { kind: 'apis' }
    if (group !== 'apps') return undefined
    if (version === undefined) return { kind: 'apps' }
    if (version !== 'v1') return undefined
    if (rest.length === 0) return { kind: 'appsV1' }
    return resourceRoute(rest, APPS_RESOURCES)
  }
  return undefined
}
