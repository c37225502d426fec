/**
 * The IAM client's retry strategy: the SDK's standard strategy, except that it never retries `LimitExceeded`.
 *
 * Why: IAM answers a PutRolePolicy that would push an entity's inline policies past their aggregate size quota
 * with 409 `LimitExceeded`, and the SDK classifies `LimitExceededException` as a throttling error, so the
 * standard strategy would retry it with throttle back-off although no retry can ever succeed. During a halt that
 * is seconds lost before the operator learns they must act. Everything else (Throttling, 5xx, timeouts) keeps the
 * standard behaviour.
 */
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types'
import { isAwsError } from './errors.js'

/** IAM error names that no retry can fix although the SDK's classification would retry them. */
const NEVER_RETRIED = ['LimitExceededException', 'LimitExceeded']

export class NoRetryOnLimitExceeded implements RetryStrategyV2 {
  constructor(private readonly standard: RetryStrategyV2) {}

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.standard.acquireInitialRetryToken(scope)
  }

  /** Rejecting here makes the SDK's retry middleware surface the original error at once. */
  refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    if (isAwsError(errorInfo.error, ...NEVER_RETRIED)) {
      return Promise.reject(errorInfo.error)
    }
    return this.standard.refreshRetryTokenForRetry(token, errorInfo)
  }

  recordSuccess(token: RetryToken): void {
    this.standard.recordSuccess(token)
  }
}

export async function createIamRetryStrategy(): Promise<RetryStrategyV2> {
  const { StandardRetryStrategy, DEFAULT_MAX_ATTEMPTS } = await import('@smithy/core/retry')
  return new NoRetryOnLimitExceeded(new StandardRetryStrategy(DEFAULT_MAX_ATTEMPTS))
}
