/** LaunchDarkly's JSON answers: bodies as JSON, errors as `{"code","message"}` (docs/sandbox/launchdarkly.md). */
import type { ServerResponse } from 'node:http'

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

/** The error codes LaunchDarkly's REST API answers with, by HTTP status. */
export const ERROR_CODES = {
  400: 'invalid_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  429: 'rate_limited',
  500: 'internal_server_error',
} as const

export type ErrorStatus = keyof typeof ERROR_CODES

export function sendError(res: ServerResponse, status: ErrorStatus, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { code: ERROR_CODES[status], message }, headers)
}
