/**
 * Turns a `denyAll` step's roles/users/groups selectors into targets, in each of the selector's `accounts`
 * (default: the break-glass account). Within one selector:
 * - `names` are taken as given; each must exist in at least one of the accounts.
 * - `pathPrefix` and `tags` filter the entity list together (an entity must be under the prefix AND carry every
 *   tag) and must match at least one entity. The list comes from GetAccountAuthorizationDetails, which returns
 *   each entity's path, tags and inline policies, up to 1,000 entities a request: the targets carry their
 *   snapshot from it, so a halt reads nothing more before it puts the policy. Where the break-glass principal may
 *   not call it, List{Roles,Users,Groups} and one List*Tags request per listed entity (for tags) do instead.
 * Names and filter matches add up; an entity selected twice is one target.
 */
import { PrimitiveError, type PrimitiveContext, type Target } from '../../core/primitive.js'
import type { DenyAllSpec } from '../../core/runbook/schema.js'
import type { AwsClients } from './clients.js'
import { describeEntity, entityExists, listAccountDetails, listEntityNames, listEntityTags, type IamEntity, type IamEntityType } from './iam-api.js'
import type { PolicyReader } from './iam-reader.js'

type IamSelector = NonNullable<DenyAllSpec['roles']>

/** An entity found by a selector; `policy` is set when the listing also returned its inline policies. */
type Found = IamEntity & { policy?: string | null }

export function entityTarget(entity: Found, policyName: string): Target {
  const { account, type, name } = entity
  return {
    id: `iam:${account}:${type}/${name}`,
    kind: 'denyAll',
    label: `${type}/${name}`,
    locator: { account, type, name, policyName },
    ...(entity.policy !== undefined ? { observed: { policy: entity.policy } } : {}),
  }
}

/** The entity and the tool's policy name stored in a target (possibly read back from the journal). */
export function entityOf(target: Target): { entity: IamEntity; policyName: string } {
  const { account, type, name, policyName } = target.locator
  if (
    typeof account !== 'string' ||
    (type !== 'role' && type !== 'user' && type !== 'group') ||
    typeof name !== 'string' ||
    typeof policyName !== 'string'
  ) {
    throw new Error(`target ${target.id} has no IAM locator {account, type, name, policyName}`)
  }
  return { entity: { account, type, name }, policyName }
}

function describeFilter(selector: IamSelector): string {
  const parts = []
  if (selector.pathPrefix) parts.push(`path prefix ${selector.pathPrefix}`)
  if (selector.tags) {
    parts.push(`tags ${Object.entries(selector.tags).map(([key, value]) => `${key}=${value}`).join(', ')}`)
  }
  return parts.join(' and ')
}

async function resolveName(type: IamEntityType, name: string, accounts: string[], clients: AwsClients, ctx: PrimitiveContext) {
  const entities = accounts.map((account) => ({ account, type, name }))
  const exists = await Promise.all(entities.map((entity) => entityExists(clients, entity, ctx)))
  const found = entities.filter((_, index) => exists[index])
  if (found.length === 0) {
    throw new PrimitiveError(
      `IAM ${type} ${name} does not exist in account${accounts.length > 1 ? 's' : ''} ${accounts.join(', ')}.`,
      `Check the ${type} name and the step's accounts in the runbook, or whether the ${type} was deleted.`,
      'IamEntityNotFound',
    )
  }
  for (const missing of entities.filter((_, index) => !exists[index])) {
    ctx.warn(`${describeEntity(missing)} does not exist; it is denied where it exists.`)
  }
  return found
}

function carriesAll(actual: Record<string, string>, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([key, value]) => actual[key] === value)
}

/** Entities of `type` under the prefix and carrying every wanted tag, entity by entity (List*, List*Tags). */
async function listFiltered(type: IamEntityType, selector: IamSelector, account: string, clients: AwsClients, ctx: PrimitiveContext): Promise<Found[]> {
  const names = await listEntityNames(clients, account, type, selector.pathPrefix ?? '/', ctx)
  const listed = names.map((name) => ({ account, type, name }))
  const wanted = selector.tags
  if (!wanted) return listed
  // Only roles and users reach here with tags; groups were refused before any request.
  const tags = await Promise.all(listed.map((entity) => listEntityTags(clients, entity as IamEntity & { type: 'role' | 'user' }, ctx)))
  return listed.filter((_, index) => carriesAll(tags[index]!, wanted))
}

async function resolveFilter(
  type: IamEntityType,
  selector: IamSelector,
  accounts: string[],
  policyName: string,
  clients: AwsClients,
  reader: PolicyReader,
  ctx: PrimitiveContext,
): Promise<Found[]> {
  const perAccount = await Promise.all(
    accounts.map(async (account): Promise<Found[]> => {
      if (reader.isDenied(account)) return listFiltered(type, selector, account, clients, ctx)
      let details
      try {
        details = await listAccountDetails(clients, account, type, ctx)
      } catch (error) {
        if ((error as { code?: string }).code !== 'AccessDenied') throw error
        reader.noteDenied(account, ctx.warn)
        return listFiltered(type, selector, account, clients, ctx)
      }
      reader.noteListing(account, type, details.pages)
      const prefix = selector.pathPrefix ?? '/'
      const wanted = selector.tags ?? {}
      return [...details.entities.values()]
        .filter((entity) => entity.path.startsWith(prefix) && carriesAll(entity.tags, wanted))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((entity) => ({ account, type, name: entity.name, policy: entity.policies.get(policyName) ?? null }))
    }),
  )
  const matched = perAccount.flat()
  if (matched.length === 0) {
    throw new PrimitiveError(
      `No IAM ${type} with ${describeFilter(selector)} exists in account${accounts.length > 1 ? 's' : ''} ${accounts.join(', ')}.`,
      'Path prefixes, tag keys and tag values are case-sensitive; check them and the step\'s accounts in the runbook.',
      'SelectorMatchedNothing',
    )
  }
  return matched
}

async function resolveSelector(
  type: IamEntityType,
  selector: IamSelector,
  policyName: string,
  clients: AwsClients,
  reader: PolicyReader,
  ctx: PrimitiveContext,
): Promise<Found[]> {
  if (type === 'group' && selector.tags) {
    throw new PrimitiveError(
      'denyAll.groups selects by tags, but IAM groups cannot be tagged.',
      'Select groups by names or pathPrefix instead.',
      'IamGroupTagsUnsupported',
    )
  }
  const accounts = selector.accounts ?? [await clients.homeAccount(ctx.signal)]
  for (const account of accounts) await clients.assertReachable(account, ctx.signal)
  const named = await Promise.all((selector.names ?? []).map((name) => resolveName(type, name, accounts, clients, ctx)))
  const filtered = selector.pathPrefix || selector.tags ? await resolveFilter(type, selector, accounts, policyName, clients, reader, ctx) : []
  return [...named.flat(), ...filtered]
}

/**
 * The roles and users killswitch itself acts as: the base credentials' principal and every role it assumes. Denying
 * one of them would lock out the very restore that undoes the halt.
 */
async function ownPrincipals(clients: AwsClients, ctx: PrimitiveContext): Promise<Set<string>> {
  const own = new Set<string>()
  const { arn } = await clients.callerIdentity(ctx.signal)
  for (const principal of [arn, ...clients.assumedRoleArns]) {
    // arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION, arn:aws:iam::ACCOUNT:role/PATH/NAME, arn:aws:iam::ACCOUNT:user/PATH/NAME
    const match = /^arn:aws[a-z-]*:(?:sts|iam)::(\d{12}):(assumed-role|role|user)\/(.+)$/.exec(principal)
    if (!match) continue
    const [, account, kind, rest] = match as unknown as [string, string, string, string]
    const segments = rest.split('/')
    const name = kind === 'assumed-role' ? segments[0] : segments[segments.length - 1]
    own.add(`iam:${account}:${kind === 'user' ? 'user' : 'role'}/${name}`.toLowerCase())
  }
  return own
}

export async function resolveEntities(spec: DenyAllSpec, clients: AwsClients, reader: PolicyReader, ctx: PrimitiveContext): Promise<Target[]> {
  const selectors: [IamEntityType, IamSelector | undefined][] = [
    ['role', spec.roles],
    ['user', spec.users],
    ['group', spec.groups],
  ]
  const targets: Target[] = []
  for (const [type, selector] of selectors) {
    if (!selector) continue
    for (const entity of await resolveSelector(type, selector, spec.policyName, clients, reader, ctx)) targets.push(entityTarget(entity, spec.policyName))
  }
  const own = await ownPrincipals(clients, ctx)
  // IAM names are unique without regard to case, and a runbook's spelling may differ from IAM's.
  const self = targets.find((target) => own.has(target.id.toLowerCase()))
  if (self) {
    throw new PrimitiveError(
      `denyAll selects ${self.label} in account ${self.locator.account}, which killswitch itself acts as: denying it would make the restore impossible.`,
      'Narrow the selector (names, pathPrefix or tags) so it leaves out the break-glass principal and the roles in credentials.aws.accounts.',
      'IamDenySelf',
    )
  }
  // One target per entity whatever the spelling; a listed match (IAM's own spelling, with its snapshot) comes after
  // a named one and replaces it.
  return [...new Map(targets.map((target) => [target.id.toLowerCase(), target])).values()]
}
