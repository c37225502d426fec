/**
 * LaunchDarkly's REST rate limits: counted in 10-second windows, globally per access token and per route, and
 * reported on every answer as `X-Ratelimit-Global-Remaining`, `X-Ratelimit-Route-Remaining` and
 * `X-Ratelimit-Reset` (epoch milliseconds). LaunchDarkly does not publish the numbers; the limits below are the
 * sandbox's own. The headers are always sent; a 429 is only answered when the realism profile enforces rate limits.
 */

export const RATE_LIMIT_WINDOW_MS = 10_000
/** Requests per window per access token, all routes together (the sandbox's own figure). */
export const GLOBAL_LIMIT_PER_WINDOW = 500
/** Requests per window per access token and route (the sandbox's own figure). */
export const ROUTE_LIMIT_PER_WINDOW = 100

interface Window {
  startedAt: number
  count: number
}

export interface RateLimitVerdict {
  headers: Record<string, string>
  /** Whether this request exceeded a limit (only acted upon when the profile enforces limits). */
  exceeded: boolean
  /** Seconds until the reported reset, rounded up. */
  retryAfterSeconds: number
}

/** Fixed windows that start at a bucket's first request and last `RATE_LIMIT_WINDOW_MS`. */
export class RestRateLimits {
  private readonly windows = new Map<string, Window>()

  constructor(private readonly now: () => number = Date.now) {}

  /** Counts one request by `caller` (an opaque key for the token) on `route`. */
  count(caller: string, route: string): RateLimitVerdict {
    const now = this.now()
    const global = this.take(`global\0${caller}`, now)
    const perRoute = this.take(`route\0${caller}\0${route}`, now)
    const globalRemaining = GLOBAL_LIMIT_PER_WINDOW - global.count
    const routeRemaining = ROUTE_LIMIT_PER_WINDOW - perRoute.count
    // One reset is reported: that of the window closer to its limit, which is the one a client must wait for.
    const tighter = routeRemaining <= globalRemaining ? perRoute : global
    const reset = tighter.startedAt + RATE_LIMIT_WINDOW_MS
    return {
      headers: {
        'X-Ratelimit-Global-Remaining': String(Math.max(0, globalRemaining)),
        'X-Ratelimit-Route-Remaining': String(Math.max(0, routeRemaining)),
        'X-Ratelimit-Reset': String(reset),
      },
      exceeded: globalRemaining < 0 || routeRemaining < 0,
      retryAfterSeconds: Math.max(1, Math.ceil((reset - now) / 1000)),
    }
  }

  private take(key: string, now: number): Window {
    let window = this.windows.get(key)
    if (!window || now - window.startedAt >= RATE_LIMIT_WINDOW_MS) {
      window = { startedAt: now, count: 0 }
      this.windows.set(key, window)
    }
    window.count += 1
    return window
  }
}
