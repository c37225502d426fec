/**
 * The AWS clients' retry strategy: the SDK's standard strategy (exponential back-off with jitter, `Retry-After`
 * honoured, the retry quota that stops retry storms), with two changes.
 *
 * - **A throttled request is retried up to THROTTLED_MAX_ATTEMPTS − 1 times**, and apart from that other transient
 *   failures (500, 502, 503, 504, resets, timeouts) up to TRANSIENT_ATTEMPTS − 1 times, as the Kubernetes and
 *   LaunchDarkly clients do (the standard strategy: twice); a request may so be sent up to 12 times. The client paces each bucket at its documented rate, but the account's bucket is shared with
 *   every other caller in it (deploy pipelines, the agents' own tooling): one that draws on it can make a paced
 *   request meet three 429s in a row, and with the standard three attempts that target then fails and the halt ends
 *   `partial` although only waiting was needed. A throttle says "later", never "no". Throttle retries wait this
 *   project's back-off (full jitter over 500 ms doubling, each wait at most 20 s, longer only for a `Retry-After`, by
 *   at most 5 s) and are not charged to the SDK's retry quota (500 tokens per client, 5 a retry, 1 back a success):
 *   under heavy contention a thousand-target halt spent it in seconds, and every later error, throttle or not, then
 *   failed its target at the first attempt. The quota still guards the other errors.
 * - **IAM's `LimitExceeded` is never retried.** IAM answers a PutRolePolicy that would push an entity's inline
 *   policies past their aggregate size quota with 409 `LimitExceeded`, and the SDK classifies
 *   `LimitExceededException` as a throttling error, so it would be retried with throttle back-off although no retry
 *   can ever succeed: seconds lost before the operator learns they must act.
 *
 * With a retry strategy given, the clients ignore `AWS_MAX_ATTEMPTS` and `AWS_RETRY_MODE`.
 */
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types'
import { backOffMs, TRANSIENT_ATTEMPTS } from '../transient.js'
import { isAwsError } from './errors.js'

/**
 * Attempts for a request throttled every time. Waits: at most 0.5 + 1 + 2 + 4 + 8 + 16 + 20 = 51.5 s in all, or
 * 86.5 s if every answer asks for more with `Retry-After`.
 */
export const THROTTLED_MAX_ATTEMPTS = 8

/** Throttle back-off: full jitter over 500 ms doubling, each wait at most 20 s (this project's choice). */
const THROTTLE_FIRST_MS = 500
const THROTTLE_CAP_MS = 20_000

/** A retry this strategy granted: the throttle and other retries so far, and the wait before it. */
class HaltRetryToken implements RetryToken {
  constructor(
    readonly throttles: number,
    readonly others: number,
    private readonly delay: number,
    /** What the standard strategy took from its quota for this retry; nothing for a throttle's. */
    private readonly cost: number | undefined,
  ) {}
  getRetryCount(): number {
    return this.throttles + this.others
  }
  /** Slept by the SDK's retry middleware (abortably) before the next attempt. */
  getRetryDelay(): number {
    return this.delay
  }
  getRetryCost(): number | undefined {
    return this.cost
  }
}

function retriesOf(token: RetryToken): { throttles: number; others: number } {
  return token instanceof HaltRetryToken ? token : { throttles: 0, others: token.getRetryCount() }
}

/** Error names that no retry can fix although the SDK's classification would retry them (IAM's size quota). */
const NEVER_RETRIED = ['LimitExceededException', 'LimitExceeded']

export class HaltRetryStrategy implements RetryStrategyV2 {
  /**
   * `standard` computes the other errors' back-off and keeps their quota; it must allow as many attempts as this
   * strategy can grant (`createRetryStrategy` gives it THROTTLED_MAX_ATTEMPTS + otherMaxAttempts − 1).
   */
  constructor(
    private readonly standard: RetryStrategyV2,
    private readonly otherMaxAttempts: number,
    private readonly random: () => number = Math.random,
  ) {}

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.standard.acquireInitialRetryToken(scope)
  }

  /** Rejecting here makes the SDK's retry middleware surface the original error at once. */
  async refreshRetryTokenForRetry(token: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    if (isAwsError(errorInfo.error, ...NEVER_RETRIED)) throw errorInfo.error
    const { throttles, others } = retriesOf(token)
    if (errorInfo.errorType === 'THROTTLING') {
      if (throttles + 1 >= THROTTLED_MAX_ATTEMPTS) throw errorInfo.error
      const retryAfterMs = errorInfo.retryAfterHint && errorInfo.retryAfterHint.getTime() - Date.now()
      return new HaltRetryToken(throttles + 1, others, backOffMs(throttles, this.random, retryAfterMs, THROTTLE_FIRST_MS, THROTTLE_CAP_MS), undefined)
    }
    if (others + 1 >= this.otherMaxAttempts) throw errorInfo.error
    const next = await this.standard.refreshRetryTokenForRetry(token, errorInfo)
    return new HaltRetryToken(throttles, others + 1, next.getRetryDelay(), (next as { getRetryCost?(): number | undefined }).getRetryCost?.())
  }

  recordSuccess(token: RetryToken): void {
    this.standard.recordSuccess(token)
  }
}

export async function createRetryStrategy(): Promise<RetryStrategyV2> {
  const { StandardRetryStrategy } = await import('@smithy/core/retry')
  return new HaltRetryStrategy(new StandardRetryStrategy(THROTTLED_MAX_ATTEMPTS + TRANSIENT_ATTEMPTS - 1), TRANSIENT_ATTEMPTS)
}
