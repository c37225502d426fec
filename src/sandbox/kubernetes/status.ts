/**
 * Kubernetes `Status` objects: every error the plane answers, in the apiserver's wire shape
 * (`{"kind":"Status","apiVersion":"v1","status":"Failure","reason":…,"code":…}`), so clients that branch on
 * `reason` or `code` (kubectl, client-node's ApiException) behave as against a real cluster.
 */
import { qualifiedName } from './resources.js'

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
  uid?: string
  retryAfterSeconds?: number
  causes?: StatusCause[]
}

export interface StatusCause {
  reason: string
  message: string
  field: string
}

export interface StatusObject {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, never>
  status: 'Failure' | 'Success'
  message?: string
  reason?: string
  details?: StatusDetails
  code?: number
}

/** A request the plane refuses; `status` is the body, `retryAfterSeconds` becomes the Retry-After header. */
export class ApiError extends Error {
  constructor(readonly status: StatusObject) {
    super(status.message ?? status.status)
  }

  get code(): number {
    return this.status.code ?? 500
  }
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): ApiError {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code })
}

/** `group` is '' for the core group; the message names the resource as `deployments.apps` or `pods`. */
const qualified = qualifiedName

export function notFoundError(resource: string, group: string, name: string): ApiError {
  return failure(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, { name, group: group || undefined, kind: resource })
}

export function conflictError(resource: string, group: string, name: string): ApiError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: group || undefined, kind: resource },
  )
}

/** 403 from the authorizer: `deployments.apps "x" is forbidden: User "u" cannot patch resource …` (apiserver `NewForbidden`). */
export function forbiddenError(resource: string, group: string, name: string, cause: string): ApiError {
  if (resource === '') return failure(403, 'Forbidden', `forbidden: ${cause}`, {})
  const subject = name ? `${qualified(resource, group)} "${name}"` : qualified(resource, group)
  return failure(403, 'Forbidden', `${subject} is forbidden: ${cause}`, { ...(name ? { name } : {}), ...(group ? { group } : {}), kind: resource })
}

/** 401 for a bearer token no authenticator accepts. */
export function unauthorizedError(): ApiError {
  return failure(401, 'Unauthorized', 'Unauthorized')
}

export function badRequestError(message: string): ApiError {
  return failure(400, 'BadRequest', message)
}

/** 422: the request decoded but the resulting object is not valid (apiserver field validation). */
export function invalidError(kind: string, group: string, name: string, cause: string): ApiError {
  return failure(422, 'Invalid', `${qualified(kind, group)} "${name}" is invalid: ${cause}`, { name, group: group || undefined, kind, causes: [causeOf(cause)] })
}

const CAUSE_REASONS: [RegExp, string][] = [
  [/^Invalid value/, 'FieldValueInvalid'],
  [/^Required value/, 'FieldValueRequired'],
  [/^Forbidden/, 'FieldValueForbidden'],
  [/^Unsupported value/, 'FieldValueNotSupported'],
]

/** `field: Reason: detail` → a StatusCause, which kubectl prints after "The Kind "name" is invalid:". */
function causeOf(cause: string): StatusCause {
  const separator = cause.indexOf(': ')
  const field = separator > 0 ? cause.slice(0, separator) : ''
  const message = separator > 0 ? cause.slice(separator + 2) : cause
  const reason = CAUSE_REASONS.find(([pattern]) => pattern.test(message))?.[1] ?? 'FieldValueInvalid'
  return { reason, message, field }
}

export function methodNotAllowedError(): ApiError {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource')
}

export function unsupportedMediaTypeError(contentType: string, accepted: readonly string[]): ApiError {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${contentType || 'no Content-Type'}) - accepted media types include: ${accepted.join(', ')}`,
  )
}

/** For a watch whose resourceVersion is older than the retained history: the client must relist. */
export function goneError(requested: string, oldest: number): ApiError {
  return failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`)
}

/** Unknown paths are loud: a client that drifted to an API the sandbox lacks must notice. */
export function notEmulatedError(method: string, path: string): ApiError {
  return failure(404, 'NotFound', `the killswitch sandbox does not emulate ${method} ${path}`)
}

/** Injected by the realism profile. */
export function internalError(): ApiError {
  return failure(500, 'InternalError', 'Internal error occurred: injected by the killswitch sandbox')
}

/** Injected by the realism profile; the apiserver's priority-and-fairness rejection. */
export function tooManyRequestsError(retryAfterSeconds: number): ApiError {
  return failure(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds })
}
