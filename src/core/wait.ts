/** Waiting helpers shared by primitives' read-back verification. */

/** Sleeps `ms`, rejecting with the signal's reason as soon as it aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface PollOptions {
  signal: AbortSignal
  /** First wait between reads; doubles up to `maxIntervalMs`. */
  intervalMs?: number
  maxIntervalMs?: number
}

/**
 * Calls `observe` until it returns true. The first read happens at once; later reads back off from `intervalMs`
 * to `maxIntervalMs`. Rejects when the signal aborts (the caller's timeout), never returns false.
 */
export async function pollUntil(observe: () => Promise<boolean>, options: PollOptions): Promise<void> {
  let interval = options.intervalMs ?? 100
  const max = options.maxIntervalMs ?? 1000
  for (;;) {
    if (options.signal.aborted) throw options.signal.reason
    if (await observe()) return
    await delay(interval, options.signal)
    interval = Math.min(max, interval * 2)
  }
}
