/**
 * Transient failures that the Kubernetes and LaunchDarkly clients retry, as the AWS SDK's standard retry mode does
 * for AWS: a 5xx other than 501, a connection reset or dropped mid-request, a time-out. Every request those
 * clients send is safe to send again (reads, a scale patch to a fixed count, a semantic patch that turns a flag
 * off or on), so a halt does not fail a target because one request met a restarting API server or load balancer.
 * Waits grow from 100 ms and are jittered ("full jitter"), so retries from a whole fan-out do not arrive together.
 */
import { delay } from '../core/wait.js'

/** Attempts per request, the first included (the AWS SDK's standard mode makes 3; a halt can afford a few more). */
export const TRANSIENT_ATTEMPTS = 5
const FIRST_DELAY_MS = 100
const MAX_DELAY_MS = 2000

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
 * are spent. Rejects when the signal aborts.
 */
export async function backOff(attempt: number, signal: AbortSignal, random: () => number = Math.random): Promise<boolean> {
  if (attempt >= TRANSIENT_ATTEMPTS) return false
  const cap = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempt - 1))
  await delay(Math.round(random() * cap), signal)
  return true
}
