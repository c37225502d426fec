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

/**
 * Waits for `promise` on behalf of one caller: rejects with the signal's reason as soon as it aborts, leaving the
 * promise itself running for others who share it (a credential fetched once for every request).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
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

/**
 * A time-out that counts only the time the operation spends on the platform, not the time its requests wait for
 * this process's own pacing (their turn in a rate-limit bucket, or a batch waiting for its turn). A read-back that
 * queues behind thousands of mutations in the same bucket is not the platform being slow to show the change.
 *
 * `pause()` stops the clock until the function it returns is called; pauses nest (the clock runs again when the
 * last one ends) and each end may be called more than once. The signal aborts with a TimeoutError.
 */
export class Deadline {
  private readonly controller = new AbortController()
  private remainingMs: number
  private since = 0
  private timer: NodeJS.Timeout | undefined
  private pauses = 0

  constructor(
    ms: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.remainingMs = ms
    this.run()
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  pause(): () => void {
    if (this.controller.signal.aborted) return () => undefined
    if (this.pauses++ === 0) {
      clearTimeout(this.timer)
      this.remainingMs -= this.now() - this.since
    }
    let ended = false
    return () => {
      if (ended) return
      ended = true
      if (--this.pauses === 0) this.run()
    }
  }

  /** Stops the clock for good: the operation is over. */
  dispose(): void {
    clearTimeout(this.timer)
    this.pauses = Number.POSITIVE_INFINITY
  }

  private run(): void {
    if (this.controller.signal.aborted) return
    this.since = this.now()
    // Unreferenced, as AbortSignal.timeout's timer is: a pending deadline never keeps the process alive.
    this.timer = setTimeout(
      () => this.controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      Math.max(0, this.remainingMs),
    ).unref()
  }
}
