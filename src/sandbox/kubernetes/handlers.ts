/**
 * Serves one routed, authorized Kubernetes request: list / get / watch for every resource, PATCH for workloads, pods,
 * CronJobs, HPAs and custom resources, DELETE for pods and Jobs, GET / PUT / PATCH for scale subresources, the
 * self-reviews (access, rules, subject), discovery. Methods a route does not serve are 405. Responses are
 * `application/json`; kubectl's Table requests (`Accept: …;as=Table;g=meta.k8s.io`) get Tables.
 */
import type { ServerResponse } from 'node:http'
import type { SandboxRequest } from '../server.js'
import type { BatchController, JobDeleteOptions, PropagationPolicy } from './batch.js'
import { apiGroup, apiGroupList, apiVersions, resourceList, versionInfo } from './discovery.js'
import type { Kubelet } from './kubelet.js'
import { managerOf, type FieldManager } from './managed-fields.js'
import type { KubeObject } from './objects.js'
import { mediaType, type Json } from './patch.js'
import { decodeReview, PROTOBUF_CONTENT_TYPE } from './protobuf.js'
import type { Authorizer, RequestAttributes, UserInfo } from './rbac.js'
import type { PatchableResource, ResourceWriter } from './resource-writer.js'
import { apiVersionOf, RESOURCES, type AddOn, type ResourceName, type WorkloadResource } from './resources.js'
import type { Route } from './routes.js'
import { exactName, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js'
import { badRequestError, conflictError, invalidError, methodNotAllowedError, notEmulatedError, notFoundError } from './status.js'
import type { ObjectStore } from './store.js'
import { requestedTableVersion, toTable, type IncludeObject } from './table.js'
import type { WatchStreams } from './watch.js'
import type { WorkloadWriter } from './workloads.js'

export interface PlaneParts {
  store: ObjectStore
  kubelet: Kubelet
  batch: BatchController
  workloads: WorkloadWriter
  resources: ResourceWriter
  watches: WatchStreams
  authorizer: Authorizer
  /** The add-ons whose CRDs the cluster has. */
  installed: ReadonlySet<AddOn>
  /** `host:port` of the sandbox, for `/api`'s serverAddressByClientCIDRs. */
  serverAddress: () => string
}

type JsonObject = { [key: string]: Json }

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

/** Who a write is recorded under: `fieldManager`, else the User-Agent's product name (managedFields). */
function writerOf(req: SandboxRequest, subresource?: 'scale'): FieldManager {
  return { manager: managerOf(req.url.searchParams.get('fieldManager'), req.headers['user-agent']), operation: 'Update', ...(subresource ? { subresource } : {}) }
}

/** What RBAC is asked about this request (the apiserver's RequestInfo): verb, group, resource, namespace, name. */
export function requestAttributes(target: Route, req: SandboxRequest): RequestAttributes {
  const method = req.method.toUpperCase()
  const verbs: Record<string, string> = { GET: 'get', HEAD: 'get', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' }
  const verb = verbs[method] ?? method.toLowerCase()
  switch (target.kind) {
    case 'version':
    case 'coreVersions':
    case 'groups':
    case 'group':
    case 'resources':
      return { resourceRequest: false, verb: method.toLowerCase(), path: req.url.pathname }
    case 'review':
      return { resourceRequest: true, verb, apiGroup: target.group, apiVersion: 'v1', resource: target.review, subresource: '', namespace: '', name: '' }
    case 'collection': {
      const { group, version } = RESOURCES[target.resource]
      let name = ''
      let collectionVerb = verb === 'delete' ? 'deletecollection' : verb
      if (verb === 'get') {
        collectionVerb = flag(req.url, 'watch') ? 'watch' : 'list'
        try {
          name = exactName(parseFieldSelector(req.url.searchParams.get('fieldSelector') ?? '', target.resource))
        } catch {
          name = ''
        }
      }
      return { resourceRequest: true, verb: collectionVerb, apiGroup: group, apiVersion: version, resource: target.resource, subresource: '', namespace: target.namespace ?? '', name }
    }
    case 'object':
    case 'scale': {
      const { group, version } = RESOURCES[target.resource]
      // `/api/v1/namespaces/NAME` is in the namespace NAME, as far as RBAC is concerned.
      const namespace = target.resource === 'namespaces' ? target.name : (target.namespace ?? '')
      return { resourceRequest: true, verb, apiGroup: group, apiVersion: version, resource: target.resource, subresource: target.kind === 'scale' ? 'scale' : '', namespace, name: target.name }
    }
  }
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
  const fields = parseFieldSelector(req.url.searchParams.get('fieldSelector') ?? '', resource)
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
  const items = parts.store.list(resource, namespace, (o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o, resource))
  sendJson(res, 200, render(req, resource, items as KubeObject[], String(parts.store.currentRevision), true))
}

interface DeleteOptions {
  gracePeriodSeconds?: number
  propagationPolicy?: PropagationPolicy
  orphanDependents?: boolean
  preconditions?: { uid?: string; resourceVersion?: string }
}

const POLICIES: readonly string[] = ['Orphan', 'Background', 'Foreground']

function policyOf(value: Json | string | undefined | null): PropagationPolicy | undefined {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string' || !POLICIES.includes(value)) {
    throw badRequestError(`propagationPolicy: Unsupported value: ${JSON.stringify(value)}: supported values: "Foreground", "Background", "Orphan"`)
  }
  return value as PropagationPolicy
}

/** DeleteOptions from the query (`gracePeriodSeconds`, `propagationPolicy`, `orphanDependents`) or the body, which wins. */
function deleteOptions(req: SandboxRequest): DeleteOptions {
  const query: DeleteOptions = {
    gracePeriodSeconds: integerParam(req.url, 'gracePeriodSeconds'),
    propagationPolicy: policyOf(req.url.searchParams.get('propagationPolicy')),
    ...(req.url.searchParams.has('orphanDependents') ? { orphanDependents: flag(req.url, 'orphanDependents') } : {}),
  }
  if (req.body.length === 0) return query
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
  const orphan = body.orphanDependents
  return {
    gracePeriodSeconds: typeof grace === 'number' ? grace : query.gracePeriodSeconds,
    propagationPolicy: policyOf(body.propagationPolicy) ?? query.propagationPolicy,
    ...(typeof orphan === 'boolean' ? { orphanDependents: orphan } : query.orphanDependents !== undefined ? { orphanDependents: query.orphanDependents } : {}),
    preconditions,
  }
}

function servePodDelete(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, namespace: string, name: string): void {
  const { gracePeriodSeconds, preconditions } = deleteOptions(req)
  const pod = parts.store.get('pods', namespace, name)
  if (!pod) throw notFoundError('pods', '', name)
  if ((preconditions?.uid && preconditions.uid !== pod.metadata.uid) || (preconditions?.resourceVersion && preconditions.resourceVersion !== pod.metadata.resourceVersion)) {
    throw conflictError('pods', '', name)
  }
  if (dryRunParam(req.url)) return sendJson(res, 200, pod)
  sendJson(res, 200, parts.kubelet.delete(namespace, name, gracePeriodSeconds))
}

function serveJobDelete(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, namespace: string, name: string): void {
  const options = deleteOptions(req)
  const request: JobDeleteOptions = {
    ...(options.propagationPolicy ? { propagationPolicy: options.propagationPolicy } : {}),
    ...(options.orphanDependents !== undefined ? { orphanDependents: options.orphanDependents } : {}),
    ...(options.preconditions ? { preconditions: options.preconditions } : {}),
    dryRun: dryRunParam(req.url),
  }
  const result = parts.batch.deleteJob(namespace, name, request)
  // 202 only where the apiserver keeps it: a pending deletion the client asked to cascade with orphanDependents=false.
  const pending = result.body.kind === 'Job'
  sendJson(res, pending && options.orphanDependents === false ? 202 : 200, result.body, result.warning ? { warning: `299 - ${JSON.stringify(result.warning)}` } : {})
}

function serveObject(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, resource: ResourceName, namespace: string | undefined, name: string): void {
  const { group } = RESOURCES[resource]
  switch (req.method) {
    case 'GET': {
      const object = parts.store.get(resource, namespace, name)
      if (!object) throw notFoundError(resource, group, name)
      return sendJson(res, 200, render(req, resource, [object as KubeObject], object.metadata.resourceVersion, false))
    }
    case 'PATCH': {
      const dryRun = dryRunParam(req.url)
      if (resource === 'deployments' || resource === 'statefulsets') {
        return sendJson(res, 200, parts.workloads.patch(resource, namespace ?? '', name, req.headers['content-type'], req.body, dryRun, writerOf(req)))
      }
      if (!RESOURCES[resource].verbs.includes('patch')) throw methodNotAllowedError()
      return sendJson(res, 200, parts.resources.patch(resource as PatchableResource, namespace ?? '', name, req.headers['content-type'], req.body, dryRun, writerOf(req)))
    }
    case 'DELETE':
      if (resource === 'pods') return servePodDelete(parts, req, res, namespace ?? '', name)
      if (resource === 'jobs') return serveJobDelete(parts, req, res, namespace ?? '', name)
      throw methodNotAllowedError()
    default:
      throw methodNotAllowedError()
  }
}

function serveScale(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, resource: WorkloadResource, namespace: string, name: string): void {
  switch (req.method) {
    case 'GET':
      return sendJson(res, 200, parts.workloads.readScale(resource, namespace, name))
    case 'PUT':
      return sendJson(res, 200, parts.workloads.replaceScale(resource, namespace, name, req.body, dryRunParam(req.url), writerOf(req, 'scale')))
    case 'PATCH':
      return sendJson(res, 200, parts.workloads.patchScale(resource, namespace, name, req.headers['content-type'], req.body, dryRunParam(req.url), writerOf(req, 'scale')))
    default:
      throw methodNotAllowedError()
  }
}

function reviewBody(req: SandboxRequest, kind: string): JsonObject {
  let body: Json
  try {
    body = mediaType(req.headers['content-type']) === PROTOBUF_CONTENT_TYPE ? decodeReview(req.body) : (JSON.parse(req.body.toString('utf8')) as Json)
  } catch (error) {
    throw badRequestError(`error decoding ${kind}: ${(error as Error).message}`)
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequestError(`the body must be a ${kind} object`)
  if (body.kind !== undefined && body.kind !== kind) throw badRequestError(`the kind of the object (${String(body.kind)}) does not match the resource (${kind})`)
  return body
}

/** SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview: what the caller may do, and who it is. */
function serveReview(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, target: Extract<Route, { kind: 'review' }>, user: UserInfo): void {
  if (req.method !== 'POST') throw methodNotAllowedError()
  const apiVersion = `${target.group}/v1`
  const meta = { creationTimestamp: null }
  if (target.review === 'selfsubjectreviews') {
    reviewBody(req, 'SelfSubjectReview')
    const userInfo = { username: user.name, ...(user.uid ? { uid: user.uid } : {}), groups: user.groups, ...(Object.keys(user.extra).length > 0 ? { extra: user.extra } : {}) }
    return sendJson(res, 201, { kind: 'SelfSubjectReview', apiVersion, metadata: meta, status: { userInfo } })
  }
  if (target.review === 'selfsubjectrulesreviews') {
    const body = reviewBody(req, 'SelfSubjectRulesReview')
    const spec = (typeof body.spec === 'object' && body.spec !== null && !Array.isArray(body.spec) ? body.spec : {}) as JsonObject
    const namespace = typeof spec.namespace === 'string' ? spec.namespace : ''
    const rules = parts.authorizer.rulesFor(user, namespace)
    return sendJson(res, 201, { kind: 'SelfSubjectRulesReview', apiVersion, metadata: meta, spec, status: { ...rules, incomplete: false } })
  }
  const body = reviewBody(req, 'SelfSubjectAccessReview')
  const spec = (typeof body.spec === 'object' && body.spec !== null && !Array.isArray(body.spec) ? body.spec : {}) as JsonObject
  const resource = spec.resourceAttributes as JsonObject | undefined
  const nonResource = spec.nonResourceAttributes as JsonObject | undefined
  if ((resource === undefined) === (nonResource === undefined)) {
    throw invalidError('SelfSubjectAccessReview', 'authorization.k8s.io', '', 'spec.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified')
  }
  const text = (object: JsonObject, key: string) => (typeof object[key] === 'string' ? (object[key] as string) : '')
  const attributes: RequestAttributes = resource
    ? {
        resourceRequest: true,
        verb: text(resource, 'verb'),
        apiGroup: text(resource, 'group'),
        apiVersion: text(resource, 'version'),
        resource: text(resource, 'resource'),
        subresource: text(resource, 'subresource'),
        namespace: text(resource, 'namespace'),
        name: text(resource, 'name'),
      }
    : { resourceRequest: false, verb: text(nonResource!, 'verb'), path: text(nonResource!, 'path') }
  const decision = parts.authorizer.authorize(user, attributes)
  sendJson(res, 201, { kind: 'SelfSubjectAccessReview', apiVersion, metadata: meta, spec, status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) } })
}

function serveDiscovery(parts: PlaneParts, req: SandboxRequest, res: ServerResponse, target: Extract<Route, { kind: 'version' | 'coreVersions' | 'groups' | 'group' | 'resources' }>): void {
  if (req.method !== 'GET') throw methodNotAllowedError()
  let document: unknown
  switch (target.kind) {
    case 'version':
      document = versionInfo()
      break
    case 'coreVersions':
      document = apiVersions(parts.serverAddress())
      break
    case 'groups':
      document = apiGroupList(parts.installed)
      break
    case 'group':
      document = apiGroup(target.group, parts.installed)
      break
    case 'resources':
      document = resourceList(target.group, target.version, parts.installed)
      break
  }
  if (document === undefined) throw notEmulatedError(req.method, req.url.pathname)
  sendJson(res, 200, document)
}

export function serveRoute(parts: PlaneParts, target: Route, req: SandboxRequest, res: ServerResponse, user: UserInfo): void {
  switch (target.kind) {
    case 'collection':
      return serveCollection(parts, req, res, target.resource, target.namespace)
    case 'object':
      return serveObject(parts, req, res, target.resource, target.namespace, target.name)
    case 'scale':
      return serveScale(parts, req, res, target.resource, target.namespace, target.name)
    case 'review':
      return serveReview(parts, req, res, target, user)
    default:
      return serveDiscovery(parts, req, res, target)
  }
}
