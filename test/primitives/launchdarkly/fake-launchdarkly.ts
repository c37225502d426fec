/**
 * In-memory LaunchDarkly for unit tests: a `LaunchDarklyRestClient` over a flag table, and SDK evaluators that
 * see that table only as of the last `propagate()` (the stream push), so tests control when the SDK catches up.
 * Flags are keyed `project/environment/key`; each is a boolean flag serving false when off unless `set` says
 * otherwise, and evaluates to its first variation when on. Every REST request is recorded in `calls` (a list, one per
 * page, as `LIST` with `project/environment`; the environments of a project as `ENVIRONMENTS` with the project).
 */
import type { JsonValue } from '../../../src/core/primitive.js'
import type {
  EnvironmentView,
  FlagInstruction,
  FlagList,
  FlagRef,
  FlagTrigger,
  FlagView,
  LaunchDarklyRestClient,
  PatchOptions,
  RequestOptions,
  ScheduledChange,
} from '../../../src/primitives/launchdarkly/rest-client.js'
import { PrimitiveError } from '../../../src/core/primitive.js'
import type { Evaluation, FlagEvaluator } from '../../../src/primitives/launchdarkly/sdk-evaluator.js'
import type { SdkEndpoints } from '../../../src/primitives/launchdarkly/settings.js'

export interface StartedEvaluator {
  environment: string
  sdkKey: string
  endpoints: SdkEndpoints
  closed: boolean
}

export interface Call {
  call: string
  flag: string
  comment?: string
  ignoreConflicts?: boolean
}

const id = (flag: FlagRef) => `${flag.project}/${flag.environment}/${flag.key}`

export class FakeLaunchDarkly implements LaunchDarklyRestClient {
  readonly calls: Call[] = []
  readonly tokens: string[] = []
  readonly evaluators: StartedEvaluator[] = []
  /** Flags per list page. */
  pageSize = 100
  /** When set, the next list request fails with it. */
  listFailure: Error | undefined
  /** Each project's environments; a project not here does not exist. */
  readonly environments = new Map<string, EnvironmentView[]>()
  /** Scheduled changes and triggers per flag (`project/environment/key`). */
  readonly scheduledChanges = new Map<string, ScheduledChange[]>()
  readonly triggers = new Map<string, FlagTrigger[]>()
  /** When set, every scheduled-change and trigger lookup fails with it. */
  lookupFailure: Error | undefined
  /** When set, every PATCH fails with it. */
  patchFailure: Error | undefined
  private readonly flags = new Map<string, FlagView>()
  private readonly streamed = new Map<string, FlagView>()
  private waiters: Array<() => void> = []
  private listWaiters: Array<() => void> = []

  set(project: string, environment: string, key: string, on: boolean, serving: { variations?: JsonValue[]; offVariation?: number | null } = {}): void {
    const previous = this.flags.get(`${project}/${environment}/${key}`)
    this.flags.set(`${project}/${environment}/${key}`, {
      on,
      variations: serving.variations ?? previous?.variations ?? [true, false],
      offVariation: serving.offVariation !== undefined ? serving.offVariation : (previous?.offVariation ?? 1),
    })
    if (!this.environments.has(project)) this.environments.set(project, [])
    const environments = this.environments.get(project)!
    if (!environments.some((e) => e.key === environment)) environments.push({ key: environment, sdkKey: `sdk-0000-${environment}`, approvalsRequired: false })
    this.propagate()
  }

  /** Changes the flag as the REST API shows it, before the stream pushes it to the SDK clients. */
  setUnstreamed(project: string, environment: string, key: string, on: boolean, serving: { variations?: JsonValue[]; offVariation?: number | null } = {}): void {
    const streamed = new Map(this.streamed)
    this.set(project, environment, key, on, serving)
    this.streamed.clear()
    for (const [k, view] of streamed) this.streamed.set(k, view)
  }

  on(project: string, environment: string, key: string): boolean | undefined {
    return this.flags.get(`${project}/${environment}/${key}`)?.on
  }

  /** The stream pushes every change to the SDK clients. */
  propagate(): void {
    for (const [key, view] of this.flags) this.streamed.set(key, { ...view })
  }

  /** Resolves the next time an SDK evaluator is asked for an evaluation. */
  nextEvaluation(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Resolves after the next list request has been answered. */
  nextList(): Promise<void> {
    return new Promise((resolve) => this.listWaiters.push(resolve))
  }

  async readFlag(flag: FlagRef, options: RequestOptions): Promise<FlagView | null> {
    await options.pace()
    this.calls.push({ call: 'GET', flag: flag.key })
    const view = this.flags.get(id(flag))
    return view ? { ...view } : null
  }

  async listFlags(project: string, environment: string, options: RequestOptions): Promise<FlagList> {
    const prefix = `${project}/${environment}/`
    const flags = [...this.flags].filter(([key]) => key.startsWith(prefix))
    const pages = Math.max(1, Math.ceil(flags.length / this.pageSize))
    for (let page = 0; page < pages; page++) {
      await options.pace()
      this.calls.push({ call: 'LIST', flag: `${project}/${environment}` })
      const failure = this.listFailure
      this.listFailure = undefined
      if (failure) throw failure
    }
    const listed = { flags: new Map(flags.map(([key, view]) => [key.slice(prefix.length), { ...view }])), pages }
    const waiters = this.listWaiters
    this.listWaiters = []
    // After the answer is returned, so that the waiter runs once the caller has seen it.
    setTimeout(() => {
      for (const resolve of waiters) resolve()
    })
    return listed
  }

  async patchFlag(flag: FlagRef, instruction: FlagInstruction, comment: string, options: RequestOptions, patch: PatchOptions = {}): Promise<void> {
    await options.pace()
    this.calls.push({ call: instruction, flag: flag.key, comment, ...(patch.ignoreConflicts ? { ignoreConflicts: true } : {}) })
    if (this.patchFailure) throw this.patchFailure
    const view = this.flags.get(id(flag))!
    this.flags.set(id(flag), { ...view, on: instruction === 'turnFlagOn' })
  }

  async listEnvironments(project: string, options: RequestOptions): Promise<EnvironmentView[] | null> {
    await options.pace()
    this.calls.push({ call: 'ENVIRONMENTS', flag: project })
    return this.environments.get(project)?.map((e) => ({ ...e })) ?? null
  }

  async listScheduledChanges(flag: FlagRef, options: RequestOptions): Promise<ScheduledChange[]> {
    await options.pace()
    this.calls.push({ call: 'SCHEDULED', flag: flag.key })
    return this.lookup(flag, this.scheduledChanges)
  }

  async listTriggers(flag: FlagRef, options: RequestOptions): Promise<FlagTrigger[]> {
    await options.pace()
    this.calls.push({ call: 'TRIGGERS', flag: flag.key })
    return this.lookup(flag, this.triggers)
  }

  startEvaluator = (environment: string, sdkKey: string, endpoints: SdkEndpoints): FlagEvaluator => {
    const started: StartedEvaluator = { environment, sdkKey, endpoints, closed: false }
    this.evaluators.push(started)
    return {
      evaluate: async (flagKey): Promise<Evaluation> => {
        const waiters = this.waiters
        this.waiters = []
        for (const resolve of waiters) resolve()
        const entry = [...this.streamed].find(([key]) => key.endsWith(`/${environment}/${flagKey}`))
        if (!entry) return { reasonKind: 'ERROR', value: null }
        const view = entry[1]
        if (view.on) return { reasonKind: 'FALLTHROUGH', value: view.variations[0] ?? null }
        return { reasonKind: 'OFF', value: view.offVariation === null ? null : (view.variations[view.offVariation] ?? null) }
      },
      close: () => {
        started.closed = true
      },
    }
  }

  private lookup<T>(flag: FlagRef, table: Map<string, T[]>): T[] {
    if (this.lookupFailure) throw this.lookupFailure
    if (!this.flags.has(id(flag))) throw new PrimitiveError(`LaunchDarkly answered 404 to ${flag.key}`, undefined, 'LaunchDarklyNotFound')
    return table.get(id(flag)) ?? []
  }
}
