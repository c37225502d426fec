/**
 * Every Lambda and Resource Groups Tagging API request the Lambda primitive makes, each paced in its bucket and
 * each aborted with the operation's signal. Lambda's quotas: GetFunction has its own 100 requests/s bucket; every
 * other control-plane call (PutFunctionConcurrency, DeleteFunctionConcurrency, GetFunctionConcurrency, ...) shares
 * 15 requests/s, per account and Region.
 */
import { PrimitiveError, type PrimitiveContext, type RateBucket } from '../../core/primitive.js'
import type { AwsClients } from './clients.js'
import { isAwsError, rethrowAwsError } from './errors.js'

/** Where one function lives; also the target's locator. */
export interface FunctionLocation {
  account: string
  region: string
  name: string
}

export function lambdaGetBucket(account: string, region: string): RateBucket {
  return { key: `lambda-get:${account}:${region}`, ratePerSecond: 100 }
}

export function lambdaControlBucket(account: string, region: string): RateBucket {
  return { key: `lambda-control:${account}:${region}`, ratePerSecond: 15 }
}

/** AWS publishes no GetResources rate; 10/s is this tool's assumption (one page holds up to 100 functions). */
export function taggingBucket(account: string, region: string): RateBucket {
  return { key: `tagging:${account}:${region}`, ratePerSecond: 10 }
}

export function functionNotFound({ account, region, name }: FunctionLocation): PrimitiveError {
  return new PrimitiveError(
    `Lambda function ${name} was not found in account ${account}, region ${region}.`,
    'Check the function name, accounts and regions in the runbook, or whether the function was deleted; `killswitch plan` shows what each step resolves to.',
    'FunctionNotFound',
  )
}

async function send<T>(location: FunctionLocation, doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (isAwsError(error, 'ResourceNotFoundException')) throw functionNotFound(location)
    rethrowAwsError(error, `${doing} Lambda function ${location.name} (${location.account}/${location.region})`)
  }
}

/** The function's reserved concurrency from GetFunction; `null` when unreserved (the response has no `Concurrency`). */
export async function getReservedConcurrency(clients: AwsClients, location: FunctionLocation, ctx: PrimitiveContext): Promise<number | null> {
  return (await getFunction(clients, location, ctx)).reserved
}

/** GetFunction: the reserved concurrency (`null` when unreserved) and the function's tags, in one request. */
async function getFunction(clients: AwsClients, location: FunctionLocation, ctx: PrimitiveContext): Promise<{ reserved: number | null; tags: Record<string, string> }> {
  const { account, region, name } = location
  const [client, { GetFunctionCommand }] = await Promise.all([clients.lambda(account, region), import('@aws-sdk/client-lambda')])
  await ctx.pace(lambdaGetBucket(account, region))
  const out = await send(location, 'reading', () => client.send(new GetFunctionCommand({ FunctionName: name }), { abortSignal: ctx.signal }))
  return { reserved: out.Concurrency?.ReservedConcurrentExecutions ?? null, tags: out.Tags ?? {} }
}

/** GetFunctionConcurrency: the authoritative per-function read, in the scarcer 15 requests/s bucket. */
export async function getFunctionConcurrency(clients: AwsClients, location: FunctionLocation, ctx: PrimitiveContext): Promise<number | null> {
  const { account, region, name } = location
  const [client, { GetFunctionConcurrencyCommand }] = await Promise.all([clients.lambda(account, region), import('@aws-sdk/client-lambda')])
  await ctx.pace(lambdaControlBucket(account, region))
  const out = await send(location, 'reading', () =>
    client.send(new GetFunctionConcurrencyCommand({ FunctionName: name }), { abortSignal: ctx.signal }),
  )
  return out.ReservedConcurrentExecutions ?? null
}

export async function putFunctionConcurrency(
  clients: AwsClients,
  location: FunctionLocation,
  reserved: number,
  ctx: PrimitiveContext,
): Promise<void> {
  const { account, region, name } = location
  const [client, { PutFunctionConcurrencyCommand }] = await Promise.all([clients.lambda(account, region), import('@aws-sdk/client-lambda')])
  await ctx.pace(lambdaControlBucket(account, region))
  await send(location, 'setting reserved concurrency of', () =>
    client.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: reserved }), {
      abortSignal: ctx.signal,
    }),
  )
}

export async function deleteFunctionConcurrency(clients: AwsClients, location: FunctionLocation, ctx: PrimitiveContext): Promise<void> {
  const { account, region, name } = location
  const [client, { DeleteFunctionConcurrencyCommand }] = await Promise.all([clients.lambda(account, region), import('@aws-sdk/client-lambda')])
  await ctx.pace(lambdaControlBucket(account, region))
  await send(location, 'removing reserved concurrency of', () =>
    client.send(new DeleteFunctionConcurrencyCommand({ FunctionName: name }), { abortSignal: ctx.signal }),
  )
}

/** Whether the function exists (GetFunction), for resolving bare names; other errors propagate. */
/** The function's tags, or `null` when it does not exist there. */
export async function functionTags(clients: AwsClients, location: FunctionLocation, ctx: PrimitiveContext): Promise<Record<string, string> | null> {
  try {
    return (await getFunction(clients, location, ctx)).tags
  } catch (error) {
    if (error instanceof PrimitiveError && error.code === 'FunctionNotFound') return null
    throw error
  }
}

/** The functions carrying every one of `tags` in one account and region, with all their tags (GetResources, all pages). */
export async function findTaggedFunctions(
  clients: AwsClients,
  account: string,
  region: string,
  tags: Record<string, string>,
  ctx: PrimitiveContext,
): Promise<{ arn: string; tags: Record<string, string> }[]> {
  const [client, { GetResourcesCommand }] = await Promise.all([
    clients.tagging(account, region),
    import('@aws-sdk/client-resource-groups-tagging-api'),
  ])
  const arns: { arn: string; tags: Record<string, string> }[] = []
  let paginationToken: string | undefined
  do {
    await ctx.pace(taggingBucket(account, region))
    const command = new GetResourcesCommand({
      ResourceTypeFilters: ['lambda:function'],
      // Separate filters are ANDed by the API: every tag must match.
      TagFilters: Object.entries(tags).map(([Key, value]) => ({ Key, Values: [value] })),
      ...(paginationToken ? { PaginationToken: paginationToken } : {}),
    })
    const out = await client
      .send(command, { abortSignal: ctx.signal })
      .catch((error: unknown) => rethrowAwsError(error, `listing tagged Lambda functions in ${account}/${region}`))
    for (const mapping of out.ResourceTagMappingList ?? []) {
      if (mapping.ResourceARN) arns.push({ arn: mapping.ResourceARN, tags: Object.fromEntries((mapping.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])) })
    }
    paginationToken = out.PaginationToken || undefined
  } while (paginationToken)
  return arns
}
