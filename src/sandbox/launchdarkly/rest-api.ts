/**
 * LaunchDarkly's REST API (api/v2) for flags: read one, list, PATCH on/off per environment, and what a kill switch
 * checks around it: the project's environments (SDK keys, approval settings), a flag's scheduled changes and its
 * triggers (docs/sandbox/launchdarkly.md).
 *
 * Order of checks on every call: realism gate (latency, injected faults) → rate-limit accounting (headers on every
 * answer from here on) → access token → route. The access token is the raw `Authorization` value; SDK keys are
 * refused, as LaunchDarkly refuses them. A PATCH that would change a flag then passes, in order: required approvals
 * (405 unless the token may bypass them), required comments (400), conflicts with pending scheduled changes or
 * approval requests (400 unless `ignoreConflicts=true`).
 */
import type { ServerResponse } from 'node:http'
import type { Realism } from '../realism.js'
import { notFound, type SandboxRequest } from '../server.js'
import { isSemanticPatchContentType, parseJsonPatch, parseSemanticPatch } from './flag-patch.js'
import { restEnvironment, restFeatureFlag, restScheduledChange, restTrigger } from './flag-shapes.js'
import type { FlagRecord, FlagStore, ProjectRecord } from './flag-store.js'
import { RestRateLimits } from './rate-limit.js'
import { sendError, sendJson } from './responses.js'

type Route =
  | { name: 'GET /api/v2/flags/{project}'; project: string }
  | { name: 'GET /api/v2/flags/{project}/{key}' | 'PATCH /api/v2/flags/{project}/{key}'; project: string; flagKey: string }
  | { name: 'GET /api/v2/flags/{project}/{key}/triggers/{env}'; project: string; flagKey: string; environment: string }
  | { name: 'GET /api/v2/projects/{project}/environments'; project: string }
  | { name: 'GET /api/v2/projects/{project}/environments/{env}'; project: string; environment: string }
  | { name: 'GET /api/v2/projects/{project}/flags/{key}/environments/{env}/scheduled-changes'; project: string; flagKey: string; environment: string }

function matchRoute(method: string, pathname: string): Route | undefined {
  const segments = pathname.split('/').slice(1).map(decodeURIComponent)
  if (segments[0] !== 'api' || segments[1] !== 'v2' || segments.slice(3).some((s) => s === '')) return undefined
  const rest = segments.slice(3)
  if (segments[2] === 'flags') {
    const [project, flagKey, ...more] = rest
    if (!project) return undefined
    if (flagKey === undefined) return method === 'GET' ? { name: 'GET /api/v2/flags/{project}', project } : undefined
    if (more.length === 0) {
      if (method === 'GET') return { name: 'GET /api/v2/flags/{project}/{key}', project, flagKey }
      if (method === 'PATCH') return { name: 'PATCH /api/v2/flags/{project}/{key}', project, flagKey }
      return undefined
    }
    if (method === 'GET' && more.length === 2 && more[0] === 'triggers') {
      return { name: 'GET /api/v2/flags/{project}/{key}/triggers/{env}', project, flagKey, environment: more[1]! }
    }
    return undefined
  }
  if (segments[2] === 'projects' && method === 'GET') {
    const [project, environments, environment, ...more] = rest
    if (!project) return undefined
    if (environments === 'environments' && environment === undefined) return { name: 'GET /api/v2/projects/{project}/environments', project }
    if (environments === 'environments' && more.length === 0) return { name: 'GET /api/v2/projects/{project}/environments/{env}', project, environment: environment! }
    const [flagKey, envs, env, scheduled, ...extra] = [environment, ...more]
    if (environments === 'flags' && envs === 'environments' && scheduled === 'scheduled-changes' && extra.length === 0 && flagKey && env) {
      return { name: 'GET /api/v2/projects/{project}/flags/{key}/environments/{env}/scheduled-changes', project, flagKey, environment: env }
    }
  }
  return undefined
}

export interface RestApiOptions {
  store: FlagStore
  realism: Realism
  /** Access tokens accepted; empty means any token that is not an SDK key. */
  apiTokens: readonly string[]
  /** Tokens whose role has the bypassRequiredApproval action. */
  approvalBypassTokens: readonly string[]
}

export class LaunchDarklyRestApi {
  private readonly rateLimits = new RestRateLimits()

  constructor(private readonly options: RestApiOptions) {}

  async handle(req: SandboxRequest, res: ServerResponse): Promise<void> {
    const decision = await this.options.realism.gate('launchdarkly')
    if (decision.kind === 'reset') {
      res.socket?.destroy()
      return
    }
    const route = matchRoute(req.method, req.url.pathname)
    if (!route) return notFound(res, `${req.method} ${req.url.pathname}`)

    const token = typeof req.headers.authorization === 'string' ? req.headers.authorization : ''
    const limits = this.rateLimits.count(token, route.name)
    const headers = limits.headers
    if (decision.kind === 'error') return sendError(res, 500, 'An internal error occurred (injected by the sandbox)', headers)
    if (decision.kind === 'throttle') {
      return sendError(res, 429, "You've exceeded the API rate limit. Try again later.", { ...headers, 'Retry-After': String(decision.retryAfterSeconds) })
    }
    if (limits.exceeded && this.options.realism.profile.rateLimits) {
      return sendError(res, 429, "You've exceeded the API rate limit. Try again later.", { ...headers, 'Retry-After': String(limits.retryAfterSeconds) })
    }
    if (!this.acceptsToken(token)) return sendError(res, 401, 'Invalid access token', headers)

    const project = this.options.store.projects.get(route.project)
    if (!project) return sendError(res, 404, `Unknown project: ${route.project}`, headers)
    switch (route.name) {
      case 'GET /api/v2/flags/{project}':
        return this.listFlags(req, res, project, headers)
      case 'GET /api/v2/projects/{project}/environments':
        return this.listEnvironments(req, res, project, headers)
      case 'GET /api/v2/projects/{project}/environments/{env}': {
        const environment = project.environments.get(route.environment)
        if (!environment) return sendError(res, 404, `Unknown environment: ${route.environment}`, headers)
        return sendJson(res, 200, restEnvironment(project, environment), headers)
      }
    }
    const flag = project.flags.get(route.flagKey)
    if (!flag) return sendError(res, 404, `Unknown flag: ${route.flagKey}`, headers)
    switch (route.name) {
      case 'GET /api/v2/flags/{project}/{key}':
        return sendJson(res, 200, restFeatureFlag(project.key, flag, requestedEnvironments(req)), headers)
      case 'PATCH /api/v2/flags/{project}/{key}':
        return this.patchFlag(req, res, project, flag, token, headers)
    }
    const state = flag.environments.get(route.environment)
    if (!state) return sendError(res, 404, `Unknown environment: ${route.environment}`, headers)
    const href = req.url.pathname
    if (route.name === 'GET /api/v2/flags/{project}/{key}/triggers/{env}') {
      return sendJson(res, 200, { items: state.triggers.map(restTrigger), _links: { self: { href, type: 'application/json' } } }, headers)
    }
    const items = state.scheduledChanges.map(restScheduledChange)
    sendJson(res, 200, { items, totalCount: items.length, _links: { self: { href, type: 'application/json' } } }, headers)
  }

  private acceptsToken(token: string): boolean {
    // A raw token never contains whitespace; "Bearer <token>" is a client bug LaunchDarkly refuses.
    if (token === '' || /\s/.test(token)) return false
    if (this.options.apiTokens.length > 0) return this.options.apiTokens.includes(token)
    return !this.options.store.isSdkKey(token)
  }

  private listEnvironments(req: SandboxRequest, res: ServerResponse, project: ProjectRecord, headers: Record<string, string>): void {
    const { limit, offset } = paging(req)
    const all = [...project.environments.values()]
    const items = all.slice(offset, offset + limit).map((environment) => restEnvironment(project, environment))
    sendJson(res, 200, { items, totalCount: all.length, _links: { self: { href: `/api/v2/projects/${project.key}/environments`, type: 'application/json' } } }, headers)
  }

  private listFlags(req: SandboxRequest, res: ServerResponse, project: ProjectRecord, headers: Record<string, string>): void {
    const filter = parseFlagFilter(req.url.searchParams.get('filter'))
    if (!filter.ok) return sendError(res, 400, filter.message, headers)
    const environments = requestedEnvironments(req)
    const { limit, offset } = paging(req)
    // Archived flags are left out, as LaunchDarkly leaves them out unless asked for.
    const matching = [...project.flags.values()].filter((flag) => !flag.archived && filter.tags.every((tag) => flag.tags.includes(tag)))
    const items = matching.slice(offset, offset + limit).map((flag) => restFeatureFlag(project.key, flag, environments))
    sendJson(
      res,
      200,
      { items, totalCount: matching.length, _links: { self: { href: `/api/v2/flags/${project.key}?limit=${limit}&offset=${offset}`, type: 'application/json' } } },
      headers,
    )
  }

  private patchFlag(req: SandboxRequest, res: ServerResponse, project: ProjectRecord, flag: FlagRecord, token: string, headers: Record<string, string>): void {
    let body: unknown
    try {
      body = JSON.parse(req.body.toString('utf8'))
    } catch {
      return sendError(res, 400, 'Invalid request body: not JSON', headers)
    }
    const contentType = typeof req.headers['content-type'] === 'string' ? req.headers['content-type'] : undefined
    const patch = isSemanticPatchContentType(contentType) ? parseSemanticPatch(body, flag) : parseJsonPatch(body, flag)
    if (!patch.ok) return sendError(res, patch.status, patch.message, headers)
    // Only a change is held to the environment's rules: a request that changes nothing is answered as it is.
    for (const env of this.options.store.wouldChange(flag, patch.update)) {
      const environment = project.environments.get(env)!
      if (environment.approvalsRequired && !this.options.approvalBypassTokens.includes(token)) {
        return sendError(res, 405, `Approval is required to change flag ${flag.key} in environment ${env}: create an approval request`, headers)
      }
      if (environment.requireComments && patch.comment.trim() === '') {
        return sendError(res, 400, `A comment is required to change flags in environment ${env}`, headers)
      }
      const state = flag.environments.get(env)!
      const pending = state.scheduledChanges.length + state.pendingApprovalRequests
      if (pending > 0 && req.url.searchParams.get('ignoreConflicts') !== 'true') {
        return sendError(
          res,
          400,
          `This change to ${flag.key} in ${env} conflicts with ${state.scheduledChanges.length} pending scheduled change(s) and ${state.pendingApprovalRequests} pending approval request(s); set ignoreConflicts=true to apply it anyway`,
          headers,
        )
      }
    }
    if (req.url.searchParams.get('dryRun') === 'true') {
      return sendJson(res, 200, restFeatureFlag(project.key, previewTargeting(flag, patch.update)), headers)
    }
    this.options.store.applyTargeting(project, flag, patch.update, patch.instruction, patch.comment)
    sendJson(res, 200, restFeatureFlag(project.key, flag), headers)
  }
}

/** Pages as LaunchDarkly does: `limit` defaults to 20 and is at most 100, `offset` skips; totalCount is the whole. */
function paging(req: SandboxRequest): { limit: number; offset: number } {
  const limit = Math.min(100, Math.max(1, Number.parseInt(req.url.searchParams.get('limit') ?? '', 10) || 20))
  const offset = Math.max(0, Number.parseInt(req.url.searchParams.get('offset') ?? '', 10) || 0)
  return { limit, offset }
}

/** The `env` query parameters (repeatable); undefined when none, meaning every environment. */
function requestedEnvironments(req: SandboxRequest): string[] | undefined {
  const environments = req.url.searchParams.getAll('env').flatMap((value) => value.split(','))
  return environments.length > 0 ? environments : undefined
}

/**
 * `filter=tags:a+b`: flags carrying all the listed tags. Only the `tags` field is emulated. The `+` separator
 * arrives as a space when the client did not percent-encode it.
 */
function parseFlagFilter(filter: string | null): { ok: true; tags: string[] } | { ok: false; message: string } {
  if (filter === null || filter === '') return { ok: true, tags: [] }
  const tags: string[] = []
  for (const clause of filter.split(',')) {
    const separator = clause.indexOf(':')
    const field = separator < 0 ? clause : clause.slice(0, separator)
    if (field !== 'tags') return { ok: false, message: `Unsupported filter field ${JSON.stringify(field)}: the sandbox emulates filter=tags:<tag>+<tag>` }
    tags.push(...clause.slice(separator + 1).split(/[+ ]/).filter((tag) => tag !== ''))
  }
  return { ok: true, tags }
}

/** What `flag` would look like after `update`, without changing it (for `dryRun=true`). */
function previewTargeting(flag: FlagRecord, update: Map<string, boolean>): FlagRecord {
  const environments = new Map(flag.environments)
  let changed = false
  for (const [env, on] of update) {
    const state = environments.get(env)!
    if (state.on === on) continue
    changed = true
    environments.set(env, { ...state, on, version: state.version + 1, lastModified: Date.now() })
  }
  return { ...flag, version: changed ? flag.version + 1 : flag.version, environments }
}
