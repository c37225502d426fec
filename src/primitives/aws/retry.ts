/**
 * The AWS clients' retry strategy: the SDK's standard strategy (exponential back-off with jitter, `Retry-After`
 * honoured, the retry quota that stops retry storms), with two changes.
 *
 * - **A throttled request is tried up to THROTTLED_MAX_ATTEMPTS times**, other transient failures (5xx, resets,
 *   timeouts) three times as before. The client paces each bucket at its documented rate, but the account's bucket
 *   is shared with every other caller in it (deploy pipelines, the agents' own tooling): one that draws on it can
 *   make a paced request meet three 429s in a row, and with the standard three attempts that target then fails and
 *   the halt ends `partial` although only waiting was needed. A throttle says "later", never "no". Throttle retries
 *   wait the standard back-off but are not charged to the SDK's retry quota (500 tokens per client, 5 a retry, 1
 *   back a success): under heavy contention a thousand-target halt spent it in seconds, and every later error,
 *   throttle or not, then failed its target at the first attempt. The quota still guards the other errors.
 * - **IAM's `LimitExceeded` is never retried.** IAM answers a PutRolePolicy that would push an entity's inline
 *   policies past their aggregate size quota with 409 `LimitExceeded`, and the SDK classifies
 *   `LimitExceededException` as a throttling error, so it would be retried with throttle back-off although no retry
 *   can ever succeed: seconds lost before the operator learns they must act.
 */
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types'
import { isAwsError } from './errors.js'

/** Attempts for a throttled request: its jittered back-off (up to 500 ms doubling, each at most 20 s) waits at most 51.5 s in all. */
export const THROTTLED_MAX_ATTEMPTS = 8

/** The standard strategy's throttle back-off: full jitter over 500 ms doubling, each wait at most 20 s. */
const THROTTLE_BASE_MS = 500
const MAX_DELAY_MS = 20_000
/** How far past the back-off a `Retry-After` may push a wait, as the standard strategy allows. */
const RETRY_AFTER_SLACK_MS = 5_000

/** A throttled request's next attempt: its wait is slept by the SDK's retry middleware (abortable), at no quota cost. */
class ThrottleRetryToken implements RetryToken {
  constructor(
    private readonly count: number,
    private readonly delay: number,
  ) {}
  getRetryCount(): number {
    return this.count
  }
  getRetryDelay(): number {
    return this.delay
  }
  /** Nothing was taken from the quota, so a success gives back only the standard's one token. */
  getRetryCost(): number | undefined {
    return undefined
  }
}

/** Error names that no retry can fix although the SDK's classification would retry them (IAM's size quota). */
const NEVER_RETRIED = ['LimitExceededException', 'LimitExceeded']

export class HaltRetryStrategy implements RetryStrategyV2 {
  /** `standard` decides every retry but a throttle's, and is refused after `otherMaxAttempts`. */
  constructor(
    private readonly standard: RetryStrategyV2,
    private readonly otherMaxAttempts: number,
    private readonly random: () => number = Math.random,
  ) {}

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.standard.acquireInitialRetryToken(scope)
  }

  /** Rejecting here makes the SDK's retry middleware surface the original error at once. */
  refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    if (isAwsError(errorInfo.error, ...NEVER_RETRIED)) return Promise.reject(errorInfo.error)
    const retries = token.getRetryCount()
    if (errorInfo.errorType === 'THROTTLING') {
      if (retries + 1 >= THROTTLED_MAX_ATTEMPTS) return Promise.reject(errorInfo.error)
      const backoff = Math.floor(this.random() * Math.min(THROTTLE_BASE_MS * 2 ** retries, MAX_DELAY_MS))
      const hinted = errorInfo.retryAfterHint ? Math.min(errorInfo.retryAfterHint.getTime() - Date.now(), backoff + RETRY_AFTER_SLACK_MS) : 0
      return Promise.resolve(new ThrottleRetryToken(retries + 1, Math.max(backoff, hinted)))
    }
    if (retries + 1 >= this.otherMaxAttempts) return Promise.reject(errorInfo.error)
    return this.standard.refreshRetryTokenForRetry(token, errorInfo)
  }

  recordSuccess(token: RetryToken): void {
    this.standard.recordSuccess(token)
  }
}

export async function createRetryStrategy(): Promise<RetryStrategyV2> {
  const { StandardRetryStrategy, DEFAULT_MAX_ATTEMPTS } = await import('@smithy/core/retry')
  return new HaltRetryStrategy(new StandardRetryStrategy(DEFAULT_MAX_ATTEMPTS), DEFAULT_MAX_ATTEMPTS)
}
