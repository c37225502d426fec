/**
 * Legacy (unaggregated) discovery, which kubectl and client-go fall back to when `/api` and `/apis` answer plain
 * `application/json` instead of an `apidiscovery.k8s.io` APIGroupDiscoveryList (PROTOCOLS.md E.2). The scale
 * subresources are listed as `<resource>/scale` with group `autoscaling`, version `v1`, kind `Scale`: client-go's
 * scale-kind resolver reads exactly those entries.
 */
import { RESOURCES, type ResourceName } from './objects.js'

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

const APPS_VERSION = { groupVersion: 'apps/v1', version: 'v1' }

export function appsGroup(): Record<string, unknown> {
  return { kind: 'APIGroup', apiVersion: 'v1', name: 'apps', versions: [APPS_VERSION], preferredVersion: APPS_VERSION }
}

/** `/apis`: the named groups; only `apps` is emulated. */
export function apiGroupList(): Record<string, unknown> {
  const { kind: _kind, apiVersion: _apiVersion, ...group } = appsGroup()
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [group] }
}

function resourceEntry(resource: ResourceName): Record<string, unknown> {
  const info = RESOURCES[resource]
  return {
    name: resource,
    singularName: info.singularName,
    namespaced: info.namespaced,
    kind: info.kind,
    verbs: info.verbs,
    shortNames: info.shortNames,
    ...(info.namespaced ? { categories: ['all'] } : {}),
  }
}

function scaleEntry(resource: 'deployments' | 'statefulsets'): Record<string, unknown> {
  return { name: `${resource}/scale`, singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] }
}

/** `/api/v1`. */
export function coreV1Resources(): Record<string, unknown> {
  return { kind: 'APIResourceList', groupVersion: 'v1', resources: [resourceEntry('namespaces'), resourceEntry('pods')] }
}

/** `/apis/apps/v1`. */
export function appsV1Resources(): Record<string, unknown> {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: 'apps/v1',
    resources: [resourceEntry('deployments'), scaleEntry('deployments'), resourceEntry('statefulsets'), scaleEntry('statefulsets')],
  }
}
