/** A `PrimitiveContext` for unit tests that counts pacing per bucket and can be aborted. */
import type { PrimitiveContext, RateBucket } from '../../src/core/primitive.js'

export interface TestContext extends PrimitiveContext {
  paced: Map<string, number>
  buckets: RateBucket[]
  abort(reason?: unknown): void
}

export function testContext(overrides: Partial<Pick<PrimitiveContext, 'reason' | 'invocationId'>> = {}): TestContext {
  const controller = new AbortController()
  const paced = new Map<string, number>()
  const buckets: RateBucket[] = []
  const warnings: string[] = []
  return {
    paced,
    buckets,
    signal: controller.signal,
    abort: (reason) => controller.abort(reason ?? new Error('aborted by test')),
    async pace(bucket) {
      buckets.push(bucket)
      paced.set(bucket.key, (paced.get(bucket.key) ?? 0) + 1)
    },
    warn: (message) => void warnings.push(message),
    reason: overrides.reason ?? 'INC-4411 refund loop',
    invocationId: overrides.invocationId ?? 'halt-01J8ZK',
  }
}
