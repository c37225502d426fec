/**
 * Authentication, impersonation and RBAC authorization, as the apiserver's filters run them before a handler:
 * - a bearer token names a user: the admin token is `kubernetes-admin` in `system:masters` (allowed everything, by
 *   the privileged-group authorizer); each seeded user has its own token; any other token is 401 Unauthorized; a
 *   request without a token is the admin [sandbox: so that plain HTTP tests need no credentials];
 * - `Impersonate-User` / `-Group` / `-Uid` / `Impersonate-Extra-*` switch the user after the caller is authorized to
 *   `impersonate` each (users, groups, serviceaccounts; uids and userextras/<key> in authentication.k8s.io); groups
 *   or extras without a user are an internal error, as in the apiserver (k8s
 *   `staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go`);
 * - every request is authorized by verb, API group, resource/subresource, namespace and name against the seeded
 *   rules (a Role and RoleBinding per listed namespace, else a ClusterRole and ClusterRoleBinding, all named after
 *   the user) and the bootstrap roles every authenticated user has: system:discovery, system:basic-user and
 *   system:public-info-viewer (k8s `plugin/pkg/auth/authorizer/rbac/rbac.go`, `pkg/apis/rbac/v1/evaluation_helpers.go`);
 * - a refusal is 403 Forbidden with the apiserver's message (`responsewriters/errors.go` forbiddenMessage).
 */
import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { RbacRuleSeed, RbacUserSeed } from './seed.js'
import { ApiError, forbiddenError, unauthorizedError } from './status.js'

export const ADMIN_TOKEN = 'sandbox-breakglass-token'
export const ADMIN_USER = 'kubernetes-admin'
const MASTERS = 'system:masters'
const AUTHENTICATED = 'system:authenticated'
const UNAUTHENTICATED = 'system:unauthenticated'

export interface UserInfo {
  name: string
  uid?: string
  groups: string[]
  extra: Record<string, string[]>
}

/** What the apiserver's RequestInfo says a request asks for. */
export type RequestAttributes =
  | { resourceRequest: false; verb: string; path: string }
  | { resourceRequest: true; verb: string; apiGroup: string; apiVersion: string; resource: string; subresource: string; namespace: string; name: string }

export interface Decision {
  allowed: boolean
  reason: string
}

interface Binding {
  /** `RoleBinding "name/ns"` or `ClusterRoleBinding "name"`, as RBAC's reasons describe the rule's source. */
  source: string
  namespace?: string
  subject: { kind: 'User' | 'Group'; name: string }
  rules: RbacRuleSeed[]
  nonResourceRules?: { verbs: string[]; nonResourceURLs: string[] }[]
}

/** The bootstrap policy every authenticated user is bound to (k8s `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`). */
const BOOTSTRAP: Binding[] = [
  {
    source: 'ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"',
    subject: { kind: 'Group', name: AUTHENTICATED },
    rules: [
      { apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'], verbs: ['create'] },
    ],
  },
  {
    source: 'ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"',
    subject: { kind: 'Group', name: AUTHENTICATED },
    rules: [],
    nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] }],
  },
  {
    source: 'ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:authenticated"',
    subject: { kind: 'Group', name: AUTHENTICATED },
    rules: [],
    nonResourceRules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] }],
  },
]

/** The bearer token the sandbox gives a seeded user; stable per name, so a kubeconfig written once keeps working. */
export function userToken(name: string): string {
  return `sandbox-user-${createHash('sha256').update(name).digest('hex').slice(0, 24)}`
}

const matches = (list: readonly string[], value: string) => list.includes('*') || list.includes(value)

/** rbac/v1 ResourceMatches: `*`, the exact `resource/subresource`, or a `*` resource with the subresource. */
function resourceMatches(rule: RbacRuleSeed, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource
  return rule.resources.some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`))
}

function ruleAllows(rule: RbacRuleSeed, attributes: Extract<RequestAttributes, { resourceRequest: true }>): boolean {
  return (
    matches(rule.verbs, attributes.verb) &&
    matches(rule.apiGroups, attributes.apiGroup) &&
    resourceMatches(rule, attributes.resource, attributes.subresource) &&
    (rule.resourceNames === undefined || rule.resourceNames.length === 0 || rule.resourceNames.includes(attributes.name))
  )
}

/** rbac/v1 NonResourceURLMatches: exact, or a trailing `*` prefix. */
function urlMatches(pattern: string, path: string): boolean {
  return pattern === '*' || pattern === path || (pattern.endsWith('*') && path.startsWith(pattern.slice(0, -1)))
}

/** The message a refusal carries: `User "u" cannot patch resource "deployments/scale" in API group "apps" in the namespace "agents"`. */
function forbiddenMessage(user: UserInfo, attributes: RequestAttributes): string {
  if (!attributes.resourceRequest) return `User "${user.name}" cannot ${attributes.verb} path "${attributes.path}"`
  const resource = attributes.subresource ? `${attributes.resource}/${attributes.subresource}` : attributes.resource
  const scope = attributes.namespace ? `in the namespace "${attributes.namespace}"` : 'at the cluster scope'
  return `User "${user.name}" cannot ${attributes.verb} resource "${resource}" in API group "${attributes.apiGroup}" ${scope}`
}

export function forbidden(user: UserInfo, attributes: RequestAttributes): ApiError {
  if (!attributes.resourceRequest) return forbiddenError('', '', '', forbiddenMessage(user, attributes))
  return forbiddenError(attributes.resource, attributes.apiGroup, attributes.name, forbiddenMessage(user, attributes))
}

export class Authorizer {
  private readonly tokens = new Map<string, UserInfo>()
  private readonly bindings: Binding[] = [...BOOTSTRAP]

  constructor(users: readonly RbacUserSeed[]) {
    for (const user of users) {
      this.tokens.set(userToken(user.name), { name: user.name, groups: [...user.groups, AUTHENTICATED], extra: {} })
      const subject = { kind: 'User' as const, name: user.name }
      if (user.namespaces === undefined) {
        this.bindings.push({ source: `ClusterRoleBinding "${user.name}" of ClusterRole "${user.name}" to User "${user.name}"`, subject, rules: user.rules })
      } else {
        for (const namespace of user.namespaces) {
          this.bindings.push({ source: `RoleBinding "${user.name}/${namespace}" of Role "${user.name}" to User "${user.name}"`, namespace, subject, rules: user.rules })
        }
      }
    }
  }

  /** The user a request's bearer token names; 401 for a token nobody was given. */
  authenticate(authorization: string | undefined): UserInfo {
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim()
    if (token === undefined || token === ADMIN_TOKEN) return { name: ADMIN_USER, groups: [MASTERS, AUTHENTICATED], extra: {} }
    const user = this.tokens.get(token)
    if (!user) throw unauthorizedError()
    return structuredClone(user)
  }

  /** The user after the impersonation headers, each impersonation authorized for `requestor` first. */
  impersonate(requestor: UserInfo, headers: IncomingHttpHeaders): UserInfo {
    const header = (name: string): string[] => {
      const value = headers[name]
      return value === undefined ? [] : Array.isArray(value) ? value : value.split(',').map((v) => v.trim())
    }
    const userName = header('impersonate-user')[0] ?? ''
    const groups = header('impersonate-group')
    const uid = header('impersonate-uid')[0]
    const extra: Record<string, string[]> = {}
    for (const [name, value] of Object.entries(headers)) {
      if (!name.startsWith('impersonate-extra-') || value === undefined) continue
      extra[decodeURIComponent(name.slice('impersonate-extra-'.length))] = Array.isArray(value) ? value : value.split(',').map((v) => v.trim())
    }
    const requested = userName !== '' || groups.length > 0 || uid !== undefined || Object.keys(extra).length > 0
    if (!requested) return requestor
    if (userName === '') throw new ImpersonationError(`requested impersonation of groups, uid or user-extra without impersonating a user`)
    const check = (attributes: Extract<RequestAttributes, { resourceRequest: true }>) => {
      if (!this.authorize(requestor, attributes).allowed) throw forbidden(requestor, attributes)
    }
    const base = { resourceRequest: true as const, verb: 'impersonate', apiVersion: 'v1', subresource: '', namespace: '' }
    const serviceAccount = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(userName)
    if (serviceAccount) check({ ...base, apiGroup: '', resource: 'serviceaccounts', namespace: serviceAccount[1]!, name: serviceAccount[2]! })
    else check({ ...base, apiGroup: '', resource: 'users', name: userName })
    for (const group of groups) check({ ...base, apiGroup: '', resource: 'groups', name: group })
    if (uid !== undefined) check({ ...base, apiGroup: 'authentication.k8s.io', resource: 'uids', name: uid })
    for (const [key, values] of Object.entries(extra)) for (const value of values) check({ ...base, apiGroup: 'authentication.k8s.io', resource: 'userextras', subresource: key, name: value })
    const impersonatedGroups = [...groups]
    if (groups.length === 0 && serviceAccount) impersonatedGroups.push('system:serviceaccounts', `system:serviceaccounts:${serviceAccount[1]}`)
    if (!impersonatedGroups.includes(AUTHENTICATED) && !impersonatedGroups.includes(UNAUTHENTICATED)) impersonatedGroups.push(AUTHENTICATED)
    return { name: userName, ...(uid !== undefined ? { uid } : {}), groups: impersonatedGroups, extra }
  }

  authorize(user: UserInfo, attributes: RequestAttributes): Decision {
    // The privileged-group authorizer runs before RBAC and allows system:masters everything, with no reason.
    if (user.groups.includes(MASTERS)) return { allowed: true, reason: '' }
    for (const binding of this.bindingsFor(user)) {
      if (attributes.resourceRequest) {
        if (binding.namespace !== undefined && binding.namespace !== attributes.namespace) continue
        if (binding.rules.some((rule) => ruleAllows(rule, attributes))) return { allowed: true, reason: `RBAC: allowed by ${binding.source}` }
      } else if (binding.namespace === undefined) {
        const allowed = binding.nonResourceRules?.some((rule) => matches(rule.verbs, attributes.verb) && rule.nonResourceURLs.some((url) => urlMatches(url, attributes.path)))
        if (allowed) return { allowed: true, reason: `RBAC: allowed by ${binding.source}` }
      }
    }
    return { allowed: false, reason: '' }
  }

  /** What `user` may do in `namespace`: the SelfSubjectRulesReview status. */
  rulesFor(user: UserInfo, namespace: string): { resourceRules: RbacRuleSeed[]; nonResourceRules: { verbs: string[]; nonResourceURLs: string[] }[] } {
    if (user.groups.includes(MASTERS)) {
      return { resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'] }], nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }] }
    }
    const bindings = this.bindingsFor(user).filter((binding) => binding.namespace === undefined || binding.namespace === namespace)
    return {
      resourceRules: bindings.flatMap((binding) => binding.rules.map((rule) => ({ verbs: rule.verbs, apiGroups: rule.apiGroups, resources: rule.resources, ...(rule.resourceNames ? { resourceNames: rule.resourceNames } : {}) }))),
      nonResourceRules: bindings.flatMap((binding) => binding.nonResourceRules ?? []),
    }
  }

  private bindingsFor(user: UserInfo): Binding[] {
    return this.bindings.filter(({ subject }) => (subject.kind === 'User' ? subject.name === user.name : user.groups.includes(subject.name)))
  }
}

/** The apiserver answers a malformed impersonation with a plain-text internal error, not a Status. */
export class ImpersonationError extends Error {}
