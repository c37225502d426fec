/**
 * Client-side pacing: each rate-limit bucket releases requests at the platform's documented rate, so requests
 * never burst into throttles and lose time in back-off.
 *
 * A halt puts three kinds of request into the same buckets: snapshot reads, mutations and read-backs. They are
 * released by priority — mutations first, then read-backs, then snapshot reads — so that each target moves from
 * read to halted as soon as it can, instead of every mutation queueing behind every other target's read. Within a
 * priority, requests leave in the order they asked. The total time a saturated bucket needs is the same either
 * way; what changes is that agents stop one by one from the start rather than all at the end.
 *
 * Strict priority would starve the lower ones for as long as mutations keep coming: 10,000 IAM roles take 500 s of
 * puts at 20/s, and targets put early failed their verification time-out (120 s) before a single read-back left
 * (bench/RESULTS.md, 10,000 agents). So a lower priority that has waited STARVATION_MS gets the next token, at most
 * once per STARVATION_MS: under 3% of a saturated bucket, and IAM's batched read-back verifies up to 1,000 roles.
 */
import type { RateBucket } from './primitive.js'

export const PRIORITY = { mutation: 0, readBack: 1, snapshot: 2 } as const
export type Priority = (typeof PRIORITY)[keyof typeof PRIORITY]

/** How long a lower priority waits, at most, while higher ones keep a bucket busy (see above). */
export const STARVATION_MS = 2000

interface Waiter {
  release: () => void
  fail: (reason: unknown) => void
  priority: Priority
  signal?: AbortSignal
  /** When it asked (the bucket's clock). */
  since: number
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
      const waiter: Waiter = { release, fail, priority, signal, since: this.now() }
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

  /** When each priority last got a token (the bucket's clock). */
  private readonly served: number[] = [0, 0, 0]

  /** A lower priority's queue whose first request has waited STARVATION_MS, unless it got a token that recently. */
  private starved(now: number): Waiter[] | undefined {
    for (let p = 1; p < this.queues.length; p++) {
      const first = this.queues[p]![0]
      if (first && now - first.since >= STARVATION_MS && now - this.served[p]! >= STARVATION_MS) return this.queues[p]
    }
    return undefined
  }

  private pump(): void {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond)
    this.last = now
    for (;;) {
      const queue = this.starved(now) ?? this.queues.find((q) => q.length > 0)
      if (!queue) return
      if (this.tokens < 1) break
      this.tokens -= 1
      const waiter = queue.shift()!
      this.served[waiter.priority] = now
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
