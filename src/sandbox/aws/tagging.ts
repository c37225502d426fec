/**
 * Resource Groups Tagging API (JSON 1.1, `X-Amz-Target: ResourceGroupsTaggingAPI_20170126.GetResources`): finds
 * tagged Lambda functions by tag filters, the way a runbook's tag selector resolves its targets. Filters AND
 * together, values within a filter OR, and a filter without values only asks for the key.
 */
import { AwsError } from './errors.js'
import { decodeMarker, encodeMarker, requestId } from './ids.js'
import type { AwsCall, AwsService } from './service.js'
import type { AwsWorld, LambdaFunction } from './world.js'

const TARGET_PREFIX = 'ResourceGroupsTaggingAPI_20170126.'
const RESOURCE_TYPE = /^[a-z0-9-]+(:[A-Za-z0-9-]+)?$/
const DEFAULT_PAGE = 50

interface GetResourcesInput {
  ResourceTypeFilters?: string[]
  TagFilters?: Array<{ Key: string; Values?: string[] }>
  PaginationToken?: string
  ResourcesPerPage?: number
}

function send(call: AwsCall, status: number, body: unknown, headers: Record<string, string> = {}): void {
  call.res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId(), ...headers })
  call.res.end(JSON.stringify(body))
}

function sendError(call: AwsCall, error: AwsError): void {
  send(call, error.status, { __type: error.code, Message: error.message }, { 'x-amzn-errortype': error.code })
}

function invalidParameter(message: string): AwsError {
  return new AwsError('InvalidParameterException', 400, message)
}

/** Whether a ResourceTypeFilter (`service` or `service:type`) selects Lambda functions. */
function selectsLambdaFunctions(filter: string): boolean {
  if (!RESOURCE_TYPE.test(filter)) throw invalidParameter(`Invalid ResourceTypeFilter: ${filter}`)
  return filter === 'lambda' || filter === 'lambda:function'
}

function matchesTagFilters(fn: LambdaFunction, filters: NonNullable<GetResourcesInput['TagFilters']>): boolean {
  return filters.every(({ Key, Values }) => {
    const value = fn.tags[Key]
    if (value === undefined) return false
    return Values === undefined || Values.length === 0 || Values.includes(value)
  })
}

export function createTaggingService(world: AwsWorld): AwsService {
  function getResources(call: AwsCall, input: GetResourcesInput): unknown {
    const typeFilters = input.ResourceTypeFilters ?? []
    const wantsLambda = typeFilters.length === 0 || typeFilters.map(selectsLambdaFunctions).some(Boolean)
    const tagFilters = input.TagFilters ?? []
    for (const filter of tagFilters) if (typeof filter.Key !== 'string' || filter.Key === '') throw invalidParameter('TagFilters: every filter needs a Key')
    const perPage = input.ResourcesPerPage ?? DEFAULT_PAGE
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) throw invalidParameter(`ResourcesPerPage must be between 1 and 100, got ${perPage}`)
    const start = input.PaginationToken ? decodeMarker(input.PaginationToken) : 0
    if (start === undefined) throw invalidParameter('Invalid PaginationToken')
    // The API only returns resources that carry tags.
    const matches = wantsLambda
      ? [...world.functionsIn(world.account(call.caller.account), call.region).values()]
          .filter((fn) => Object.keys(fn.tags).length > 0 && matchesTagFilters(fn, tagFilters))
          .sort((a, b) => a.arn.localeCompare(b.arn))
      : []
    const next = start + perPage
    return {
      PaginationToken: next < matches.length ? encodeMarker(next) : '',
      ResourceTagMappingList: matches.slice(start, next).map((fn) => ({
        ResourceARN: fn.arn,
        Tags: Object.entries(fn.tags).map(([Key, Value]) => ({ Key, Value })),
      })),
    }
  }

  return {
    api: 'tagging',
    serve(call) {
      const target = call.req.headers['x-amz-target']
      try {
        if (target !== `${TARGET_PREFIX}GetResources`) {
          throw new AwsError('UnknownOperationException', 400, `The sandbox does not emulate the tagging operation ${String(target)}`)
        }
        let input: GetResourcesInput
        try {
          input = JSON.parse(call.req.body.toString('utf8') || '{}') as GetResourcesInput
        } catch {
          throw new AwsError('SerializationException', 400, 'The request body is not valid JSON.')
        }
        send(call, 200, getResources(call, input))
      } catch (error) {
        if (!(error instanceof AwsError)) throw error
        sendError(call, error)
      }
    },
    fault(call, decision) {
      sendError(
        call,
        decision.kind === 'throttle'
          ? new AwsError('ThrottledException', 400, 'Rate exceeded', { retryAfterSeconds: decision.retryAfterSeconds })
          : new AwsError('InternalServiceException', 500, 'The request processing failed because of an unknown error.'),
      )
    },
  }
}
