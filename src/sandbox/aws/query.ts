/**
 * The AWS query protocol shared by IAM, STS and SNS (Smithy awsQuery protocol, https://smithy.io/2.0/aws/protocols/aws-query-protocol.html): form-encoded `Action=…&Version=…`
 * requests; XML answers `<{Action}Response xmlns><{Action}Result>…</{Action}Result><ResponseMetadata>` and errors
 * `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>` with the code's HTTP status.
 */
import type { CallDecision, SandboxApi } from '../realism.js'
import { AwsError } from './errors.js'
import type { Caller } from './identity.js'
import { requestId } from './ids.js'
import type { AwsCall, AwsService, FaultDecision } from './service.js'

export type QueryParams = ReadonlyMap<string, string>

/** The form body merged over the query string (the CLI and SDKs POST the form; GET works on AWS too). */
export function parseQueryParams(call: AwsCall): QueryParams {
  const params = new Map<string, string>(call.req.url.searchParams)
  for (const [key, value] of new URLSearchParams(call.req.body.toString('utf8'))) params.set(key, value)
  return params
}

/** AWS's message for a missing required member, naming it in camelCase as the service does. */
export function required(params: QueryParams, name: string): string {
  const value = params.get(name)
  if (value === undefined) {
    const member = name[0]!.toLowerCase() + name.slice(1)
    throw new AwsError('ValidationError', 400, `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`)
  }
  return value
}

/** `Name.member.1`, `Name.member.2`, … in index order. */
export function memberList(params: QueryParams, name: string): string[] {
  const pattern = new RegExp(`^${name}\\.member\\.(\\d+)$`)
  const items: Array<[number, string]> = []
  for (const [key, value] of params) {
    const match = pattern.exec(key)
    if (match) items.push([Number(match[1]), value])
  }
  return items.sort((a, b) => a[0] - b[0]).map(([, value]) => value)
}

/** `Name.entry.N.Sub.Key=value` → one record per N (keys relative to the entry), in index order. */
export function entryList(params: QueryParams, name: string): Array<Record<string, string>> {
  const pattern = new RegExp(`^${name}\\.entry\\.(\\d+)\\.(.+)$`)
  const entries = new Map<number, Record<string, string>>()
  for (const [key, value] of params) {
    const match = pattern.exec(key)
    if (!match) continue
    const index = Number(match[1])
    const entry = entries.get(index) ?? {}
    entry[match[2]!] = value
    entries.set(index, entry)
  }
  return [...entries.entries()].sort((a, b) => a[0] - b[0]).map(([, entry]) => entry)
}

/** Escapes text content (the sandbox writes no attribute values but the fixed xmlns). */
export function escapeXml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** `<name>escaped value</name>`. */
export function text(name: string, value: string | number | boolean): string {
  return `<${name}>${escapeXml(String(value))}</${name}>`
}

/** `<name>inner</name>` where inner is XML already. */
export function element(name: string, inner: string): string {
  return `<${name}>${inner}</${name}>`
}

/** A list in the query protocol's non-flattened form: `<name><member>…</member>…</name>`. */
export function members(name: string, items: string[]): string {
  return `<${name}>${items.map((item) => `<member>${item}</member>`).join('')}</${name}>`
}

/** Tags as IAM lists them: `<Tags><member><Key/><Value/></member>…</Tags>`. */
export function tagMembers(tags: Record<string, string>): string {
  return members(
    'Tags',
    Object.entries(tags).map(([key, value]) => text('Key', key) + text('Value', value)),
  )
}

/** RFC 3986 percent-encoding, as IAM returns policy documents (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html: "PolicyDocument … URL-encoded compliant with RFC 3986"). */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

export interface QueryContext {
  params: QueryParams
  caller: Caller
  region: string
}

/** Returns the inner XML of `<{Action}Result>`, or undefined for actions that answer with metadata only. */
export type QueryAction = (context: QueryContext) => string | undefined

export interface QueryServiceSpec {
  api: SandboxApi
  version: string
  xmlns: string
  actions: Record<string, QueryAction>
  /** The service's documented rate limit, checked after the realism gate. */
  limit?: (caller: Caller) => CallDecision
  /** The service's own 5xx and throttling errors for injected faults. */
  faultError(decision: FaultDecision): AwsError
}

function sendXml(call: AwsCall, status: number, body: string, headers: Record<string, string> = {}): void {
  call.res.writeHead(status, { 'content-type': 'text/xml', ...headers })
  call.res.end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`)
}

function sendError(call: AwsCall, xmlns: string, error: AwsError): void {
  const headers: Record<string, string> = {}
  if (error.details.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.details.retryAfterSeconds)
  const body =
    `<ErrorResponse xmlns="${xmlns}">` +
    element('Error', text('Type', error.senderFault ? 'Sender' : 'Receiver') + text('Code', error.code) + text('Message', error.message)) +
    text('RequestId', requestId()) +
    `</ErrorResponse>`
  sendXml(call, error.status, body, headers)
}

export function createQueryService(spec: QueryServiceSpec): AwsService {
  return {
    api: spec.api,
    serve(call) {
      const params = parseQueryParams(call)
      const action = params.get('Action') ?? ''
      try {
        const handler = Object.hasOwn(spec.actions, action) ? spec.actions[action] : undefined
        if (!handler) {
          throw new AwsError('InvalidAction', 400, `Could not find operation ${action || '(no Action)'} for version ${params.get('Version') ?? spec.version} (the sandbox does not emulate it)`)
        }
        const limited = spec.limit?.(call.caller)
        if (limited?.kind === 'throttle') throw spec.faultError(limited)
        const result = handler({ params, caller: call.caller, region: call.region })
        const body =
          `<${action}Response xmlns="${spec.xmlns}">` +
          (result === undefined ? '' : element(`${action}Result`, result)) +
          element('ResponseMetadata', text('RequestId', requestId())) +
          `</${action}Response>`
        sendXml(call, 200, body)
      } catch (error) {
        if (!(error instanceof AwsError)) throw error
        sendError(call, spec.xmlns, error)
      }
    },
    fault(call, decision) {
      sendError(call, spec.xmlns, spec.faultError(decision))
    },
  }
}
