/**
 * The AWS clients' retry strategy, driven as the SDK's retry middleware drives it (acquire a token, then ask for a
 * retry after each failure) on a fake clock, so the back-off waits take no real time. aws-sdk-client-mock replaces
 * `send` and so never reaches the strategy; the wiring is checked on the clients themselves.
 */
import { StandardRetryStrategy } from '@smithy/core/retry'
import type { RetryErrorInfo } from '@smithy/types'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAwsClients } from '../../../src/primitives/aws/clients.js'
import { HaltRetryStrategy, THROTTLED_MAX_ATTEMPTS, createRetryStrategy } from '../../../src/primitives/aws/retry.js'
import { TRANSIENT_ATTEMPTS } from '../../../src/primitives/transient.js'
import { HOME, awsConfig } from './fake-context.js'

function failure(name: string, errorType: RetryErrorInfo['errorType']): RetryErrorInfo {
  const error = new Error(name) as Error & { $metadata: object; cause?: Error }
  error.name = name
  error.$metadata = {}
  return { error, errorType }
}

/** How many retries the strategy grants one request that fails the same way every time, and what it ends with. */
async function retriesGranted(info: RetryErrorInfo): Promise<{ retries: number; error: unknown }> {
  const strategy = await createRetryStrategy()
  let token = await strategy.acquireInitialRetryToken('lambda')
  for (let retries = 0; ; retries++) {
    const next = strategy.refreshRetryTokenForRetry(token, info).then(
      (t) => ({ t }),
      (error: unknown) => ({ error }),
    )
    await vi.runAllTimersAsync()
    const outcome = await next
    if ('error' in outcome) return { retries, error: outcome.error }
    token = outcome.t
  }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('the AWS clients\' retry strategy', () => {
  it(`tries a throttled request ${THROTTLED_MAX_ATTEMPTS} times: three 429s in a row no longer fail a target`, async () => {
    const { retries } = await retriesGranted(failure('TooManyRequestsException', 'THROTTLING'))
    expect(retries).toBe(THROTTLED_MAX_ATTEMPTS - 1)
    expect(THROTTLED_MAX_ATTEMPTS).toBeGreaterThan(3)
  })

  it('waits a throttle out with the standard back-off, and at least until its Retry-After', async () => {
    const strategy = new HaltRetryStrategy(new StandardRetryStrategy(3), 3, () => 0.5)
    const first = await strategy.acquireInitialRetryToken('lambda')
    const throttled = failure('TooManyRequestsException', 'THROTTLING')
    const waits: number[] = []
    let token = first
    for (let i = 0; i < THROTTLED_MAX_ATTEMPTS - 1; i++) {
      token = await strategy.refreshRetryTokenForRetry(token, throttled)
      waits.push(token.getRetryDelay())
    }
    // Half of 500 ms doubling, each at most 20 s: the SDK's middleware sleeps these (abortably).
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 8000, 10000])
    const hinted = await strategy.refreshRetryTokenForRetry(first, { ...throttled, retryAfterHint: new Date(Date.now() + 3000) })
    expect(hinted.getRetryDelay()).toBe(3000)
  })

  it('counts throttles apart: a timeout after three 429s still has its own retries', async () => {
    const strategy = await createRetryStrategy()
    const throttled = failure('TooManyRequestsException', 'THROTTLING')
    const timedOut = failure('TimeoutError', 'TRANSIENT')
    let token = await strategy.acquireInitialRetryToken('lambda')
    for (let i = 0; i < 3; i++) token = await strategy.refreshRetryTokenForRetry(token, throttled)
    const outcomes: boolean[] = []
    for (let i = 0; i < TRANSIENT_ATTEMPTS; i++) {
      const next = strategy.refreshRetryTokenForRetry(token, timedOut).then(
        (t) => ((token = t), true),
        () => false,
      )
      await vi.runAllTimersAsync()
      outcomes.push(await next)
    }
    expect(outcomes).toEqual([...Array(TRANSIENT_ATTEMPTS - 1).fill(true), false])
    // and the throttles still have theirs
    expect(await strategy.refreshRetryTokenForRetry(token, throttled)).toBeDefined()
  })

  it('does not spend the retry quota on throttles: other errors are still retried after hundreds of them', async () => {
    const strategy = await createRetryStrategy()
    const throttled = failure('TooManyRequestsException', 'THROTTLING')
    for (let request = 0; request < 40; request++) {
      let token = await strategy.acquireInitialRetryToken('lambda')
      for (let i = 0; i < THROTTLED_MAX_ATTEMPTS - 1; i++) token = await strategy.refreshRetryTokenForRetry(token, throttled)
    }
    // 280 throttle retries would have cost the standard quota 1,400 of its 500 tokens.
    const next = strategy.refreshRetryTokenForRetry(await strategy.acquireInitialRetryToken('lambda'), failure('ServiceException', 'TRANSIENT'))
    const granted = next.then(() => true, () => false)
    await vi.runAllTimersAsync()
    expect(await granted).toBe(true)
  })

  it(`tries other transient failures ${TRANSIENT_ATTEMPTS} times, as the other platforms' clients do, then surfaces the error itself`, async () => {
    const info = failure('ServiceException', 'TRANSIENT')
    const { retries, error } = await retriesGranted(info)
    expect(retries).toBe(TRANSIENT_ATTEMPTS - 1)
    expect(TRANSIENT_ATTEMPTS).toBeGreaterThan(3)
    expect(error).toBe(info.error)
  })

  it('never retries IAM\'s LimitExceeded, which the SDK counts as a throttle', async () => {
    const info = failure('LimitExceeded', 'THROTTLING')
    expect(await retriesGranted(info)).toEqual({ retries: 0, error: info.error })
  })

  it('does not retry what is not transient', async () => {
    expect((await retriesGranted(failure('ValidationException', 'CLIENT_ERROR'))).retries).toBe(0)
  })

  it('is the strategy of the clients a halt changes and resolves with (Lambda, IAM, tagging)', async () => {
    vi.useRealTimers()
    const clients = createAwsClients(awsConfig)
    try {
      const all = [await clients.lambda(HOME, 'us-east-1'), await clients.iam(HOME), await clients.tagging(HOME, 'us-east-1')]
      for (const client of all) expect(await client.config.retryStrategy()).toBeInstanceOf(HaltRetryStrategy)
    } finally {
      clients.destroy()
    }
  })
})
