/**
 * Every IAM request the deny-all primitive makes, for roles, users and groups alike, each paced in the account's
 * IAM bucket and aborted with the operation's signal. AWS publishes no IAM request rate (throttling answers
 * `Throttling: Rate exceeded`); 20 requests/s per account is the figure this tool assumes.
 */
import type { IAMClient } from '@aws-sdk/client-iam'
import { PrimitiveError, type PrimitiveContext, type RateBucket } from '../../core/primitive.js'
import type { AwsClients } from './clients.js'
import { isAwsError, rethrowAwsError } from './errors.js'

export type IamEntityType = 'role' | 'user' | 'group'

export interface IamEntity {
  account: string
  type: IamEntityType
  name: string
}

type IamSdk = typeof import('@aws-sdk/client-iam')
type SendOptions = { abortSignal: AbortSignal }

export function iamBucket(account: string): RateBucket {
  return { key: `iam:${account}`, ratePerSecond: 20 }
}

/** IAM's aggregate size quota for all inline policies of one entity, in characters, whitespace not counted. */
export const INLINE_POLICY_QUOTA: Record<IamEntityType, number> = { role: 10_240, user: 2_048, group: 5_120 }

export function describeEntity({ account, type, name }: IamEntity): string {
  return `IAM ${type} ${name} in account ${account}`
}

export function entityNotFound(entity: IamEntity): PrimitiveError {
  return new PrimitiveError(
    `${describeEntity(entity)} does not exist.`,
    `Check the ${entity.type} name and the step's accounts in the runbook, or whether the ${entity.type} was deleted.`,
    'IamEntityNotFound',
  )
}

function policySizeLimit(entity: IamEntity, policyName: string): PrimitiveError {
  return new PrimitiveError(
    `IAM refused inline policy ${policyName} on ${describeEntity(entity)}: the ${entity.type}'s inline policies together would exceed IAM's limit of ${INLINE_POLICY_QUOTA[entity.type]} characters (whitespace not counted). The ${entity.type} is NOT denied.`,
    `Make room on ${entity.type} ${entity.name}: delete or shrink one of its inline policies, or move one into a managed policy, then halt again. The deny-all policy itself needs about 100 characters.`,
    'IamPolicySizeLimit',
  )
}

/** Paces, sends, and turns AccessDenied into an actionable error; every other error reaches the caller as is. */
async function request<T>(
  clients: AwsClients,
  account: string,
  ctx: PrimitiveContext,
  doing: string,
  run: (client: IAMClient, sdk: IamSdk, options: SendOptions) => Promise<T>,
): Promise<T> {
  const [client, sdk] = await Promise.all([clients.iam(account), import('@aws-sdk/client-iam')])
  await ctx.pace(iamBucket(account))
  try {
    return await run(client, sdk, { abortSignal: ctx.signal })
  } catch (error) {
    rethrowAwsError(error, doing)
  }
}

/** Whether the role, user or group exists (Get{Role,User,Group}). */
export async function entityExists(clients: AwsClients, entity: IamEntity, ctx: PrimitiveContext): Promise<boolean> {
  const { type, name } = entity
  try {
    await request(clients, entity.account, ctx, `reading ${describeEntity(entity)}`, async (client, sdk, options) => {
      switch (type) {
        case 'role':
          await client.send(new sdk.GetRoleCommand({ RoleName: name }), options)
          return
        case 'user':
          await client.send(new sdk.GetUserCommand({ UserName: name }), options)
          return
        case 'group':
          await client.send(new sdk.GetGroupCommand({ GroupName: name, MaxItems: 1 }), options)
          return
      }
    })
    return true
  } catch (error) {
    if (isAwsError(error, 'NoSuchEntityException')) return false
    throw error
  }
}

/**
 * The entity's inline policy `policyName`, URL-decoded (IAM returns documents URL-encoded and the JS SDK does not
 * decode them), or null when there is none by that name (or the entity is gone). One request: for read-backs,
 * which expect the entity to exist.
 */
export async function getInlinePolicy(
  clients: AwsClients,
  entity: IamEntity,
  policyName: string,
  ctx: PrimitiveContext,
): Promise<string | null> {
  const { type, name } = entity
  try {
    const document = await request(clients, entity.account, ctx, `reading policy ${policyName} of ${describeEntity(entity)}`, async (client, sdk, options) => {
      switch (type) {
        case 'role':
          return (await client.send(new sdk.GetRolePolicyCommand({ RoleName: name, PolicyName: policyName }), options)).PolicyDocument
        case 'user':
          return (await client.send(new sdk.GetUserPolicyCommand({ UserName: name, PolicyName: policyName }), options)).PolicyDocument
        case 'group':
          return (await client.send(new sdk.GetGroupPolicyCommand({ GroupName: name, PolicyName: policyName }), options)).PolicyDocument
      }
    })
    return document === undefined ? null : decodeURIComponent(document)
  } catch (error) {
    if (isAwsError(error, 'NoSuchEntityException')) return null
    throw error
  }
}

/**
 * The snapshot read: the entity's inline policy `policyName` or null when it has none, and an error when the
 * entity itself does not exist. Listing the entity's inline policy names tells both apart in one request in the
 * usual case (no policy under the tool's name); the document is fetched only when there is one.
 */
export async function readInlinePolicy(
  clients: AwsClients,
  entity: IamEntity,
  policyName: string,
  ctx: PrimitiveContext,
): Promise<string | null> {
  const { type, name } = entity
  let names: string[]
  try {
    names = await request(clients, entity.account, ctx, `listing the inline policies of ${describeEntity(entity)}`, async (client, sdk, options) => {
      const all: string[] = []
      let Marker: string | undefined
      do {
        const page = { MaxItems: 1000, ...(Marker ? { Marker } : {}) }
        const out =
          type === 'role'
            ? await client.send(new sdk.ListRolePoliciesCommand({ RoleName: name, ...page }), options)
            : type === 'user'
              ? await client.send(new sdk.ListUserPoliciesCommand({ UserName: name, ...page }), options)
              : await client.send(new sdk.ListGroupPoliciesCommand({ GroupName: name, ...page }), options)
        all.push(...(out.PolicyNames ?? []))
        Marker = out.IsTruncated ? out.Marker : undefined
      } while (Marker)
      return all
    })
  } catch (error) {
    if (isAwsError(error, 'NoSuchEntityException')) throw entityNotFound(entity)
    throw error
  }
  return names.includes(policyName) ? getInlinePolicy(clients, entity, policyName, ctx) : null
}

export async function putInlinePolicy(
  clients: AwsClients,
  entity: IamEntity,
  policyName: string,
  document: string,
  ctx: PrimitiveContext,
): Promise<void> {
  const { type, name } = entity
  try {
    await request(clients, entity.account, ctx, `putting policy ${policyName} on ${describeEntity(entity)}`, async (client, sdk, options) => {
      switch (type) {
        case 'role':
          await client.send(new sdk.PutRolePolicyCommand({ RoleName: name, PolicyName: policyName, PolicyDocument: document }), options)
          return
        case 'user':
          await client.send(new sdk.PutUserPolicyCommand({ UserName: name, PolicyName: policyName, PolicyDocument: document }), options)
          return
        case 'group':
          await client.send(new sdk.PutGroupPolicyCommand({ GroupName: name, PolicyName: policyName, PolicyDocument: document }), options)
          return
      }
    })
  } catch (error) {
    if (isAwsError(error, 'LimitExceededException')) throw policySizeLimit(entity, policyName)
    if (isAwsError(error, 'NoSuchEntityException')) throw entityNotFound(entity)
    throw error
  }
}

/** Deletes the inline policy `policyName`; already absent counts as done. A missing entity is an error. */
export async function deleteInlinePolicy(clients: AwsClients, entity: IamEntity, policyName: string, ctx: PrimitiveContext): Promise<void> {
  const { type, name } = entity
  try {
    await request(clients, entity.account, ctx, `deleting policy ${policyName} from ${describeEntity(entity)}`, async (client, sdk, options) => {
      switch (type) {
        case 'role':
          await client.send(new sdk.DeleteRolePolicyCommand({ RoleName: name, PolicyName: policyName }), options)
          return
        case 'user':
          await client.send(new sdk.DeleteUserPolicyCommand({ UserName: name, PolicyName: policyName }), options)
          return
        case 'group':
          await client.send(new sdk.DeleteGroupPolicyCommand({ GroupName: name, PolicyName: policyName }), options)
          return
      }
    })
  } catch (error) {
    if (!isAwsError(error, 'NoSuchEntityException')) throw error
    if (!(await entityExists(clients, entity, ctx))) throw entityNotFound(entity)
  }
}

/** Names of every entity of `type` under `pathPrefix` (List{Roles,Users,Groups}, all pages). */
export async function listEntityNames(
  clients: AwsClients,
  account: string,
  type: IamEntityType,
  pathPrefix: string,
  ctx: PrimitiveContext,
): Promise<string[]> {
  const names: string[] = []
  let marker: string | undefined
  do {
    const page = { PathPrefix: pathPrefix, ...(marker ? { Marker: marker } : {}) }
    const out = await request(clients, account, ctx, `listing IAM ${type}s in account ${account}`, async (client, sdk, options) => {
      switch (type) {
        case 'role': {
          const { Roles = [], IsTruncated, Marker } = await client.send(new sdk.ListRolesCommand(page), options)
          return { names: Roles.map((role) => role.RoleName), IsTruncated, Marker }
        }
        case 'user': {
          const { Users = [], IsTruncated, Marker } = await client.send(new sdk.ListUsersCommand(page), options)
          return { names: Users.map((user) => user.UserName), IsTruncated, Marker }
        }
        case 'group': {
          const { Groups = [], IsTruncated, Marker } = await client.send(new sdk.ListGroupsCommand(page), options)
          return { names: Groups.map((group) => group.GroupName), IsTruncated, Marker }
        }
      }
    })
    names.push(...out.names.filter((name) => name !== undefined))
    marker = out.IsTruncated ? out.Marker : undefined
  } while (marker)
  return names
}

/** A role's or user's tags (List{Role,User}Tags, all pages). IAM groups cannot carry tags. */
export async function listEntityTags(
  clients: AwsClients,
  entity: IamEntity & { type: 'role' | 'user' },
  ctx: PrimitiveContext,
): Promise<Record<string, string>> {
  const { type, name } = entity
  const tags: Record<string, string> = {}
  let marker: string | undefined
  do {
    const page = marker ? { Marker: marker } : {}
    const out = await request(clients, entity.account, ctx, `listing tags of ${describeEntity(entity)}`, (client, sdk, options) =>
      type === 'role'
        ? client.send(new sdk.ListRoleTagsCommand({ RoleName: name, ...page }), options)
        : client.send(new sdk.ListUserTagsCommand({ UserName: name, ...page }), options),
    )
    for (const { Key, Value } of out.Tags ?? []) {
      if (Key !== undefined) tags[Key] = Value ?? ''
    }
    marker = out.IsTruncated ? out.Marker : undefined
  } while (marker)
  return tags
}

/** One entity as GetAccountAuthorizationDetails describes it: where it is, its tags, and its inline policies. */
export interface EntityDetails {
  name: string
  path: string
  tags: Record<string, string>
  /** Inline policy name → document (URL-decoded). */
  policies: Map<string, string>
}

export interface AccountDetails {
  /** Keyed by lower-cased name: IAM names are unique without regard to case. */
  entities: Map<string, EntityDetails>
  /** Requests the listing took: what reading the account this way costs again. */
  pages: number
}

/** The most entities one GetAccountAuthorizationDetails page returns. */
export const DETAILS_PAGE_SIZE = 1000

const DETAILS_FILTER = { role: 'Role', user: 'User', group: 'Group' } as const

/**
 * Every entity of `type` in the account with its path, tags and inline policy documents, from
 * GetAccountAuthorizationDetails (all pages, 1,000 entities a page at most). IAM caps an account at 5,000 roles,
 * 5,000 users and 300 groups, so this is at most five requests where listing, tags and policies entity by entity
 * cost one or more each.
 */
export async function listAccountDetails(clients: AwsClients, account: string, type: IamEntityType, ctx: PrimitiveContext): Promise<AccountDetails> {
  const entities = new Map<string, EntityDetails>()
  let marker: string | undefined
  let pages = 0
  do {
    const out = await request(clients, account, ctx, `reading the IAM ${type}s of account ${account} (GetAccountAuthorizationDetails)`, (client, sdk, options) =>
      client.send(new sdk.GetAccountAuthorizationDetailsCommand({ Filter: [DETAILS_FILTER[type]], MaxItems: DETAILS_PAGE_SIZE, ...(marker ? { Marker: marker } : {}) }), options),
    )
    pages++
    const listed =
      type === 'role'
        ? (out.RoleDetailList ?? []).map((d) => ({ name: d.RoleName, path: d.Path, tags: d.Tags, policies: d.RolePolicyList }))
        : type === 'user'
          ? (out.UserDetailList ?? []).map((d) => ({ name: d.UserName, path: d.Path, tags: d.Tags, policies: d.UserPolicyList }))
          : (out.GroupDetailList ?? []).map((d) => ({ name: d.GroupName, path: d.Path, tags: [], policies: d.GroupPolicyList }))
    for (const detail of listed) {
      if (detail.name === undefined) continue
      const tags: Record<string, string> = {}
      for (const { Key, Value } of detail.tags ?? []) if (Key !== undefined) tags[Key] = Value ?? ''
      const policies = new Map<string, string>()
      for (const { PolicyName, PolicyDocument } of detail.policies ?? []) {
        if (PolicyName !== undefined && PolicyDocument !== undefined) policies.set(PolicyName, decodeURIComponent(PolicyDocument))
      }
      entities.set(detail.name.toLowerCase(), { name: detail.name, path: detail.path ?? '/', tags, policies })
    }
    marker = out.IsTruncated ? out.Marker : undefined
  } while (marker)
  return { entities, pages }
}
