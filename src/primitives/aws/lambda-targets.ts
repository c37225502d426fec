/**
 * Turns a `lambdaConcurrencyZero` step's `functions` selector into targets. Names and tags add up: a function named
 * in `names` or carrying every tag in `tags` is a target (once, however many ways it was selected).
 * - A full ARN names its own account and region.
 * - A bare name is looked up in each of `accounts` (default: the break-glass account) × `regions` (default:
 *   `credentials.aws.region`); it must exist in at least one of them.
 * - Tags are searched with the Resource Groups Tagging API in every account × region; they must match something.
 * - A function tagged `killswitch.dev/protect` (any value but "false") is never a target, however it was selected;
 *   a warning names it. A named function found nowhere is a missing target: the halt fails it and goes on.
 */
import { PrimitiveError, type PrimitiveContext, type Target } from '../../core/primitive.js'
import type { LambdaConcurrencyZeroSpec } from '../../core/runbook/schema.js'
import type { AwsClients } from './clients.js'
import { findTaggedFunctions, functionNotFound, functionTags, type FunctionLocation } from './lambda-api.js'

export const PROTECT_TAG = 'killswitch.dev/protect'
const isProtected = (tags: Record<string, string>) => tags[PROTECT_TAG] !== undefined && tags[PROTECT_TAG] !== 'false'

type FunctionSelector = LambdaConcurrencyZeroSpec['functions']

const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]+)(?::([^:]+))?$/

/** The location an ARN names, and its qualifier (version or alias) when it has one. */
export function parseFunctionArn(arn: string): (FunctionLocation & { qualifier?: string }) | undefined {
  const match = FUNCTION_ARN.exec(arn)
  if (!match) return undefined
  const [, region, account, name, qualifier] = match as unknown as [string, string, string, string, string | undefined]
  return qualifier === undefined ? { account, region, name } : { account, region, name, qualifier }
}

export function functionTarget(location: FunctionLocation): Target {
  const { account, region, name } = location
  return {
    id: `lambda:${account}:${region}:${name}`,
    kind: 'lambdaConcurrencyZero',
    label: name,
    locator: { account, region, name },
  }
}

/** The location stored in a target (possibly read back from the journal). */
export function functionLocation(target: Target): FunctionLocation {
  const { account, region, name } = target.locator
  if (typeof account !== 'string' || typeof region !== 'string' || typeof name !== 'string') {
    throw new Error(`target ${target.id} has no Lambda locator {account, region, name}`)
  }
  return { account, region, name }
}

function describePlaces(places: { account: string; region: string }[]): string {
  return places.map(({ account, region }) => `${account}/${region}`).join(', ')
}

async function resolveName(
  name: string,
  places: { account: string; region: string }[],
  clients: AwsClients,
  ctx: PrimitiveContext,
): Promise<Target[]> {
  const arn = parseFunctionArn(name)
  if (arn) {
    if (arn.qualifier !== undefined) {
      throw new PrimitiveError(
        `${name} names a version or alias; reserved concurrency applies to the whole function.`,
        `Name the function without ":${arn.qualifier}".`,
        'InvalidFunctionName',
      )
    }
    await clients.assertReachable(arn.account, ctx.signal)
    const tags = await functionTags(clients, arn, ctx)
    if (tags === null) return [missingFunction(arn, functionNotFound(arn).message)]
    if (isProtected(tags)) {
      ctx.warn(`left out, tagged ${PROTECT_TAG}: Lambda function ${arn.name} (${arn.account}/${arn.region})`)
      return []
    }
    return [functionTarget(arn)]
  }
  if (name.includes(':')) {
    throw new PrimitiveError(
      `${name} is neither a function name nor a full function ARN.`,
      'Give a bare name (looked up in the step\'s accounts and regions) or arn:aws:lambda:REGION:ACCOUNT:function:NAME.',
      'InvalidFunctionName',
    )
  }
  const locations = places.map((place) => ({ ...place, name }))
  const tags = await Promise.all(locations.map((location) => functionTags(clients, location, ctx)))
  const found = locations.filter((_, index) => tags[index] !== null)
  if (found.length === 0) return [missingFunction(locations[0]!, `Lambda function ${name} was not found in ${describePlaces(places)}.`)]
  for (const missing of locations.filter((_, index) => tags[index] === null)) {
    ctx.warn(`Lambda function ${name} does not exist in ${missing.account}/${missing.region}; it is halted where it exists.`)
  }
  const kept = found.filter((location) => {
    if (!isProtected(tags[locations.indexOf(location)]!)) return true
    ctx.warn(`left out, tagged ${PROTECT_TAG}: Lambda function ${name} (${location.account}/${location.region})`)
    return false
  })
  return kept.map(functionTarget)
}

/** A function the step names that is not there: a target of its own that the halt fails, so the others go on. */
function missingFunction(location: FunctionLocation, message: string): Target {
  return {
    ...functionTarget(location),
    missing: { message, hint: "check the function name and the step's accounts and regions, or whether the function was deleted", code: 'FunctionNotFound' },
  }
}

async function resolveTags(
  tags: Record<string, string>,
  places: { account: string; region: string }[],
  clients: AwsClients,
  ctx: PrimitiveContext,
): Promise<Target[]> {
  const perPlace = await Promise.all(places.map(({ account, region }) => findTaggedFunctions(clients, account, region, tags, ctx)))
  const tagged = perPlace.flat()
  const left = tagged.filter((f) => isProtected(f.tags))
  if (left.length > 0) ctx.warn(`left out, tagged ${PROTECT_TAG}: ${left.map((f) => f.arn).join(', ')}`)
  const targets = tagged
    .filter((f) => !isProtected(f.tags))
    .map((f) => parseFunctionArn(f.arn))
    .filter((location) => location !== undefined)
    .map(functionTarget)
  if (targets.length === 0 && left.length > 0) {
    throw new PrimitiveError(
      `every Lambda function carrying those tags in ${describePlaces(places)} is tagged ${PROTECT_TAG}`,
      'remove the tag from what must be halted, or the step from the scope',
      'AllTargetsProtected',
    )
  }
  if (targets.length === 0) {
    const wanted = Object.entries(tags)
      .map(([key, value]) => `${key}=${value}`)
      .join(', ')
    throw new PrimitiveError(
      `No Lambda function carries the tags ${wanted} in ${describePlaces(places)}.`,
      'Tag keys and values are case-sensitive; check them and the step\'s accounts and regions. The break-glass principal needs tag:GetResources.',
      'SelectorMatchedNothing',
    )
  }
  return targets
}

export async function resolveFunctions(selector: FunctionSelector, clients: AwsClients, ctx: PrimitiveContext): Promise<Target[]> {
  const regions = selector.regions ?? [clients.defaultRegion]
  const accounts = selector.accounts ?? [await clients.homeAccount(ctx.signal)]
  for (const account of accounts) await clients.assertReachable(account, ctx.signal)
  const places = accounts.flatMap((account) => regions.map((region) => ({ account, region })))

  const selected = [
    ...(await Promise.all((selector.names ?? []).map((name) => resolveName(name, places, clients, ctx)))).flat(),
    ...(selector.tags ? await resolveTags(selector.tags, places, clients, ctx) : []),
  ]
  return [...new Map(selected.map((target) => [target.id, target])).values()]
}
