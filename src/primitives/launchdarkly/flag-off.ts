/**
 * LaunchDarkly flag off: the semantic patch `turnFlagOff` in one environment, verified when the REST API reads the
 * flag back off AND a server-SDK client streaming that environment evaluates it with reason OFF. Restore turns the
 * flag on only if it was on; targeting, rules and variations are never touched.
 */
import { PrimitiveError, type HaltEstimate, type Primitive, type PrimitiveContext, type RateBucket, type Target, type TargetState } from '../../core/primitive.js'
import type { FlagOffSpec } from '../../core/runbook/schema.js'
import { pollUntil } from '../../core/wait.js'
import type { PrimitiveConfig } from '../registry.js'
import { createBatchedFlagReader } from './batched-reader.js'
import { createFetchRestClient, LIST_PAGE_SIZE, type FlagRef, type LaunchDarklyRestClient, type RequestOptions } from './rest-client.js'
import { startSdkEvaluator, type EvaluatorStarter, type FlagEvaluator } from './sdk-evaluator.js'
import { launchDarklySettings, readSecret, type LaunchDarklySettings } from './settings.js'

/**
 * LaunchDarkly counts REST requests per access token and route in 10-second windows and publishes no numbers
 * (PROTOCOLS F.1), but reports on every answer how many requests the window has left and when it resets. Each
 * route's bucket releases a whole window's worth at once (the sandbox allows 100 per route per window) and
 * refills at 10 requests/s; the REST client holds requests back once the server reports the window spent and
 * releases them at its reset (RateWindow), so a halt uses each window fully without being answered 429. Reads
 * (list, get) and PATCHes are different routes, so each has its own bucket and patches never queue behind reads;
 * both together stay under the token-wide limit (500 per window in the sandbox). 429s are still honoured.
 */
const ROUTE_RATE_PER_SECOND = 10
const ROUTE_BURST = 100
/** Typical time for a flag change to reach a streaming SDK; LaunchDarkly publishes no figure. */
const STREAM_PUSH_MS = 200
/** SDK evaluation is local and free, so it is polled briskly. */
const SDK_POLL = { intervalMs: 20, maxIntervalMs: 200 }

export interface FlagOffDependencies {
  restClient?: (settings: LaunchDarklySettings, token: string) => LaunchDarklyRestClient
  startEvaluator?: EvaluatorStarter
}

export function createFlagOffPrimitive(config: PrimitiveConfig, dependencies: FlagOffDependencies = {}): Primitive<FlagOffSpec> {
  const settings = launchDarklySettings(config)
  const makeRestClient =
    dependencies.restClient ??
    ((s: LaunchDarklySettings, token: string) => createFetchRestClient({ baseUri: s.baseUri, token, apiTokenEnv: s.apiTokenEnv }))
  const startEvaluator = dependencies.startEvaluator ?? startSdkEvaluator
  const readBucket: RateBucket = { key: `launchdarkly-read:${settings.baseUri}`, ratePerSecond: ROUTE_RATE_PER_SECOND, burst: ROUTE_BURST }
  const patchBucket: RateBucket = { key: `launchdarkly-patch:${settings.baseUri}`, ratePerSecond: ROUTE_RATE_PER_SECOND, burst: ROUTE_BURST }

  let rest: LaunchDarklyRestClient | undefined
  const restClient = (): LaunchDarklyRestClient => {
    rest ??= makeRestClient(settings, readSecret(config.env, settings.apiTokenEnv, 'API access token', 'LaunchDarklyTokenMissing'))
    return rest
  }
  const reader = createBatchedFlagReader(restClient)

  const evaluators = new Map<string, FlagEvaluator>()
  /** One streaming client per environment, started on first need and kept until `close`. */
  const evaluatorFor = (environment: string): FlagEvaluator => {
    let evaluator = evaluators.get(environment)
    if (!evaluator) {
      const variable = settings.sdkKeyEnvFor(environment)
      const sdkKey = readSecret(config.env, variable, `server SDK key for environment ${environment}`, 'LaunchDarklySdkKeyMissing')
      evaluator = startEvaluator(environment, sdkKey, settings.sdkEndpoints)
      evaluators.set(environment, evaluator)
    }
    return evaluator
  }

  const readOptions = (ctx: PrimitiveContext): RequestOptions => ({ signal: ctx.signal, pace: () => ctx.pace(readBucket), pauseDeadline: ctx.pauseDeadline })
  const patchOptions = (ctx: PrimitiveContext): RequestOptions => ({ signal: ctx.signal, pace: () => ctx.pace(patchBucket) })

  const readOn = async (flag: FlagRef, ctx: PrimitiveContext): Promise<boolean> => {
    const on = await reader.readOn(flag, readOptions(ctx))
    if (on === null) {
      throw new PrimitiveError(`flag ${flag.key} no longer exists in project ${flag.project}`, undefined, 'LaunchDarklyFlagNotFound')
    }
    return on
  }

  const comment = (ctx: PrimitiveContext) => `killswitch ${ctx.invocationId}: ${ctx.reason}`

  return {
    kind: 'flagOff',

    async resolve(spec, ctx) {
      // The token is checked first: without it nothing else can be done.
      restClient()
      // So is the SDK key. The streaming client itself starts once the first patch is answered: loading the SDK
      // costs tens of milliseconds of CPU, which would otherwise delay the first patch, and a client that connects
      // after the patch is initialized with the flag already off.
      readSecret(config.env, settings.sdkKeyEnvFor(spec.environment), `server SDK key for environment ${spec.environment}`, 'LaunchDarklySdkKeyMissing')
      // All reads at once: the batched reader answers them with one list of the project.
      const flags = spec.flags.map((key) => ({ project: spec.project, environment: spec.environment, key }))
      const states = await Promise.all(flags.map((flag) => reader.readOn(flag, readOptions(ctx))))
      const missing = spec.flags.filter((_key, i) => states[i] === null)
      if (missing.length > 0) {
        throw new PrimitiveError(
          `no flag ${missing.join(', ')} in LaunchDarkly project ${spec.project}`,
          'fix flagOff.flags (flag keys, not names) or flagOff.project in the runbook',
          'LaunchDarklyFlagNotFound',
        )
      }
      return flags.map((flag, i) => ({ ...toTarget(flag), observed: { on: states[i]! } }))
    },

    async read(target, ctx) {
      return { on: await readOn(flagOf(target), ctx) }
    },

    isHalted: (state) => onOf(state) === false,

    sameState: (a, b) => onOf(a) === onOf(b),

    async apply(target, _before, ctx) {
      // Sent even when the flag reads off: the patch is idempotent on LaunchDarkly's side and leaves the reason in
      // the flag's audit log.
      const flag = flagOf(target)
      await restClient().patchFlag(flag, 'turnFlagOff', comment(ctx), patchOptions(ctx))
      evaluatorFor(flag.environment)
    },

    async verifyHalted(target, ctx) {
      const flag = flagOf(target)
      await pollUntil(async () => !(await readOn(flag, ctx)), { signal: ctx.signal })
      const evaluator = evaluatorFor(flag.environment)
      await pollUntil(async () => (await evaluator.reasonKind(flag.key, ctx.signal)) === 'OFF', { signal: ctx.signal, ...SDK_POLL })
    },

    async restore(target, snapshot, ctx) {
      if (!onOf(snapshot)) return
      await restClient().patchFlag(flagOf(target), 'turnFlagOn', comment(ctx), patchOptions(ctx))
    },

    async verifyRestored(target, snapshot, ctx) {
      const flag = flagOf(target)
      const wanted = onOf(snapshot)
      await pollUntil(async () => (await readOn(flag, ctx)) === wanted, { signal: ctx.signal })
      if (!wanted) return
      const evaluator = evaluatorFor(flag.environment)
      await pollUntil(
        async () => {
          const reason = await evaluator.reasonKind(flag.key, ctx.signal)
          return reason !== 'OFF' && reason !== 'ERROR'
        },
        { signal: ctx.signal, ...SDK_POLL },
      )
    },

    describe: (state) => (onOf(state) ? 'on' : 'off'),

    estimate(): HaltEstimate {
      // The snapshot comes with resolution's list, so a halt costs the semantic patch, then a share of a batched
      // read-back: one list page answers up to LIST_PAGE_SIZE flags, so the read bucket is counted at that multiple
      // of its rate. SDK evaluation makes no request.
      const batchedReadBack: RateBucket = { key: readBucket.key, ratePerSecond: ROUTE_RATE_PER_SECOND * LIST_PAGE_SIZE, burst: ROUTE_BURST }
      return { calls: [patchBucket, batchedReadBack], settleMs: STREAM_PUSH_MS }
    },

    async close() {
      for (const evaluator of evaluators.values()) evaluator.close()
      evaluators.clear()
    },
  }
}

function toTarget(flag: FlagRef): Target {
  return {
    id: `flag:${flag.project}:${flag.environment}:${flag.key}`,
    kind: 'flagOff',
    label: flag.key,
    locator: { project: flag.project, environment: flag.environment, key: flag.key },
  }
}

function flagOf(target: Target): FlagRef {
  const { project, environment, key } = target.locator
  if (typeof project !== 'string' || typeof environment !== 'string' || typeof key !== 'string') {
    throw new Error(`target ${target.id}: locator needs project, environment and key`)
  }
  return { project, environment, key }
}

function onOf(state: TargetState): boolean {
  if (typeof state.on !== 'boolean') throw new Error(`not a flag state: ${JSON.stringify(state)}`)
  return state.on
}
