/**
 * How long to wait after a LaunchDarkly 429. LaunchDarkly sends `Retry-After` (seconds, or an HTTP date) for
 * IP-based limits and `X-Ratelimit-Reset` (epoch milliseconds) for global and route limits.
 */

const DEFAULT_DELAY_MS = 1000

export function retryDelayMs(headers: Headers, nowMs: number): number {
  const retryAfter = headers.get('retry-after')
  if (retryAfter !== null) {
    const seconds = Number(retryAfter)
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
    const date = Date.parse(retryAfter)
    if (Number.isFinite(date)) return Math.max(0, date - nowMs)
  }
  const reset = Number(headers.get('x-ratelimit-reset') ?? Number.NaN)
  if (Number.isFinite(reset)) return Math.max(0, reset - nowMs)
  return DEFAULT_DELAY_MS
}
