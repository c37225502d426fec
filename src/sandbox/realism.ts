/**
 * Realism and fault injection shared by every emulated plane: per-call latency with jitter, token-bucket rate
 * limits, propagation delays, and injected errors, throttles, connection resets and stalls. Profiles bundle the
 * knobs; each knob can also be set on its own.
 */

/** The APIs the sandbox emulates; knobs are set per API. */
export const SANDBOX_APIS = ['lambda', 'iam', 'sts', 'sns', 'tagging', 'kubernetes', 'launchdarkly'] as const
export type SandboxApi = (typeof SANDBOX_APIS)[number]

export interface ApiKnobs {
  /** Mean added latency per call, in ms. */
  latencyMs: number
  /** Uniform jitter, ± this many ms around the mean (never below 0). */
  jitterMs: number
  /** Probability (0..1) a call fails with a 5xx in the platform's error format. */
  errorRate: number
  /** Probability (0..1) a call is throttled in the platform's format, independent of the rate limits. */
  throttleRate: number
  /** Probability (0..1) the connection is reset without an answer. */
  resetRate: number
  /** Probability (0..1) a call stalls for `stallMs` before it is answered. */
  stallRate: number
  stallMs: number
}

export interface RealismProfile {
  name: string
  apis: Record<SandboxApi, ApiKnobs>
  /** Whether the documented rate limits are enforced (429 / Throttling with Retry-After). */
  rateLimits: boolean
  /** Requests per second per account for IAM, which AWS does not publish; the sandbox's own figure. */
  iamRatePerSecond: number
  /** Delay before an IAM policy change is seen by SimulatePrincipalPolicy (AWS: "may take a few minutes"). */
  iamPropagationMs: number
  /** Delay between a LaunchDarkly flag change and its push on the SDK stream. */
  streamPushDelayMs: number
  /** Kubernetes: delay before the controller reacts to a scale change. */
  controllerDelayMs: number
}

const quiet: ApiKnobs = { latencyMs: 0, jitterMs: 0, errorRate: 0, throttleRate: 0, resetRate: 0, stallRate: 0, stallMs: 0 }

function allApis(knobs: Partial<ApiKnobs>, overrides: Partial<Record<SandboxApi, Partial<ApiKnobs>>> = {}) {
  const apis = {} as Record<SandboxApi, ApiKnobs>
  for (const api of SANDBOX_APIS) apis[api] = { ...quiet, ...knobs, ...overrides[api] }
  return apis
}

export const PROFILES = {
  /** No added latency, no limits: unit-speed tests. */
  instant: {
    name: 'instant',
    apis: allApis({}),
    rateLimits: false,
    iamRatePerSecond: 1000,
    iamPropagationMs: 0,
    streamPushDelayMs: 0,
    controllerDelayMs: 0,
  },
  /** Latencies of the order seen from inside a region, and the documented rate limits. */
  realistic: {
    name: 'realistic',
    apis: allApis(
      { latencyMs: 40, jitterMs: 15 },
      { iam: { latencyMs: 80, jitterMs: 30 }, kubernetes: { latencyMs: 15, jitterMs: 5 }, launchdarkly: { latencyMs: 60, jitterMs: 20 } },
    ),
    rateLimits: true,
    iamRatePerSecond: 20,
    iamPropagationMs: 2000,
    streamPushDelayMs: 150,
    controllerDelayMs: 50,
  },
  /** Realistic, plus errors, throttles, resets and stalls on every API: for resilience tests. */
  faulty: {
    name: 'faulty',
    apis: allApis({ latencyMs: 40, jitterMs: 15, errorRate: 0.05, throttleRate: 0.05, resetRate: 0.02, stallRate: 0.02, stallMs: 1500 }),
    rateLimits: true,
    iamRatePerSecond: 20,
    iamPropagationMs: 2000,
    streamPushDelayMs: 150,
    controllerDelayMs: 50,
  },
} satisfies Record<string, RealismProfile>

export type ProfileName = keyof typeof PROFILES

export interface ProfileOverrides extends Partial<Omit<RealismProfile, 'apis' | 'name'>> {
  apis?: Partial<Record<SandboxApi, Partial<ApiKnobs>>>
}

export function buildProfile(name: ProfileName, overrides: ProfileOverrides = {}): RealismProfile {
  const base = PROFILES[name]
  const { apis, ...rest } = overrides
  const merged: RealismProfile = { ...base, ...rest, apis: { ...base.apis } }
  for (const api of SANDBOX_APIS) merged.apis[api] = { ...base.apis[api], ...apis?.[api] }
  return merged
}

/** What the plane must do with a call before serving it. */
export type CallDecision =
  | { kind: 'serve' }
  /** Answer with the platform's 5xx error. */
  | { kind: 'error' }
  /** Answer with the platform's throttling error and this Retry-After. */
  | { kind: 'throttle'; retryAfterSeconds: number }
  /** Destroy the socket without an answer. */
  | { kind: 'reset' }

/** A classic token bucket: `ratePerSecond` sustained, up to `burst` at once. */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst
    this.last = now()
  }

  /** Takes a token if one is there; otherwise says how long until one is. */
  tryTake(): { ok: true } | { ok: false; waitMs: number } {
    const now = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond)
    this.last = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return { ok: true }
    }
    return { ok: false, waitMs: ((1 - this.tokens) / this.ratePerSecond) * 1000 }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Decides, per call, the latency and any fault or throttle. Planes call `gate` first on every request and render
 * the decision in their own wire format; `limit` enforces a documented rate limit on a named bucket.
 */
/** Faults the realism knobs injected (rate limits not included), per API: what a test checks actually happened. */
export type InjectedFaults = Partial<Record<SandboxApi, { errors: number; throttles: number; resets: number; stalls: number }>>

export class Realism {
  private readonly buckets = new Map<string, TokenBucket>()
  readonly injected: InjectedFaults = {}

  constructor(
    public profile: RealismProfile,
    private readonly random: () => number = Math.random,
  ) {}

  async gate(api: SandboxApi): Promise<CallDecision> {
    const k = this.profile.apis[api]
    const latency = Math.max(0, k.latencyMs + (this.random() * 2 - 1) * k.jitterMs)
    if (latency > 0) await sleep(latency)
    const count = () => (this.injected[api] ??= { errors: 0, throttles: 0, resets: 0, stalls: 0 })
    if (k.stallRate > 0 && this.random() < k.stallRate) {
      count().stalls++
      await sleep(k.stallMs)
    }
    if (k.resetRate > 0 && this.random() < k.resetRate) {
      count().resets++
      return { kind: 'reset' }
    }
    if (k.errorRate > 0 && this.random() < k.errorRate) {
      count().errors++
      return { kind: 'error' }
    }
    if (k.throttleRate > 0 && this.random() < k.throttleRate) {
      count().throttles++
      return { kind: 'throttle', retryAfterSeconds: 1 }
    }
    return { kind: 'serve' }
  }

  /**
   * Enforces `ratePerSecond` on `bucketKey` when the profile has rate limits on. Returns a throttle decision
   * (Retry-After rounded up to whole seconds, as AWS sends it) or `serve`.
   */
  limit(bucketKey: string, ratePerSecond: number, burst = ratePerSecond): CallDecision {
    if (!this.profile.rateLimits) return { kind: 'serve' }
    let bucket = this.buckets.get(bucketKey)
    if (!bucket) {
      bucket = new TokenBucket(ratePerSecond, burst)
      this.buckets.set(bucketKey, bucket)
    }
    const taken = bucket.tryTake()
    return taken.ok ? { kind: 'serve' } : { kind: 'throttle', retryAfterSeconds: Math.max(1, Math.ceil(taken.waitMs / 1000)) }
  }
}

const API_KNOBS = ['latencyMs', 'jitterMs', 'errorRate', 'throttleRate', 'resetRate', 'stallRate', 'stallMs'] as const
const PROFILE_KNOBS = ['rateLimits', 'iamRatePerSecond', 'iamPropagationMs', 'streamPushDelayMs', 'controllerDelayMs'] as const

/**
 * Parses knob settings such as `lambda.errorRate=0.1`, `iam.latencyMs=200` or `iamPropagationMs=5000` into
 * profile overrides; throws with the valid names on anything else.
 */
export function parseKnobs(settings: readonly string[]): ProfileOverrides {
  const overrides: ProfileOverrides = {}
  for (const setting of settings) {
    const m = /^(?:([a-z]+)\.)?([A-Za-z]+)=(.+)$/.exec(setting)
    const usage = `write API.KNOB=VALUE (APIs: ${SANDBOX_APIS.join(', ')}; knobs: ${API_KNOBS.join(', ')}) or KNOB=VALUE (${PROFILE_KNOBS.join(', ')})`
    if (!m) throw new Error(`"${setting}" is not a knob setting; ${usage}`)
    const [, api, knob, raw] = m as unknown as [string, string | undefined, string, string]
    if (api !== undefined) {
      if (!(SANDBOX_APIS as readonly string[]).includes(api) || !(API_KNOBS as readonly string[]).includes(knob)) throw new Error(`unknown knob "${api}.${knob}"; ${usage}`)
      const value = Number(raw)
      if (!Number.isFinite(value) || value < 0 || (knob.endsWith('Rate') && value > 1)) throw new Error(`"${setting}": ${knob} takes ${knob.endsWith('Rate') ? 'a probability from 0 to 1' : 'milliseconds ≥ 0'}`)
      overrides.apis ??= {}
      overrides.apis[api as SandboxApi] = { ...overrides.apis[api as SandboxApi], [knob]: value }
    } else if (knob === 'rateLimits') {
      if (raw !== 'true' && raw !== 'false') throw new Error(`"${setting}": rateLimits takes true or false`)
      overrides.rateLimits = raw === 'true'
    } else if ((PROFILE_KNOBS as readonly string[]).includes(knob)) {
      const value = Number(raw)
      if (!Number.isFinite(value) || value < 0) throw new Error(`"${setting}": ${knob} takes a number ≥ 0`)
      Object.assign(overrides, { [knob]: value })
    } else throw new Error(`unknown knob "${knob}"; ${usage}`)
  }
  return overrides
}
