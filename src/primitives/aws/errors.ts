/** Reading AWS SDK errors and turning the ones an operator must act on into `PrimitiveError`s. */
import { PrimitiveError } from '../../core/primitive.js'

/** The SDK's error name (`ResourceNotFoundException`, `NoSuchEntityException`, `Throttling`, ...), if any. */
export function awsErrorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined
}

export function isAwsError(error: unknown, ...names: string[]): boolean {
  const name = awsErrorName(error)
  return name !== undefined && names.includes(name)
}

const ACCESS_DENIED = ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError']

/**
 * Rethrows `error`, as a `PrimitiveError` (code `AccessDenied`) when the break-glass principal lacks a permission,
 * so the operator sees which call on which resource was refused and where the needed permissions are listed.
 * AWS's own message names the action and resource; it never carries credentials.
 */
export function rethrowAwsError(error: unknown, doing: string): never {
  if (isAwsError(error, ...ACCESS_DENIED)) {
    throw new PrimitiveError(
      `Access denied while ${doing}: ${(error as Error).message}`,
      'Grant the break-glass principal the permissions listed in docs/primitives/aws.md, then run the command again.',
      'AccessDenied',
    )
  }
  throw error
}
