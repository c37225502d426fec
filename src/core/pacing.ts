/**
 * Client-side pacing: one schedule per rate-limit bucket, so requests leave at the platform's documented rate
 * instead of bursting into throttles and losing time in back-off. Uses the generic cell rate algorithm: each
 * bucket keeps a theoretical arrival time; a request may leave once it is within the burst tolerance of it.
 * Requests to a bucket leave in the order they asked.
 */
import type { RateBucket } from './primitive.js'
import { delay } from './wait.js'

export class Pacer {
  private readonly arrival = new Map<string, number>()
  /** Requests paced so far, per bucket key (for reports and benchmarks). */
  readonly counts = new Map<string, number>()

  constructor(
    private readonly now: () => number = () => performance.now(),
    /** Multiplies every documented rate; below 1 leaves headroom for clock skew between client and platform. */
    private readonly rateFactor = 1,
  ) {}

  /** How long a request in this bucket must wait, reserving its slot. */
  reserve(bucket: RateBucket): number {
    const interval = 1000 / (bucket.ratePerSecond * this.rateFactor)
    const tolerance = (Math.max(1, bucket.burst ?? 1) - 1) * interval
    const now = this.now()
    const tat = Math.max(this.arrival.get(bucket.key) ?? now, now)
    const leaveAt = Math.max(now, tat - tolerance)
    this.arrival.set(bucket.key, tat + interval)
    this.counts.set(bucket.key, (this.counts.get(bucket.key) ?? 0) + 1)
    return leaveAt - now
  }

  async pace(bucket: RateBucket, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(bucket)
    if (wait > 0.5) await delay(wait, signal)
  }
}
