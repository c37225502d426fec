/**
 * Lambda (rest-json, per account and region): the calls a concurrency halt and its restore make (Lambda API reference, https://docs.aws.amazon.com/lambda/latest/api/).
 * Errors carry `x-amzn-ErrorType` and a `{"Type", "message"}` body; the control plane is rate-limited per account
 * and region, GetFunction at 100 rps and everything else at 15 rps, answering 429 with `Retry-After` (A.3, I.1).
 */
import { createHash } from 'node:crypto'
import type { CallDecision, Realism } from '../realism.js'
import { AwsError } from './errors.js'
import { decodeMarker, encodeMarker, lambdaTimestamp, requestId } from './ids.js'
import type { AwsCall, AwsService, FaultDecision } from './service.js'
import { lambdaArn, type Account, type AwsWorld, type LambdaFunction } from './world.js'

/** "must keep 100 of the concurrency limit unreserved" (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). */
export const MINIMUM_UNRESERVED = 100
const PAGE_SIZE = 50
const CODE_SIZE = 1024
const FUNCTION_NAME =
  /^(?:arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):)?(?:(\d{12}):)?(?:function:)?([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$/

interface Reply {
  status: number
  body?: unknown
}

interface Route {
  method: string
  pattern: RegExp
  operation: string
  handle(call: AwsCall, pathParameter: string): Reply
}

function send(call: AwsCall, reply: Reply): void {
  const headers: Record<string, string> = { 'x-amzn-requestid': requestId() }
  if (reply.body !== undefined) headers['content-type'] = 'application/json'
  call.res.writeHead(reply.status, headers)
  call.res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body))
}

function sendError(call: AwsCall, error: AwsError): void {
  const headers: Record<string, string> = {
    'x-amzn-requestid': requestId(),
    'x-amzn-errortype': error.code,
    'content-type': 'application/json',
  }
  const body: Record<string, unknown> = { Type: error.senderFault ? 'User' : 'Service' }
  // ResourceNotFoundException and ServiceException model `Message`; the others `message` (the error shapes of the Lambda service model, as @aws-sdk/client-lambda generates them).
  body[error.code === 'ResourceNotFoundException' || error.code === 'ServiceException' ? 'Message' : 'message'] = error.message
  if (error.details.reason !== undefined) body.Reason = error.details.reason
  if (error.details.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.details.retryAfterSeconds)
  call.res.writeHead(error.status, headers)
  call.res.end(JSON.stringify(body))
}

function throttled(retryAfterSeconds: number): AwsError {
  return new AwsError('TooManyRequestsException', 429, 'Rate Exceeded.', { retryAfterSeconds, reason: 'CallerRateLimitExceeded' })
}

function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterValueException', 400, message)
}

/** The SDKs percent-encode path labels (`:` → `%3A`), so names and ARNs arrive encoded (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConcurrency.html). */
function decodePathLabel(label: string): string {
  try {
    return decodeURIComponent(label)
  } catch {
    throw invalidParameter(`The path label ${label} is not validly percent-encoded.`)
  }
}

export function createLambdaService(world: AwsWorld, realism: Realism): AwsService {
  const lastModified = lambdaTimestamp(world.createdAt)

  /** The function a `{FunctionName}` path label names (name, partial or full ARN), in the caller's account and region. */
  function findFunction(call: AwsCall, label: string): LambdaFunction {
    const match = FUNCTION_NAME.exec(label)
    if (!match || label.length > 140) {
      throw new AwsError(
        'ValidationException',
        400,
        `1 validation error detected: Value '${label}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME.source}`,
      )
    }
    const [, region, account, name, qualifier] = match
    const fullArn = lambdaArn(account ?? call.caller.account, region ?? call.region, name!) + (qualifier ? `:${qualifier}` : '')
    const sameAccountAndRegion = (account === undefined || account === call.caller.account) && (region === undefined || region === call.region)
    const fn = sameAccountAndRegion ? world.functionsIn(world.account(call.caller.account), call.region).get(name!) : undefined
    // Only $LATEST exists: the sandbox has no published versions or aliases.
    if (!fn || (qualifier !== undefined && qualifier !== '$LATEST')) throw new AwsError('ResourceNotFoundException', 404, `Function not found: ${fullArn}`)
    return fn
  }

  function configuration(fn: LambdaFunction): Record<string, unknown> {
    return {
      FunctionName: fn.name,
      FunctionArn: fn.arn,
      Runtime: fn.runtime,
      Role: `arn:aws:iam::${fn.account}:role/service-role/${fn.name}-role`,
      Handler: 'index.handler',
      CodeSize: CODE_SIZE,
      Description: '',
      Timeout: fn.timeout,
      MemorySize: fn.memorySize,
      LastModified: lastModified,
      CodeSha256: createHash('sha256').update(fn.arn).digest('base64'),
      Version: '$LATEST',
      TracingConfig: { Mode: 'PassThrough' },
      RevisionId: createHash('sha256').update(`revision:${fn.arn}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5'),
      State: 'Active',
      LastUpdateStatus: 'Successful',
      PackageType: 'Zip',
      Architectures: ['x86_64'],
    }
  }

  function reservedElsewhere(account: Account, region: string, except?: LambdaFunction): number {
    let total = 0
    for (const fn of world.functionsIn(account, region).values()) if (fn !== except) total += fn.reservedConcurrency ?? 0
    return total
  }

  function putFunctionConcurrency(call: AwsCall, label: string): Reply {
    const fn = findFunction(call, label)
    let input: unknown
    try {
      input = JSON.parse(call.req.body.toString('utf8') || '{}')
    } catch {
      throw invalidParameter('The request body is not valid JSON.')
    }
    const value = (input as { ReservedConcurrentExecutions?: unknown }).ReservedConcurrentExecutions
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw invalidParameter(`ReservedConcurrentExecutions must be an integer greater than or equal to 0, got ${JSON.stringify(value ?? null)}.`)
    }
    const account = world.account(call.caller.account)
    if (account.lambdaConcurrencyLimit - reservedElsewhere(account, call.region, fn) - value < MINIMUM_UNRESERVED) {
      throw invalidParameter(
        `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [${MINIMUM_UNRESERVED}].`,
      )
    }
    fn.reservedConcurrency = value
    return { status: 200, body: { ReservedConcurrentExecutions: value } }
  }

  function listFunctions(call: AwsCall): Reply {
    const params = call.req.url.searchParams
    const maxItemsParam = params.get('MaxItems')
    const maxItems = maxItemsParam === null ? PAGE_SIZE : Number(maxItemsParam)
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) throw invalidParameter(`MaxItems must be between 1 and 10000, got ${maxItemsParam}.`)
    const marker = params.get('Marker')
    const start = marker === null ? 0 : decodeMarker(marker)
    if (start === undefined) throw invalidParameter('Invalid Marker.')
    const functions = [...world.functionsIn(world.account(call.caller.account), call.region).values()].sort((a, b) => a.name.localeCompare(b.name))
    const next = start + Math.min(maxItems, PAGE_SIZE)
    const body: Record<string, unknown> = { Functions: functions.slice(start, next).map(configuration) }
    if (next < functions.length) body.NextMarker = encodeMarker(next)
    return { status: 200, body }
  }

  function listTags(call: AwsCall, resource: string): Reply {
    if (!resource.startsWith('arn:')) throw invalidParameter(`Resource must be a function ARN, got ${resource}.`)
    return { status: 200, body: { Tags: { ...findFunction(call, resource).tags } } }
  }

  function getAccountSettings(call: AwsCall): Reply {
    const account = world.account(call.caller.account)
    const functions = world.functionsIn(account, call.region)
    return {
      status: 200,
      body: {
        AccountLimit: {
          TotalCodeSize: 80_530_636_800,
          CodeSizeUnzipped: 262_144_000,
          CodeSizeZipped: 52_428_800,
          ConcurrentExecutions: account.lambdaConcurrencyLimit,
          UnreservedConcurrentExecutions: account.lambdaConcurrencyLimit - reservedElsewhere(account, call.region),
        },
        AccountUsage: { TotalCodeSize: functions.size * CODE_SIZE, FunctionCount: functions.size },
      },
    }
  }

  const routes: Route[] = [
    { method: 'PUT', pattern: /^\/2017-10-31\/functions\/([^/]+)\/concurrency$/, operation: 'PutFunctionConcurrency', handle: putFunctionConcurrency },
    {
      method: 'GET',
      pattern: /^\/2019-09-30\/functions\/([^/]+)\/concurrency$/,
      operation: 'GetFunctionConcurrency',
      // Unreserved: the key is absent (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConcurrency.html), not 0 and not null.
      handle: (call, label) => {
        const fn = findFunction(call, label)
        return { status: 200, body: fn.reservedConcurrency === null ? {} : { ReservedConcurrentExecutions: fn.reservedConcurrency } }
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/2017-10-31\/functions\/([^/]+)\/concurrency$/,
      operation: 'DeleteFunctionConcurrency',
      handle: (call, label) => {
        findFunction(call, label).reservedConcurrency = null
        return { status: 204 }
      },
    },
    {
      method: 'GET',
      pattern: /^\/2015-03-31\/functions\/([^/]+)\/?$/,
      operation: 'GetFunction',
      handle: (call, label) => {
        const qualifier = call.req.url.searchParams.get('Qualifier')
        const fn = findFunction(call, qualifier === null ? label : `${label}:${qualifier}`)
        const body: Record<string, unknown> = {
          Configuration: configuration(fn),
          Code: { RepositoryType: 'S3', Location: `https://awslambda-${fn.region}-tasks.s3.${fn.region}.amazonaws.com/snapshots/${fn.account}/${fn.name}` },
          Tags: { ...fn.tags },
        }
        if (fn.reservedConcurrency !== null) body.Concurrency = { ReservedConcurrentExecutions: fn.reservedConcurrency }
        return { status: 200, body }
      },
    },
    { method: 'GET', pattern: /^\/2015-03-31\/functions\/?$/, operation: 'ListFunctions', handle: listFunctions },
    { method: 'GET', pattern: /^\/2017-03-31\/tags\/(.+)$/, operation: 'ListTags', handle: listTags },
    { method: 'GET', pattern: /^\/2016-08-19\/account-settings\/?$/, operation: 'GetAccountSettings', handle: getAccountSettings },
  ]

  function rateLimit(call: AwsCall, operation: string): CallDecision {
    const scope = `${call.caller.account}:${call.region}`
    return operation === 'GetFunction' ? realism.limit(`lambda-getfunction:${scope}`, 100) : realism.limit(`lambda-control:${scope}`, 15)
  }

  return {
    api: 'lambda',
    serve(call) {
      const path = call.req.url.pathname
      try {
        for (const route of routes) {
          const match = route.pattern.exec(path)
          if (!match || route.method !== call.req.method) continue
          const limited = rateLimit(call, route.operation)
          if (limited.kind === 'throttle') throw throttled(limited.retryAfterSeconds)
          return send(call, route.handle(call, decodePathLabel(match[1] ?? '')))
        }
        throw new AwsError('UnknownOperationException', 404, `The sandbox does not emulate Lambda ${call.req.method} ${path}`)
      } catch (error) {
        if (!(error instanceof AwsError)) throw error
        sendError(call, error)
      }
    },
    fault(call, decision: FaultDecision) {
      sendError(call, decision.kind === 'throttle' ? throttled(decision.retryAfterSeconds) : new AwsError('ServiceException', 500, 'The Lambda service encountered an internal error.'))
    },
  }
}
