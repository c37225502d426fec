/**
 * IAM (query protocol, global per account): roles, users and groups with their tags and inline policies, and
 * SimulatePrincipalPolicy over the propagated view of those policies (IAM API reference, https://docs.aws.amazon.com/IAM/latest/APIReference/; SimulatePrincipalPolicy: https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html).
 */
import type { Realism } from '../realism.js'
import { AwsError } from './errors.js'
import { evaluate, INLINE_POLICY_QUOTA, validatePolicyDocument, type IamKind } from './iam-policy.js'
import { decodeMarker, encodeMarker, iamTimestamp } from './ids.js'
import {
  createQueryService,
  element,
  escapeXml,
  memberList,
  members,
  required,
  rfc3986,
  tagMembers,
  text,
  type QueryAction,
  type QueryContext,
  type QueryParams,
} from './query.js'
import type { AwsService } from './service.js'
import type { AwsWorld, IamEntity } from './world.js'

const IAM_XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/'
const NAME_PATTERN = /^[\w+=,.@-]+$/
const KIND_TITLE: Record<IamKind, string> = { role: 'Role', user: 'User', group: 'Group' }

function validationError(member: string, value: string, constraint: string): AwsError {
  return new AwsError('ValidationError', 400, `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${constraint}`)
}

/** Marker/MaxItems pagination (MaxItems 1–1000, default 100) with opaque markers. */
function paginate<T>(items: T[], params: QueryParams): { page: T[]; truncation: string } {
  const maxItemsParam = params.get('MaxItems')
  const maxItems = maxItemsParam === undefined ? 100 : Number(maxItemsParam)
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 1000) {
    throw validationError('maxItems', maxItemsParam ?? '', 'Member must have value between 1 and 1000')
  }
  const markerParam = params.get('Marker')
  const start = markerParam === undefined ? 0 : decodeMarker(markerParam)
  if (start === undefined) throw new AwsError('InvalidInput', 400, 'Invalid Marker.')
  const page = items.slice(start, start + maxItems)
  const next = start + maxItems
  const truncation = next < items.length ? text('IsTruncated', true) + text('Marker', encodeMarker(next)) : text('IsTruncated', false)
  return { page, truncation }
}

function trustPolicy(account: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }],
  })
}

export function createIamService(world: AwsWorld, realism: Realism): AwsService {
  const createDate = iamTimestamp(world.createdAt)

  const entities = (context: QueryContext, kind: IamKind) => world.account(context.caller.account).iam[kind]

  function nameParam(params: QueryParams, kind: IamKind): string {
    const paramName = `${KIND_TITLE[kind]}Name`
    const name = required(params, paramName)
    if (!NAME_PATTERN.test(name)) throw validationError(`${kind}Name`, name, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+')
    return name
  }

  function findEntity(context: QueryContext, kind: IamKind, name: string): IamEntity {
    const entity = entities(context, kind).get(name.toLowerCase())
    if (!entity) throw new AwsError('NoSuchEntity', 404, `The ${kind} with name ${name} cannot be found.`)
    return entity
  }

  function sorted(context: QueryContext, kind: IamKind, params: QueryParams): IamEntity[] {
    const prefix = params.get('PathPrefix') ?? '/'
    return [...entities(context, kind).values()]
      .filter((entity) => entity.path.startsWith(prefix))
      .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()))
  }

  /** The members every listing and Get* shares; Get* adds Tags, which the List* calls omit (compare https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html with API_ListRoles.html). */
  function entityXml(entity: IamEntity, account: string, withTags: boolean): string {
    let xml = text('Path', entity.path) + text(`${KIND_TITLE[entity.kind]}Name`, entity.name) + text(`${KIND_TITLE[entity.kind]}Id`, entity.id)
    xml += text('Arn', entity.arn) + text('CreateDate', createDate)
    if (entity.kind === 'role') xml += text('AssumeRolePolicyDocument', rfc3986(trustPolicy(account))) + text('MaxSessionDuration', 3600)
    if (withTags && entity.kind !== 'group' && Object.keys(entity.tags).length > 0) xml += tagMembers(entity.tags)
    if (withTags && entity.kind === 'role') xml += '<RoleLastUsed/>'
    return xml
  }

  function listEntities(kind: IamKind, wrapper: string): QueryAction {
    return (context) => {
      const { page, truncation } = paginate(sorted(context, kind, context.params), context.params)
      return truncation + members(wrapper, page.map((entity) => entityXml(entity, context.caller.account, false)))
    }
  }

  function getEntity(kind: IamKind): QueryAction {
    return (context) => {
      const entity = findEntity(context, kind, nameParam(context.params, kind))
      return element(KIND_TITLE[kind], entityXml(entity, context.caller.account, true))
    }
  }

  function listTags(kind: IamKind): QueryAction {
    return (context) => {
      const entity = findEntity(context, kind, nameParam(context.params, kind))
      return text('IsTruncated', false) + tagMembers(entity.tags)
    }
  }

  function policyNotFound(kind: IamKind, policyName: string): AwsError {
    return new AwsError('NoSuchEntity', 404, `The ${kind} policy with name ${policyName} cannot be found.`)
  }

  function putPolicy(kind: IamKind): QueryAction {
    return (context) => {
      const entity = findEntity(context, kind, nameParam(context.params, kind))
      const policyName = required(context.params, 'PolicyName')
      if (!NAME_PATTERN.test(policyName)) throw validationError('policyName', policyName, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+')
      const document = required(context.params, 'PolicyDocument')
      validatePolicyDocument(document)
      const quota = INLINE_POLICY_QUOTA[kind]
      if (entity.policies.sizeWith(policyName, document) > quota) {
        throw new AwsError('LimitExceeded', 409, `Maximum policy size of ${quota} bytes exceeded for ${kind} ${entity.name}`)
      }
      entity.policies.set(policyName, document, Date.now())
      return undefined
    }
  }

  function getPolicy(kind: IamKind): QueryAction {
    return (context) => {
      const entity = findEntity(context, kind, nameParam(context.params, kind))
      const policyName = required(context.params, 'PolicyName')
      const document = entity.policies.get(policyName)
      if (document === undefined) throw policyNotFound(kind, policyName)
      return text(`${KIND_TITLE[kind]}Name`, entity.name) + text('PolicyName', policyName) + text('PolicyDocument', rfc3986(document))
    }
  }

  function deletePolicy(kind: IamKind): QueryAction {
    return (context) => {
      const entity = findEntity(context, kind, nameParam(context.params, kind))
      const policyName = required(context.params, 'PolicyName')
      if (!entity.policies.delete(policyName, Date.now())) throw policyNotFound(kind, policyName)
      return undefined
    }
  }

  function listPolicies(kind: IamKind): QueryAction {
    return (context) => {
      const entity = findEntity(context, kind, nameParam(context.params, kind))
      const { page, truncation } = paginate(entity.policies.names(), context.params)
      return truncation + members('PolicyNames', page.map(escapeXml))
    }
  }

  const simulatePrincipalPolicy: QueryAction = (context) => {
    const sourceArn = required(context.params, 'PolicySourceArn')
    const parsed = /^arn:aws:iam::(\d{12}):(role|user|group)(\/(?:.*\/)?)([^/]+)$/.exec(sourceArn)
    if (!parsed) throw new AwsError('InvalidInput', 400, `Invalid ARN ${sourceArn} for PolicySourceArn: expected the ARN of a role, user or group.`)
    const [, account, kind, path, name] = parsed as unknown as [string, string, IamKind, string, string]
    const entity = world.existingAccount(account)?.iam[kind].get(name.toLowerCase())
    if (!entity || entity.path !== path) throw new AwsError('NoSuchEntity', 404, `The ${kind} with name ${name} cannot be found.`)
    const actions = memberList(context.params, 'ActionNames')
    if (actions.length === 0) throw validationError('actionNames', 'null', 'Member must not be null')
    const resources = memberList(context.params, 'ResourceArns')
    const visible = entity.policies.visibleAt(Date.now() - realism.profile.iamPropagationMs)
    const results = actions.flatMap((action) => (resources.length > 0 ? resources : ['*']).map((resource) => evaluate(visible, action, resource)))
    return (
      text('IsTruncated', false) +
      members(
        'EvaluationResults',
        results.map(
          (result) =>
            text('EvalActionName', result.action) +
            text('EvalResourceName', result.resource) +
            text('EvalDecision', result.decision) +
            members('MatchedStatements', result.matchedPolicies.map((policy) => text('SourcePolicyId', policy) + text('SourcePolicyType', 'IAM Policy'))) +
            members('MissingContextValues', result.missingContextValues.map(escapeXml)),
        ),
      )
    )
  }

  const DETAIL_KINDS: Record<string, IamKind> = { Role: 'role', User: 'user', Group: 'group' }

  /**
   * GetAccountAuthorizationDetails: every role, user and group (or those the Filter names) with path, tags and
   * inline policies (documents URL-encoded, as GetRolePolicy returns them), users first, then groups, then roles,
   * each by name; one MaxItems/Marker pagination over them all. Managed policies are not emulated: the list is empty.
   */
  const getAccountAuthorizationDetails: QueryAction = (context) => {
    const filter = memberList(context.params, 'Filter')
    for (const value of filter) {
      if (!(value in DETAIL_KINDS) && value !== 'LocalManagedPolicy' && value !== 'AWSManagedPolicy') {
        throw validationError('filter', value, 'Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]')
      }
    }
    const kinds = (['user', 'group', 'role'] as const).filter((kind) => filter.length === 0 || filter.includes(KIND_TITLE[kind]))
    const all = kinds.flatMap((kind) => [...entities(context, kind).values()].sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase())))
    const { page, truncation } = paginate(all, context.params)
    const detail = (entity: IamEntity) => {
      const title = KIND_TITLE[entity.kind]
      const policies = members(
        `${title}PolicyList`,
        entity.policies.names().map((name) => text('PolicyName', name) + text('PolicyDocument', rfc3986(entity.policies.get(name)!))),
      )
      let xml = entityXml(entity, context.caller.account, false) + policies + members('AttachedManagedPolicies', [])
      if (entity.kind === 'user') xml += members('GroupList', [])
      if (entity.kind === 'role') xml += members('InstanceProfileList', []) + '<RoleLastUsed/>'
      if (entity.kind !== 'group') xml += tagMembers(entity.tags)
      return xml
    }
    const list = (kind: IamKind) => members(`${KIND_TITLE[kind]}DetailList`, page.filter((entity) => entity.kind === kind).map(detail))
    return list('user') + list('group') + list('role') + members('Policies', []) + truncation
  }

  const actions: Record<string, QueryAction> = {
    GetAccountAuthorizationDetails: getAccountAuthorizationDetails,
    ListRoles: listEntities('role', 'Roles'),
    GetRole: getEntity('role'),
    ListRoleTags: listTags('role'),
    ListUsers: listEntities('user', 'Users'),
    GetUser: (context) => {
      if (context.params.get('UserName') === undefined) {
        const own = /^arn:aws:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(context.caller.arn)
        if (!own) throw new AwsError('ValidationError', 400, 'Must specify userName when calling with non-User credentials')
        return element('User', entityXml(findEntity(context, 'user', own[1]!), context.caller.account, true))
      }
      return getEntity('user')(context)
    },
    ListUserTags: listTags('user'),
    ListGroups: listEntities('group', 'Groups'),
    GetGroup: (context) => {
      const entity = findEntity(context, 'group', nameParam(context.params, 'group'))
      // The seed has no group memberships, so every group lists no users.
      return element('Group', entityXml(entity, context.caller.account, false)) + members('Users', []) + text('IsTruncated', false)
    },
    SimulatePrincipalPolicy: simulatePrincipalPolicy,
  }
  for (const kind of ['role', 'user', 'group'] as const) {
    actions[`Put${KIND_TITLE[kind]}Policy`] = putPolicy(kind)
    actions[`Get${KIND_TITLE[kind]}Policy`] = getPolicy(kind)
    actions[`Delete${KIND_TITLE[kind]}Policy`] = deletePolicy(kind)
    actions[`List${KIND_TITLE[kind]}Policies`] = listPolicies(kind)
  }

  return createQueryService({
    api: 'iam',
    version: '2010-05-08',
    xmlns: IAM_XMLNS,
    actions,
    limit: (caller) => realism.limit(`iam:${caller.account}`, realism.profile.iamRatePerSecond),
    faultError: (decision) =>
      decision.kind === 'throttle'
        ? new AwsError('Throttling', 400, 'Rate exceeded')
        : new AwsError('ServiceFailure', 500, 'The request processing has failed because of an unknown error, exception or failure.'),
  })
}
