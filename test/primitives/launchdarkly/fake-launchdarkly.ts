/**
 * In-memory LaunchDarkly for unit tests: a `LaunchDarklyRestClient` over a flag table, and SDK evaluators that
 * see that table only as of the last `propagate()` (the stream push), so tests control when the SDK catches up.
 * Flags are keyed `project/environment/key`. Every REST request is recorded in `calls` (a list, one per page, as
 * `LIST` with `project/environment`).
 */
import type { FlagInstruction, FlagList, FlagRef, LaunchDarklyRestClient, RequestOptions } from '../../../src/primitives/launchdarkly/rest-client.js'
import type { FlagEvaluator } from '../../../src/primitives/launchdarkly/sdk-evaluator.js'
import type { SdkEndpoints } from '../../../src/primitives/launchdarkly/settings.js'

export interface StartedEvaluator {
  environment: string
  sdkKey: string
  endpoints: SdkEndpoints
  closed: boolean
}

export class FakeLaunchDarkly implements LaunchDarklyRestClient {
  readonly calls: Array<{ call: string; flag: string; comment?: string }> = []
  readonly tokens: string[] = []
  readonly evaluators: StartedEvaluator[] = []
  /** Flags per list page. */
  pageSize = 100
  /** When set, the next list request fails with it. */
  listFailure: Error | undefined
  private readonly flags = new Map<string, boolean>()
  private readonly streamed = new Map<string, boolean>()
  private waiters: Array<() => void> = []
  private listWaiters: Array<() => void> = []

  set(project: string, environment: string, key: string, on: boolean): void {
    this.flags.set(`${project}/${environment}/${key}`, on)
    this.propagate()
  }

  on(project: string, environment: string, key: string): boolean | undefined {
    return this.flags.get(`${project}/${environment}/${key}`)
  }

  /** The stream pushes every change to the SDK clients. */
  propagate(): void {
    for (const [key, on] of this.flags) this.streamed.set(key, on)
  }

  /** Resolves the next time an SDK evaluator is asked for a reason. */
  nextEvaluation(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Resolves after the next list request has been answered. */
  nextList(): Promise<void> {
    return new Promise((resolve) => this.listWaiters.push(resolve))
  }

  async readFlagOn(flag: FlagRef, options: RequestOptions): Promise<boolean | null> {
    await options.pace()
    this.calls.push({ call: 'GET', flag: flag.key })
    return this.flags.get(`${flag.project}/${flag.environment}/${flag.key}`) ?? null
  }

  async listFlagsOn(project: string, environment: string, options: RequestOptions): Promise<FlagList> {
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
    const listed = { on: new Map(flags.map(([key, on]) => [key.slice(prefix.length), on])), pages }
    const waiters = this.listWaiters
    this.listWaiters = []
    // After the answer is returned, so that the waiter runs once the caller has seen it.
    setTimeout(() => {
      for (const resolve of waiters) resolve()
    })
    return listed
  }

  async patchFlag(flag: FlagRef, instruction: FlagInstruction, comment: string, options: RequestOptions): Promise<void> {
    await options.pace()
    this.calls.push({ call: instruction, flag: flag.key, comment })
    this.flags.set(`${flag.project}/${flag.environment}/${flag.key}`, instruction === 'turnFlagOn')
  }

  startEvaluator = (environment: string, sdkKey: string, endpoints: SdkEndpoints): FlagEvaluator => {
    const started: StartedEvaluator = { environment, sdkKey, endpoints, closed: false }
    this.evaluators.push(started)
    return {
      reasonKind: async (flagKey) => {
        const waiters = this.waiters
        this.waiters = []
        for (const resolve of waiters) resolve()
        const entry = [...this.streamed].find(([key]) => key.endsWith(`/${environment}/${flagKey}`))
        if (!entry) return 'ERROR'
        return entry[1] ? 'FALLTHROUGH' : 'OFF'
      },
      close: () => {
        started.closed = true
      },
    }
  }
}
