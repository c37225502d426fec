/**
 * How long to wait after a LaunchDarkly 429. LaunchDarkly sends `Retry-After` (seconds, or an HTTP date) for
 * IP-based limits and `X-Ratelimit-Reset` (epoch milliseconds) for global and route limits.
 */
import { parseRetryAfterMs } from '../transient.js'

const DEFAULT_DELAY_MS = 1000

export function retryDelayMs(headers: Headers, nowMs: number): number {
  const retryAfter = parseRetryAfterMs(headers.get('retry-after'), nowMs)
  if (retryAfter !== undefined) return retryAfter
  const reset = Number(headers.get('x-ratelimit-reset') ?? Number.NaN)
  if (Number.isFinite(reset)) return Math.max(0, reset - nowMs)
  return DEFAULT_DELAY_MS
}
