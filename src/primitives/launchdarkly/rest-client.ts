/**
 * The narrow view of LaunchDarkly's REST API that flag-off uses, and its `fetch` implementation. Plain `fetch`
 * rather than the generated client: a few calls, and the generated client cannot send a semantic patch cleanly.
 */
import { PrimitiveError, type JsonValue } from '../../core/primitive.js'
import { delay } from '../../core/wait.js'
import { backOff, isTransientNetworkError, isTransientStatus, parseRetryAfterMs, TRANSIENT_ATTEMPTS } from '../transient.js'
import { retryDelayMs } from './retry-delay.js'

export const API_VERSION = '20240415'
export const SEMANTIC_PATCH_CONTENT_TYPE = 'application/json; domain-model=launchdarkly.semanticpatch'

export interface FlagRef {
  project: string
  environment: string
  key: string
}

export type FlagInstruction = 'turnFlagOff' | 'turnFlagOn'

export interface RequestOptions {
  signal: AbortSignal
  /** Called before every request, retries included, for the caller's rate limit. */
  pace(): Promise<void>
  /** Pauses the caller's deadline while a request waits for its rate-limit window here; returns what ends the pause. */
  pauseDeadline?(): () => void
}

/**
 * Flags asked for per list page. LaunchDarkly returns every flag when no `limit` is given; pages keep each answer of
 * a project with thousands of flags prompt, and let a few flags be read back without listing all of them.
 */
export const LIST_PAGE_SIZE = 100

/** What a halt needs of a flag in one environment: whether targeting is on, and what it serves when off. */
export interface FlagView {
  on: boolean
  /** The variations' values, in order. */
  variations: JsonValue[]
  /** The index of the variation served while targeting is off; null when none is set. */
  offVariation: number | null
}

export interface FlagList {
  /** Every flag of the project, in the environment. */
  flags: Map<string, FlagView>
  /** Requests the list took: what listing the project again will cost. */
  pages: number
}

export interface EnvironmentView {
  key: string
  /** The environment's server-side SDK key; undefined when the answer leaves it out. */
  sdkKey?: string
  /** Whether flag changes in the environment need an approval request. */
  approvalsRequired: boolean
}

/** A change LaunchDarkly will make to the flag at `executionDate`. */
export interface ScheduledChange {
  id: string
  /** Epoch ms. */
  executionDate: number | null
  /** The semantic-patch instruction kinds it will apply. */
  instructions: string[]
}

/** A URL that changes the flag when an outside tool calls it. */
export interface FlagTrigger {
  id: string
  enabled: boolean
  integrationKey: string | null
  instructions: string[]
}

export interface PatchOptions {
  /** Apply the change even though it conflicts with pending scheduled changes or approval requests. */
  ignoreConflicts?: boolean
}

export interface LaunchDarklyRestClient {
  /** The flag in its environment; `null` when the flag does not exist. */
  readFlag(flag: FlagRef, options: RequestOptions): Promise<FlagView | null>
  /**
   * Every non-archived flag of the project in the environment, page by page (LaunchDarkly leaves archived flags out
   * of lists). Each page goes through `options.pace`, so the first page leaves only after the caller's rate limit
   * allows it.
   */
  listFlags(project: string, environment: string, options: RequestOptions): Promise<FlagList>
  /** One semantic-patch instruction in the flag's environment, with a comment for LaunchDarkly's audit log. */
  patchFlag(flag: FlagRef, instruction: FlagInstruction, comment: string, options: RequestOptions, patch?: PatchOptions): Promise<void>
  /** The project's environments with their SDK keys and approval settings; null when the project does not exist. */
  listEnvironments(project: string, options: RequestOptions): Promise<EnvironmentView[] | null>
  /** The changes scheduled for the flag in its environment. */
  listScheduledChanges(flag: FlagRef, options: RequestOptions): Promise<ScheduledChange[]>
  /** The flag's triggers in its environment. */
  listTriggers(flag: FlagRef, options: RequestOptions): Promise<FlagTrigger[]>
}

export interface FetchRestClientOptions {
  baseUri: string
  token: string
  /** Names the token's variable in error hints (the token itself never appears). */
  apiTokenEnv: string
  fetch?: typeof fetch
  now?: () => number
  /** Jitter source for retry back-off (tests pass a fixed one). */
  random?: () => number
}

/** Waiting this much past a window's reported reset absorbs the request's own latency and small clock skew. */
const RESET_MARGIN_MS = 50
/** LaunchDarkly's rate-limit windows last 10 s. */
const WINDOW_MS = 10_000

/**
 * What LaunchDarkly last reported of one route's rate-limit window: every answer carries the requests left in it
 * (`X-Ratelimit-Route-Remaining`, `X-Ratelimit-Global-Remaining`: the smaller one binds) and when it resets
 * (`X-Ratelimit-Reset`, epoch ms). Requests go out freely while the window has room for them and those still in
 * flight; once it has none, they wait for the reset instead of being answered 429. This is what lets a halt use a
 * whole window at once where pacing alone would spread it over the window.
 *
 * Between a window's reset and the first answer from the next one, nothing is known of the new window; requests
 * sent then are counted, and no more go than the largest window seen (the window's size, from its first answer) until
 * an answer reports the new window or a window's length has passed. Without that cap, a request leaving a moment
 * after the reset's burst, before any of its answers, would land in a window already full.
 */
export class RateWindow {
  /** Requests left in the reported window, as of its last answer; undefined while no window is known. */
  private remaining: number | undefined
  private resetAt = 0
  private inFlight = 0
  /** The largest window seen: one more than the most requests any answer reported left. */
  private size = 0
  /** While no window is known: when counting began, and the requests admitted since. */
  private unknownSince = 0
  private unknownAdmitted = 0
  /** Requests held for room: all are woken together, by one timer or by an answer showing room. */
  private readonly held = new Set<{ wake: () => void; fail: (reason: unknown) => void; signal: AbortSignal }>()
  /** One abort listener per signal, however many requests wait under it (as in core/pacing.ts). */
  private readonly listening = new Map<AbortSignal, () => void>()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Number.POSITIVE_INFINITY

  constructor(private readonly now: () => number) {}

  /**
   * Resolves when a request may leave under what the server reported; counts it as in flight. No wait is longer
   * than a window (a reset far off means the clocks disagree), and after such a wait the window is forgotten.
   */
  async admit(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted()
      const now = this.now()
      if (this.remaining !== undefined && now >= this.resetAt + RESET_MARGIN_MS) this.forget(now)
      if (this.remaining === undefined && now >= this.unknownSince + WINDOW_MS + RESET_MARGIN_MS) this.forget(now)
      if (this.hasRoom()) {
        if (this.remaining === undefined) this.unknownAdmitted++
        break
      }
      const until = this.remaining !== undefined ? this.resetAt + RESET_MARGIN_MS : this.unknownSince + WINDOW_MS + RESET_MARGIN_MS
      const longest = now + WINDOW_MS + RESET_MARGIN_MS
      const resetSeen = this.resetAt
      await this.hold(Math.min(until, longest), signal)
      // Held a whole window for a reset still far off: the clocks disagree. Forget that window (once, whoever wakes
      // first) and take the next answer's report, whatever its reset.
      if (until > longest && this.now() >= longest - 10 && this.remaining !== undefined && this.resetAt === resetSeen) {
        this.forget(this.now())
        this.resetAt = this.now()
      }
    }
    this.inFlight++
  }

  /**
   * Takes a request out of flight and reads the window from its answer (any status). A 429 that still reports the
   * window known to be over does not count against the next one: the clocks differ, and its retry must not wait.
   */
  settle(headers: Headers | undefined, status?: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1)
    const resetBefore = this.resetAt
    this.read(headers)
    if (status === 429 && this.remaining === undefined && this.resetAt === resetBefore) {
      this.unknownAdmitted = Math.max(0, this.unknownAdmitted - 1)
    }
    if (this.held.size > 0 && this.hasRoom()) this.wakeAll()
  }

  /** Whether one more request may leave: room in the reported window, or, while none is known, under its size. */
  private hasRoom(): boolean {
    if (this.remaining !== undefined) return this.remaining - this.inFlight > 0
    return this.size === 0 || this.unknownAdmitted < this.size
  }

  private read(headers: Headers | undefined): void {
    if (!headers) return
    const counts = [headers.get('x-ratelimit-route-remaining'), headers.get('x-ratelimit-global-remaining')].filter((v) => v !== null).map(Number)
    const reset = Number(headers.get('x-ratelimit-reset') ?? Number.NaN)
    if (counts.length === 0 || !Number.isFinite(reset) || counts.some((n) => !Number.isFinite(n))) return
    const remaining = Math.min(...counts)
    this.size = Math.max(this.size, remaining + 1)
    if (reset > this.resetAt) {
      this.resetAt = reset
      this.remaining = remaining
    } else if (reset === this.resetAt && this.remaining !== undefined) {
      this.remaining = Math.min(this.remaining, remaining)
    }
  }

  /** The known window is over (or cannot be believed): count requests until an answer reports the next one. */
  private forget(now: number): void {
    this.remaining = undefined
    this.unknownSince = now
    this.unknownAdmitted = 0
  }

  /** Resolves at `until` (this.now's clock) or as soon as an answer shows room; rejects when the signal aborts. */
  private hold(until: number, signal: AbortSignal): Promise<void> {
    return new Promise((wake, fail) => {
      this.held.add({ wake, fail, signal })
      if (!this.listening.has(signal)) {
        const onAbort = () => {
          this.listening.delete(signal)
          for (const h of this.held) {
            if (h.signal !== signal) continue
            this.held.delete(h)
            h.fail(signal.reason)
          }
          if (this.held.size === 0) this.clearTimer()
        }
        this.listening.set(signal, onAbort)
        signal.addEventListener('abort', onAbort, { once: true })
      }
      if (until < this.timerAt) {
        this.clearTimer()
        this.timerAt = until
        this.timer = setTimeout(() => this.wakeAll(), Math.max(0, until - this.now()))
      }
    })
  }

  private wakeAll(): void {
    this.clearTimer()
    for (const [signal, onAbort] of this.listening) signal.removeEventListener('abort', onAbort)
    this.listening.clear()
    const held = [...this.held]
    this.held.clear()
    for (const h of held) h.wake()
  }

  private clearTimer(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Number.POSITIVE_INFINITY
  }
}

export function createFetchRestClient(options: FetchRestClientOptions): LaunchDarklyRestClient {
  const fetchImpl = options.fetch ?? fetch
  const now = options.now ?? Date.now
  const windows = new Map<string, RateWindow>()
  const windowOf = (route: string) => {
    let window = windows.get(route)
    if (!window) windows.set(route, (window = new RateWindow(now)))
    return window
  }

  /**
   * Sends one request on `route` (its rate-limit window), waiting out every 429 as LaunchDarkly asks and retrying a
   * transient failure (5xx, connection reset, time-out) with back-off up to TRANSIENT_ATTEMPTS attempts: every
   * request here is safe to repeat. Returns the first other response.
   */
  const send = async (route: string, method: string, path: string, init: RequestOptions, headers: Record<string, string> = {}, body?: string) => {
    const window = windowOf(route)
    // Counts transient failures only: 429s are waited out on their own terms.
    let failures = 0
    for (;;) {
      const waited = init.pauseDeadline?.()
      try {
        await init.pace()
        await window.admit(init.signal)
      } finally {
        waited?.()
      }
      let response: Response | undefined
      try {
        response = await fetchImpl(`${options.baseUri}${path}`, {
          method,
          headers: { Authorization: options.token, 'LD-API-Version': API_VERSION, Accept: 'application/json', ...headers },
          body,
          signal: init.signal,
        })
      } catch (error) {
        if (init.signal.aborted) throw error
        if (isTransientNetworkError(error) && (await backOff(++failures, init.signal, options.random))) continue
        throw new Error(`LaunchDarkly could not be reached for ${method} ${path}${failures > 0 ? ` after ${failures} attempts` : ''}: ${describeNetworkError(error)}`, { cause: error })
      } finally {
        window.settle(response?.headers, response?.status)
      }
      if (isTransientStatus(response.status) && failures + 1 < TRANSIENT_ATTEMPTS) {
        await response.body?.cancel()
        await backOff(++failures, init.signal, options.random, parseRetryAfterMs(response.headers.get('retry-after'), now()))
        continue
      }
      if (response.status !== 429) return response
      await response.body?.cancel()
      await delay(retryDelayMs(response.headers, now()), init.signal)
    }
  }

  const flagPath = (flag: FlagRef) => `/api/v2/flags/${encodeURIComponent(flag.project)}/${encodeURIComponent(flag.key)}`

  const flagEnvironmentPath = (flag: FlagRef) =>
    `/api/v2/projects/${encodeURIComponent(flag.project)}/flags/${encodeURIComponent(flag.key)}/environments/${encodeURIComponent(flag.environment)}`

  return {
    async readFlag(flag, init) {
      const path = `${flagPath(flag)}?env=${encodeURIComponent(flag.environment)}`
      const response = await send('GET /flags/{project}/{key}', 'GET', path, init)
      if (response.status === 404) {
        await response.body?.cancel()
        return null
      }
      if (!response.ok) throw await failure(response, `read flag ${flag.key}`, options.apiTokenEnv)
      const view = flagView((await response.json()) as RestFlag, flag.environment)
      if (!view) throw environmentNotFound(`flag ${flag.key} in project ${flag.project}`, flag.environment)
      return view
    },

    async listFlags(project, environment, init) {
      const flags = new Map<string, FlagView>()
      let offset = 0
      for (let pages = 1; ; pages++) {
        const query = new URLSearchParams({ env: environment, summary: 'true', limit: String(LIST_PAGE_SIZE), offset: String(offset) })
        const response = await send('GET /flags/{project}', 'GET', `/api/v2/flags/${encodeURIComponent(project)}?${query}`, init)
        if (!response.ok) throw await failure(response, `list the flags of project ${project}`, options.apiTokenEnv)
        const body = (await response.json()) as { items?: RestFlag[]; totalCount?: unknown }
        const items = body.items ?? []
        offset += items.length
        let added = 0
        for (const item of items) {
          if (typeof item.key !== 'string') continue
          const view = flagView(item, environment)
          if (!view) throw environmentNotFound(`project ${project}`, environment)
          if (!flags.has(item.key)) added++
          flags.set(item.key, view)
        }
        // A page that adds nothing ends the list even if totalCount says otherwise: a server ignoring `offset`
        // would otherwise be asked for the same page forever.
        const total = typeof body.totalCount === 'number' ? body.totalCount : offset
        if (added === 0 || offset >= total) return { flags, pages }
      }
    },

    async patchFlag(flag, instruction, comment, init, patch = {}) {
      const body = JSON.stringify({ environmentKey: flag.environment, comment, instructions: [{ kind: instruction }] })
      const path = `${flagPath(flag)}${patch.ignoreConflicts ? '?ignoreConflicts=true' : ''}`
      const response = await send('PATCH /flags/{project}/{key}', 'PATCH', path, init, { 'Content-Type': SEMANTIC_PATCH_CONTENT_TYPE }, body)
      if (!response.ok) throw await failure(response, `${instruction} ${flag.key} in ${flag.environment}`, options.apiTokenEnv)
      await response.body?.cancel()
    },

    async listEnvironments(project, init) {
      const environments: EnvironmentView[] = []
      for (let offset = 0; ; ) {
        const query = new URLSearchParams({ limit: String(LIST_PAGE_SIZE), offset: String(offset) })
        const response = await send('GET /projects/{project}/environments', 'GET', `/api/v2/projects/${encodeURIComponent(project)}/environments?${query}`, init)
        if (response.status === 404) {
          await response.body?.cancel()
          return null
        }
        if (!response.ok) throw await failure(response, `list the environments of project ${project}`, options.apiTokenEnv)
        const body = (await response.json()) as {
          items?: { key?: unknown; apiKey?: unknown; approvalSettings?: { required?: unknown } }[]
          totalCount?: unknown
        }
        const items = body.items ?? []
        for (const item of items) {
          if (typeof item.key !== 'string') continue
          environments.push({
            key: item.key,
            ...(typeof item.apiKey === 'string' && item.apiKey !== '' ? { sdkKey: item.apiKey } : {}),
            approvalsRequired: item.approvalSettings?.required === true,
          })
        }
        offset += items.length
        const total = typeof body.totalCount === 'number' ? body.totalCount : offset
        if (items.length === 0 || offset >= total) return environments
      }
    },

    async listScheduledChanges(flag, init) {
      const response = await send('GET /projects/{project}/flags/{key}/environments/{env}/scheduled-changes', 'GET', `${flagEnvironmentPath(flag)}/scheduled-changes`, init)
      if (!response.ok) throw await failure(response, `list the scheduled changes of ${flag.key} in ${flag.environment}`, options.apiTokenEnv)
      const body = (await response.json()) as { items?: { _id?: unknown; executionDate?: unknown; instructions?: { kind?: unknown }[] }[] }
      return (body.items ?? []).map((item) => ({
        id: String(item._id ?? ''),
        executionDate: typeof item.executionDate === 'number' ? item.executionDate : null,
        instructions: instructionKinds(item.instructions),
      }))
    },

    async listTriggers(flag, init) {
      const path = `/api/v2/flags/${encodeURIComponent(flag.project)}/${encodeURIComponent(flag.key)}/triggers/${encodeURIComponent(flag.environment)}`
      const response = await send('GET /flags/{project}/{key}/triggers/{env}', 'GET', path, init)
      if (!response.ok) throw await failure(response, `list the triggers of ${flag.key} in ${flag.environment}`, options.apiTokenEnv)
      const body = (await response.json()) as { items?: { _id?: unknown; enabled?: unknown; integrationKey?: unknown; instructions?: { kind?: unknown }[] }[] }
      return (body.items ?? []).map((item) => ({
        id: String(item._id ?? ''),
        enabled: item.enabled !== false,
        integrationKey: typeof item.integrationKey === 'string' ? item.integrationKey : null,
        instructions: instructionKinds(item.instructions),
      }))
    },
  }
}

/** The parts of a REST `FeatureFlag` read here. */
interface RestFlag {
  key?: unknown
  variations?: { value?: JsonValue }[]
  environments?: Record<string, { on?: unknown; offVariation?: unknown }>
}

/** The flag in `environment`, or undefined when the answer has no configuration for it. */
function flagView(flag: RestFlag, environment: string): FlagView | undefined {
  const config = flag.environments?.[environment]
  if (typeof config?.on !== 'boolean') return undefined
  return {
    on: config.on,
    variations: (flag.variations ?? []).map((variation) => variation.value ?? null),
    offVariation: typeof config.offVariation === 'number' ? config.offVariation : null,
  }
}

function instructionKinds(instructions: { kind?: unknown }[] | undefined): string[] {
  return (instructions ?? []).flatMap((instruction) => (typeof instruction.kind === 'string' ? [instruction.kind] : []))
}

/** `fetch failed` says nothing; the socket's error code (ECONNRESET, ECONNREFUSED, ...) says what happened. */
function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause
  return cause?.code ?? cause?.message ?? (error as Error).message
}

function environmentNotFound(what: string, environment: string): PrimitiveError {
  return new PrimitiveError(
    `${what} has no environment ${environment}`,
    'check flagOff.environment in the runbook against the project’s environment keys',
    'LaunchDarklyEnvironmentNotFound',
  )
}

const HINTS: Record<number, [code: string, hint: (tokenEnv: string) => string]> = {
  401: ['LaunchDarklyUnauthorized', (tokenEnv) => `${tokenEnv} does not hold a valid LaunchDarkly access token`],
  403: [
    'LaunchDarklyForbidden',
    () => 'give the break-glass token a role that may update flag targeting in this environment (docs/primitives/launchdarkly.md)',
  ],
  404: ['LaunchDarklyNotFound', () => 'check flagOff.project and the flag keys in the runbook'],
  405: [
    'LaunchDarklyApprovalRequired',
    () =>
      'the environment requires approvals for flag changes: give the break-glass token a custom role with the bypassRequiredApproval action on these flags (docs/primitives/launchdarkly.md), or turn the flag off in the LaunchDarkly UI',
  ],
}

async function failure(response: Response, what: string, tokenEnv: string): Promise<Error> {
  const text = await response.text()
  let message = text.slice(0, 300)
  try {
    const parsed = JSON.parse(text) as { message?: string; code?: string }
    if (parsed.message) message = parsed.code ? `${parsed.code}: ${parsed.message}` : parsed.message
  } catch {
    // Not JSON: keep the raw text, already cut short.
  }
  const detail = `LaunchDarkly answered ${response.status} to ${what}: ${message}`
  const known = HINTS[response.status]
  if (known) return new PrimitiveError(detail, known[1](tokenEnv), known[0])
  return new Error(detail)
}
