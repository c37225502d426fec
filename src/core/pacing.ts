/**
 * Client-side pacing: each rate-limit bucket releases requests at the platform's documented rate, so requests
 * never burst into throttles and lose time in back-off.
 *
 * A halt puts three kinds of request into the same buckets: snapshot reads, mutations and read-backs. They are
 * released by priority — mutations first, then read-backs, then snapshot reads — so that each target moves from
 * read to halted as soon as it can, instead of every mutation queueing behind every other target's read. Within a
 * priority, requests leave in the order they asked. The total time a saturated bucket needs is the same either
 * way; what changes is that agents stop one by one from the start rather than all at the end.
 */
import type { RateBucket } from './primitive.js'

export const PRIORITY = { mutation: 0, readBack: 1, snapshot: 2 } as const
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY]

interface Waiter {
  release: () => void
  fail: (reason: unknown) => void
  priority: Priority
  signal?: AbortSignal
}

/** A token bucket with one queue per priority. */
class Bucket {
  private tokens: number
  private last: number
  private readonly queues: Waiter[][] = [[], [], []]
  private timer: NodeJS.Timeout | undefined

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst
    this.last = now()
  }

  take(priority: Priority, signal?: AbortSignal): Promise<void> {
    return new Promise((release, fail) => {
      if (signal?.aborted) return fail(signal.reason)
      const waiter: Waiter = { release, fail, priority, signal }
      if (signal) this.watch(signal).add(waiter)
      this.queues[priority]!.push(waiter)
      this.pump()
    })
  }

  /**
   * One abort listener per signal, however many requests wait under it: thousands of targets share a halt's
   * signal, and a listener each made every add and remove walk thousands of listeners.
   */
  private readonly waitersBySignal = new Map<AbortSignal, { waiters: Set<Waiter>; onAbort: () => void }>()

  private watch(signal: AbortSignal): Set<Waiter> {
    let entry = this.waitersBySignal.get(signal)
    if (!entry) {
      const waiters = new Set<Waiter>()
      const onAbort = () => {
        this.waitersBySignal.delete(signal)
        for (const waiter of waiters) {
          const queue = this.queues[waiter.priority]!
          queue.splice(queue.indexOf(waiter), 1)
          waiter.fail(signal.reason)
        }
      }
      entry = { waiters, onAbort }
      this.waitersBySignal.set(signal, entry)
      signal.addEventListener('abort', onAbort, { once: true })
    }
    return entry.waiters
  }

  /** A released request no longer listens for its signal; the signal's listener goes with its last waiter. */
  private unwatch(waiter: Waiter): void {
    if (!waiter.signal) return
    const entry = this.waitersBySignal.get(waiter.signal)
    if (!entry) return
    entry.waiters.delete(waiter)
    if (entry.waiters.size === 0) {
      waiter.signal.removeEventListener('abort', entry.onAbort)
      this.waitersBySignal.delete(waiter.signal)
    }
  }

  private pump(): void {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond)
    this.last = now
    for (;;) {
      const queue = this.queues.find((q) => q.length > 0)
      if (!queue) return
      if (this.tokens < 1) break
      this.tokens -= 1
      const waiter = queue.shift()!
      this.unwatch(waiter)
      waiter.release()
    }
    if (!this.timer) {
      const wait = ((1 - this.tokens) / this.ratePerSecond) * 1000
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.pump()
      }, Math.max(1, Math.ceil(wait)))
    }
  }
}

export class Pacer {
  private readonly arrival = new Map<string, number>()
  private readonly buckets = new Map<string, Bucket>()
  /** Requests paced so far, per bucket key (for reports and benchmarks). */
  readonly counts = new Map<string, number>()

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Resolves when a request of this priority may leave under the bucket's rate; rejects if the signal aborts. */
  pace(bucket: RateBucket, signal?: AbortSignal, priority: Priority = PRIORITY.readBack): Promise<void> {
    let b = this.buckets.get(bucket.key)
    if (!b) {
      b = new Bucket(bucket.ratePerSecond, Math.max(1, bucket.burst ?? 1), this.now)
      this.buckets.set(bucket.key, b)
    }
    this.counts.set(bucket.key, (this.counts.get(bucket.key) ?? 0) + 1)
    return b.take(priority, signal)
  }

  /**
   * For predictions on a virtual clock: reserves the next slot of the bucket, first come first served (the
   * generic cell rate algorithm), and says how long the request must wait for it.
   */
  reserve(bucket: RateBucket): number {
    const interval = 1000 / bucket.ratePerSecond
    const tolerance = (Math.max(1, bucket.burst ?? 1) - 1) * interval
    const now = this.now()
    const tat = Math.max(this.arrival.get(bucket.key) ?? now, now)
    const leaveAt = Math.max(now, tat - tolerance)
    this.arrival.set(bucket.key, tat + interval)
    this.counts.set(bucket.key, (this.counts.get(bucket.key) ?? 0) + 1)
    return leaveAt - now
  }
}
