/**
 * Serves one routed Kubernetes request: list / get / watch for every resource, PATCH for workloads, DELETE for
 * pods, GET / PUT / PATCH for scale subresources, discovery. Methods a route does not serve are 405.
 * Responses are `application/json`; kubectl's Table requests (`Accept: …;as=Table;g=meta.k8s.io`) get Tables.
 */
import type { ServerResponse } from 'node:http'
import type { SandboxRequest } from '../server.js'
import type { WorkloadController } from './controller.js'
import { apiGroupList, apiVersions, appsGroup, appsV1Resources, coreV1Resources, versionInfo } from './discovery.js'
import { apiVersionOf, RESOURCES, type KubeObject, type ResourceName, type WorkloadResource } from './objects.js'
import type { Json } from './patch.js'
import type { Route } from './routes.js'
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js'
import { badRequestError, conflictError, methodNotAllowedError, notFoundError } from './status.js'
import type { ObjectStore } from './store.js'
import { requestedTableVersion, toTable, type IncludeObject } from './table.js'
import type { WatchStreams } from './watch.js'
import type { WorkloadWriter } from './workloads.js'

export interface PlaneParts {
  store: ObjectStore
  controller: WorkloadController
  writer: WorkloadWriter
  watches: WatchStreams
  /** `host:port` of the sandbox, for `/api`'s serverAddressByClientCIDRs. */
  serverAddress: () => string
}

export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

function flag(url: URL, name: string): boolean {
  const value = url.searchParams.get(name)
  return value === 'true' || value === '1'
}

function integerParam(url: URL, name: string): number | undefined {
  const value = url.searchParams.get(name)
  if (value === null || value === '') return undefined
  if (!/^\d+$/.test(value)) throw badRequestError(`${name}: invalid value "${value}": must be a non-negative integer`)
  return Number(value)
}

function resourceVersionParam(url: URL): string | undefined {
  const value = url.searchParams.get('resourceVersion') ?? undefined
  if (value !== undefined && value !== '' && !/^\d+$/.test(value)) throw badRequestError(`invalid resource version "${value}"`)
  return value === '' ? undefined : value
}

function includeObjectParam(url: URL): IncludeObject {
  const value = url.searchParams.get('includeObject') ?? 'Metadata'
  if (value !== 'None' && value !== 'Metadata' && value !== 'Object') throw badRequestError(`includeObject: unsupported value "${value}"`)
  return value
}

function dryRunParam(url: URL): boolean {
  const value = url.searchParams.get('dryRun')
  if (value === null) return false
  if (value !== 'All') throw badRequestError(`dryRun: unsupported value "${value}": only "All" is allowed`)
  return true
}

/** Items of a list carry no kind/apiVersion on the wire; the list does. */
function stripType(object: KubeObject): Omit<KubeObject, 'kind' | 'apiVersion'> {
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = object
  return rest
}

function render(req: SandboxRequest, resource: ResourceName, objects: KubeObject[], resourceVersion: string, asList: boolean): unknown {
  const tableVersion = requestedTableVersion(req.headers.accept)
  if (tableVersion) return toTable(resource, objects, { tableVersion, include: includeObjectParam(req.url), resourceVersion })
  if (!asList) return objects[0]
  return { kind: RESOURCES[resource].listKind, apiVersion: apiVersionOf(resource), metadata: { resourceVersion }, items: objects.map(stripType) }
}

function serveCollection(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, resource: ResourceName, namespace: string | undefined): void {
  if (req.method !== 'GET') throw methodNotAllowedError()
  const labels = parseLabelSelector(req.url.searchParams.get('labelSelector') ?? '')
  const fields = parseFieldSelector(req.url.searchParams.get('fieldSelector') ?? '')
  const resourceVersion = resourceVersionParam(req.url)
  if (flag(req.url, 'watch')) {
    const tableVersion = requestedTableVersion(req.headers.accept)
    const include = includeObjectParam(req.url)
    parts.watches.serve(
      {
        resource,
        namespace,
        labels,
        fields,
        resourceVersion,
        timeoutSeconds: integerParam(req.url, 'timeoutSeconds'),
        allowWatchBookmarks: flag(req.url, 'allowWatchBookmarks'),
        render: (object, rv) => (tableVersion ? toTable(resource, [object], { tableVersion, include, resourceVersion: rv }) : object),
      },
      res,
    )
    return
  }
  const items = parts.store.list(resource, namespace, (o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o.metadata))
  sendJson(res, 200, render(req, resource, items, String(parts.store.currentRevision), true))
}

/** DeleteOptions from the query (`gracePeriodSeconds`) or the body (which wins, as in the apiserver). */
function deleteOptions(req: SandboxRequest): { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } } {
  const fromQuery = integerParam(req.url, 'gracePeriodSeconds')
  if (req.body.length === 0) return { gracePeriodSeconds: fromQuery }
  let body: Json
  try {
    body = JSON.parse(req.body.toString('utf8')) as Json
  } catch (error) {
    throw badRequestError(`error decoding DeleteOptions: ${(error as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequestError('DeleteOptions must be a JSON object')
  const grace = body.gracePeriodSeconds
  if (grace !== undefined && grace !== null && (typeof grace !== 'number' || !Number.isInteger(grace))) {
    throw badRequestError(`gracePeriodSeconds: expected an integer, got ${JSON.stringify(grace)}`)
  }
  const pre = body.preconditions
  const preconditions =
    typeof pre === 'object' && pre !== null && !Array.isArray(pre)
      ? { uid: typeof pre.uid === 'string' ? pre.uid : undefined, resourceVersion: typeof pre.resourceVersion === 'string' ? pre.resourceVersion : undefined }
      : undefined
  return { gracePeriodSeconds: typeof grace === 'number' ? grace : fromQuery, preconditions }
}

function servePodDelete(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, namespace: string, name: string): void {
  const { gracePeriodSeconds, preconditions } = deleteOptions(req)
  const pod = parts.store.get('pods', namespace, name)
  if (!pod) throw notFoundError('pods', '', name)
  if ((preconditions?.uid && preconditions.uid !== pod.metadata.uid) || (preconditions?.resourceVersion && preconditions.resourceVersion !== pod.metadata.resourceVersion)) {
    throw conflictError('pods', '', name)
  }
  if (dryRunParam(req.url)) return sendJson(res, 200, pod)
  sendJson(res, 200, parts.controller.deletePod(namespace, name, gracePeriodSeconds))
}

function serveObject(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, resource: ResourceName, namespace: string | undefined, name: string): void {
  const { group } = RESOURCES[resource]
  switch (req.method) {
    case 'GET': {
      const object = parts.store.get(resource, namespace, name)
      if (!object) throw notFoundError(resource, group, name)
      return sendJson(res, 200, render(req, resource, [object], object.metadata.resourceVersion, false))
    }
    case 'PATCH':
      if (resource !== 'deployments' && resource !== 'statefulsets') throw methodNotAllowedError()
      return sendJson(res, 200, parts.writer.patch(resource, namespace ?? '', name, req.headers['content-type'], req.body, dryRunParam(req.url)))
    case 'DELETE':
      if (resource !== 'pods') throw methodNotAllowedError()
      return servePodDelete(parts, req, res, namespace ?? '', name)
    default:
      throw methodNotAllowedError()
  }
}

function serveScale(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, resource: WorkloadResource, namespace: string, name: string): void {
  switch (req.method) {
    case 'GET':
      return sendJson(res, 200, parts.writer.readScale(resource, namespace, name))
    case 'PUT':
      return sendJson(res, 200, parts.writer.replaceScale(resource, namespace, name, req.body, dryRunParam(req.url)))
    case 'PATCH':
      return sendJson(res, 200, parts.writer.patchScale(resource, namespace, name, req.headers['content-type'], req.body, dryRunParam(req.url)))
    default:
      throw methodNotAllowedError()
  }
}

const DISCOVERY: Record<'version' | 'api' | 'apis' | 'apps' | 'coreV1' | 'appsV1', (parts: PlaneParts) => unknown> = {
  version: () => versionInfo(),
  api: (parts) => apiVersions(parts.serverAddress()),
  apis: () => apiGroupList(),
  apps: () => appsGroup(),
  coreV1: () => coreV1Resources(),
  appsV1: () => appsV1Resources(),
}

export function serveRoute(parts: PlaneParts, target: Route, req: SandboxRequest, res: ServerResponse): void {
  switch (target.kind) {
    case 'collection':
      return serveCollection(parts, req, res, target.resource, target.namespace)
    case 'object':
      return serveObject(parts, req, res, target.resource, target.namespace, target.name)
    case 'scale':
      return serveScale(parts, req, res, target.resource, target.namespace, target.name)
    default:
      if (req.method !== 'GET') throw methodNotAllowedError()
      return sendJson(res, 200, DISCOVERY[target.kind](parts))
  }
}
