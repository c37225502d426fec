/**
 * Transient failures that the Kubernetes and LaunchDarkly clients retry, as the AWS SDK's standard retry mode does
 * for AWS: a 5xx other than 501, a connection reset or dropped mid-request, a time-out. Every request those
 * clients send is safe to send again (reads, a scale patch to a fixed count, a semantic patch that turns a flag
 * off or on), so a halt does not fail a target because one request met a restarting API server or load balancer.
 * Waits grow from 100 ms and are jittered ("full jitter"), so retries from a whole fan-out do not arrive together.
 * A `Retry-After` on the failed answer (a 503 from an overloaded server, say) is honoured as the AWS SDK honours it:
 * the wait is at least the back-off and at most 5 s longer than it.
 */
import { delay } from '../core/wait.js'

/**
 * Attempts per request, the first included (the AWS SDK's standard mode makes 3; a halt can afford a few more).
 * The AWS clients use the same number for these failures (aws/retry.ts).
 */
export const TRANSIENT_ATTEMPTS = 5
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 2000
/** How much longer than its back-off a retry waits for a server's Retry-After (the AWS SDK's rule). */
const RETRY_AFTER_EXTRA_MS = 5000

const NETWORK_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export function isTransientStatus(status: number): boolean {
  return status >= 500 && status !== 501
}

/** A network error worth another attempt; `fetch` wraps the socket's error as `cause`. */
export function isTransientNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 3; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== undefined && NETWORK_CODES.has(code)) return true
  }
  return false
}

/**
 * Waits before attempt `attempt + 1` (attempt counts from 1) and returns true, or returns false when the attempts
 * are spent. `retryAfterMs` is what the failed answer's Retry-After asked for, if anything. Rejects when the signal
 * aborts.
 */
export async function backOff(attempt: number, signal: AbortSignal, random: () => number = Math.random, retryAfterMs?: number): Promise<boolean> {
  if (attempt >= TRANSIENT_ATTEMPTS) return false
  await delay(backOffMs(attempt - 1, random, retryAfterMs), signal)
  return true
}

/**
 * The wait before a request's retry after `retries` earlier ones: full jitter over `firstMs` doubling, each at most
 * `capMs`, and at least what a Retry-After asked for, but no more than RETRY_AFTER_EXTRA_MS beyond the back-off.
 */
export function backOffMs(retries: number, random: () => number, retryAfterMs?: number, firstMs = FIRST_DELAY_MS, capMs = MAX_DELAY_MS): number {
  const jittered = Math.round(random() * Math.min(capMs, firstMs * 2 ** retries))
  return retryAfterMs === undefined ? jittered : Math.max(jittered, Math.min(retryAfterMs, jittered + RETRY_AFTER_EXTRA_MS))
}

/** A `Retry-After` header in milliseconds from `nowMs`: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined
  const date = Date.parse(value)
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : undefined
}
