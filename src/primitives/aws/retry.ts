/**
 * The AWS clients' retry strategy: the SDK's standard strategy (exponential back-off with jitter, `Retry-After`
 * honoured, the retry quota that stops retry storms), with two changes.
 *
 * - **A throttled request is tried up to THROTTLED_MAX_ATTEMPTS times**, other transient failures (5xx, resets,
 *   timeouts) three times as before. The client paces each bucket at its documented rate, but the account's bucket
 *   is shared with every other caller in it (deploy pipelines, the agents' own tooling): one that draws on it can
 *   make a paced request meet three 429s in a row, and with the standard three attempts that target then fails and
 *   the halt ends `partial` although only waiting was needed. A throttle says "later", never "no".
 * - **IAM's `LimitExceeded` is never retried.** IAM answers a PutRolePolicy that would push an entity's inline
 *   policies past their aggregate size quota with 409 `LimitExceeded`, and the SDK classifies
 *   `LimitExceededException` as a throttling error, so it would be retried with throttle back-off although no retry
 *   can ever succeed: seconds lost before the operator learns they must act.
 */
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types'
import { isAwsError } from './errors.js'

/** Attempts for a throttled request: its jittered back-off (up to 500 ms doubling, each at most 20 s) waits at most 51.5 s in all. */
export const THROTTLED_MAX_ATTEMPTS = 8

/** Error names that no retry can fix although the SDK's classification would retry them (IAM's size quota). */
const NEVER_RETRIED = ['LimitExceededException', 'LimitExceeded']

export class HaltRetryStrategy implements RetryStrategyV2 {
  /** `standard` must allow THROTTLED_MAX_ATTEMPTS; this refuses other errors after `otherMaxAttempts`. */
  constructor(
    private readonly standard: RetryStrategyV2,
    private readonly otherMaxAttempts: number,
  ) {}

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.standard.acquireInitialRetryToken(scope)
  }

  /** Rejecting here makes the SDK's retry middleware surface the original error at once. */
  refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    if (isAwsError(errorInfo.error, ...NEVER_RETRIED)) return Promise.reject(errorInfo.error)
    if (errorInfo.errorType !== 'THROTTLING' && token.getRetryCount() + 1 >= this.otherMaxAttempts) return Promise.reject(errorInfo.error)
    return this.standard.refreshRetryTokenForRetry(token, errorInfo)
  }

  recordSuccess(token: RetryToken): void {
    this.standard.recordSuccess(token)
  }
}

export async function createRetryStrategy(): Promise<RetryStrategyV2> {
  const { StandardRetryStrategy, DEFAULT_MAX_ATTEMPTS } = await import('@smithy/core/retry')
  return new HaltRetryStrategy(new StandardRetryStrategy(THROTTLED_MAX_ATTEMPTS), DEFAULT_MAX_ATTEMPTS)
}
