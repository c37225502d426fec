/**
 * LaunchDarkly flag off: the semantic patch `turnFlagOff` in one environment, sent with `ignoreConflicts` so that a
 * pending or scheduled change cannot block an emergency stop, and verified when the REST API reads the flag back off
 * AND a server-SDK client streaming that environment evaluates it with reason OFF and the step's halt value.
 *
 * "Off" must mean the agents stop: a flag whose off variation serves anything but the halt value (or that has none,
 * so each agent gets its own fallback) is never turned off, and fails with the fix named. So does a flag the step
 * names that does not exist (or is archived), alone: the step's other flags are still turned off. Restore turns a
 * flag on only if it was on; targeting, rules and variations are never touched.
 */
import { isDeepStrictEqual } from 'node:util'
import { PrimitiveError, type HaltEstimate, type JsonValue, type Primitive, type PrimitiveContext, type RateBucket, type Target } from '../../core/primitive.js'
import type { FlagOffSpec } from '../../core/runbook/schema.js'
import { pollUntil } from '../../core/wait.js'
import type { PrimitiveConfig } from '../registry.js'
import { createBatchedFlagReader } from './batched-reader.js'
import { laterChangeWarnings } from './later-changes.js'
import { asFlagState, flagState, haltValueFor, type FlagState } from './off-variation.js'
import { createFetchRestClient, LIST_PAGE_SIZE, type FlagRef, type FlagView, type LaunchDarklyRestClient, type RequestOptions } from './rest-client.js'
import { checkSdkKeyEnvironment } from './sdk-key-check.js'
import { startSdkEvaluator, type EvaluatorStarter, type FlagEvaluator } from './sdk-evaluator.js'
import { launchDarklySettings, readSecret, type LaunchDarklySettings } from './settings.js'

/**
 * LaunchDarkly counts REST requests per access token and route in 10-second windows and publishes no numbers
 * (docs/primitives/launchdarkly.md), but reports on every answer how many requests the window has left and when it
 * resets. Each route's bucket releases a whole window's worth at once (the sandbox allows 100 per route per window)
 * and refills at 10 requests/s; the REST client holds requests back once the server reports the window spent and
 * releases them at its reset (RateWindow), so a halt uses each window fully without being answered 429. Every route
 * has its own bucket, so patches never queue behind reads. 429s are still honoured.
 */
const ROUTE_RATE_PER_SECOND = 10
const ROUTE_BURST = 100
/**
 * Scheduled changes and triggers are looked up per flag, two requests each, while the flags are listed: up to a
 * route's burst this costs resolution nothing. A larger step is not looked up, and says so: the lookups would hold
 * back its first patch by their pacing, and share LaunchDarkly's token-wide limit with the patches.
 */
const LATER_CHANGE_LOOKUP_LIMIT = ROUTE_BURST
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
  const bucket = (route: string): RateBucket => ({ key: `launchdarkly-${route}:${settings.baseUri}`, ratePerSecond: ROUTE_RATE_PER_SECOND, burst: ROUTE_BURST })
  const readBucket = bucket('read')
  const patchBucket = bucket('patch')
  const environmentsBucket = bucket('environments')
  const scheduledChangesBucket = bucket('scheduled-changes')
  const triggersBucket = bucket('triggers')

  let rest: LaunchDarklyRestClient | undefined
  const restClient = (): LaunchDarklyRestClient => {
    rest ??= makeRestClient(settings, readSecret(config.env, settings.apiTokenEnv, 'API access token', 'LaunchDarklyTokenMissing'))
    return rest
  }
  const reader = createBatchedFlagReader(restClient)

  const sdkKeyOf = (environment: string) => {
    const variable = settings.sdkKeyEnvFor(environment)
    return { variable, sdkKey: readSecret(config.env, variable, `server SDK key for environment ${environment}`, 'LaunchDarklySdkKeyMissing') }
  }
  const evaluators = new Map<string, FlagEvaluator>()
  /** One streaming client per environment, started on first need and kept until `close`. */
  const evaluatorFor = (environment: string): FlagEvaluator => {
    let evaluator = evaluators.get(environment)
    if (!evaluator) {
      evaluator = startEvaluator(environment, sdkKeyOf(environment).sdkKey, settings.sdkEndpoints)
      evaluators.set(environment, evaluator)
    }
    return evaluator
  }

  const paced = (ctx: PrimitiveContext, rateBucket: RateBucket): RequestOptions => ({ signal: ctx.signal, pace: () => ctx.pace(rateBucket), pauseDeadline: ctx.pauseDeadline })
  const readOptions = (ctx: PrimitiveContext) => paced(ctx, readBucket)
  const patchOptions = (ctx: PrimitiveContext): RequestOptions => ({ signal: ctx.signal, pace: () => ctx.pace(patchBucket) })

  const readView = async (flag: FlagRef, ctx: PrimitiveContext): Promise<FlagView> => {
    const view = await reader.read(flag, readOptions(ctx))
    if (view === null) {
      throw new PrimitiveError(`flag ${flag.key} no longer exists in project ${flag.project} (deleted or archived)`, undefined, 'LaunchDarklyFlagNotFound')
    }
    return view
  }

  const comment = (ctx: PrimitiveContext) => `killswitch ${ctx.invocationId}: ${ctx.reason}`

  /** Each environment's SDK key is checked once per invocation, however many steps name it; its warnings told once. */
  const sdkKeyChecks = new Map<string, Promise<string[]>>()
  const pendingLookups = new Set<Promise<void>>()
  const checkSdkKey = async (project: string, environment: string, ctx: PrimitiveContext): Promise<string[]> => {
    const id = `${project}\0${environment}`
    const known = sdkKeyChecks.get(id)
    if (known) return known.then(() => [])
    const { variable, sdkKey } = sdkKeyOf(environment)
    const check = checkSdkKeyEnvironment(restClient(), { project, environment, sdkKey, variable }, paced(ctx, environmentsBucket))
    sdkKeyChecks.set(id, check)
    return check
  }

  return {
    kind: 'flagOff',

    async resolve(spec, ctx) {
      // The token is checked first: without it nothing else can be done. So is the SDK key. The streaming client
      // itself starts once the first patch is answered: loading the SDK costs tens of milliseconds of CPU, which
      // would otherwise delay the first patch, and a client that connects after the patch is initialized with the
      // flag already off.
      restClient()
      sdkKeyOf(spec.environment)
      const declared = spec.haltValue as JsonValue | undefined
      const flags = spec.flags.map((key) => ({ project: spec.project, environment: spec.environment, key }))
      const lookUpLaterChanges = flags.length <= LATER_CHANGE_LOOKUP_LIMIT
      // All at once: the batched reader answers every flag with one list of the project; the SDK key's environment
      // is asked beside it. The flags' scheduled changes and triggers (each on its own route) only make warnings:
      // resolution does not wait for them, so they never hold back the first patch; close() waits for them, so
      // plan and halt report them all the same.
      const later = lookUpLaterChanges
        ? laterChangeWarnings(restClient(), flags, { scheduledChanges: paced(ctx, scheduledChangesBucket), triggers: paced(ctx, triggersBucket) }).then(
            (warnings) => warnings.forEach((warning) => ctx.warn(warning)),
            (error: unknown) => ctx.warn(`could not check the flags for scheduled changes and triggers that would undo a halt (${(error as Error).message})`),
          )
        : Promise.resolve()
      pendingLookups.add(later)
      const [views, keyWarnings] = await Promise.all([
        Promise.all(flags.map((flag) => reader.read(flag, readOptions(ctx)))),
        checkSdkKey(spec.project, spec.environment, ctx),
      ])
      for (const warning of keyWarnings) ctx.warn(warning)
      if (!lookUpLaterChanges) {
        ctx.warn(
          `${flags.length} flags in one flagOff step: their scheduled changes and triggers, which could turn them back on after a halt, were not checked (at most ${LATER_CHANGE_LOOKUP_LIMIT} per step are, so that the lookups never delay the first flag turned off)`,
        )
      }
      return flags.map((flag, i): Target => {
        const view = views[i]!
        if (view === null) {
          return {
            ...toTarget(flag, undefined),
            missing: {
              message: `flag ${flag.key} is not in LaunchDarkly project ${flag.project} (no such key, or the flag is archived)`,
              hint: 'fix flagOff.flags in the runbook (flag keys, not names) or flagOff.project, or unarchive the flag',
              code: 'LaunchDarklyFlagNotFound',
            },
          }
        }
        const state = flagState(flag, view, declared)
        if (state.unfit) ctx.warn(`${state.unfit.reason}; a halt fails it without changing it: ${state.unfit.fix}`)
        return { ...toTarget(flag, haltValueFor(declared, view.variations)), observed: state }
      })
    },

    async read(target, ctx) {
      const flag = flagOf(target)
      return flagState(flag, await readView(flag, ctx), haltValueOf(target))
    },

    isHalted: (state) => {
      const flag = asFlagState(state)
      return !flag.on && flag.unfit === undefined
    },

    sameState: (a, b) => asFlagState(a).on === asFlagState(b).on,

    async apply(target, before, ctx) {
      const flag = flagOf(target)
      refuseUnfit(asFlagState(before))
      // Sent even when the flag reads off: the patch is idempotent on LaunchDarkly's side and leaves the reason in
      // the flag's audit log. Conflicts are ignored: a pending approval request or scheduled change must not keep
      // the agents running; LaunchDarkly then fails those changes if they are applied later.
      await restClient().patchFlag(flag, 'turnFlagOff', comment(ctx), patchOptions(ctx), { ignoreConflicts: true })
      evaluatorFor(flag.environment)
    },

    async verifyHalted(target, ctx) {
      const flag = flagOf(target)
      const haltValue = haltValueOf(target) ?? false
      await pollUntil(async () => {
        const state = flagState(flag, await readView(flag, ctx), haltValueOf(target))
        refuseUnfit(state)
        return !state.on
      }, { signal: ctx.signal })
      const evaluator = evaluatorFor(flag.environment)
      await pollUntil(
        async () => {
          const evaluation = await evaluator.evaluate(flag.key, ctx.signal)
          if (evaluation.reasonKind !== 'OFF') return false
          if (isDeepStrictEqual(evaluation.value, haltValue)) return true
          // The SDK has the flag off and serves something else: the agents are not stopped, and waiting changes nothing.
          throw new PrimitiveError(
            `the LaunchDarkly SDK evaluates flag ${flag.key} off in ${flag.environment} but serves ${JSON.stringify(evaluation.value)}, not the halt value ${JSON.stringify(haltValue)}${evaluation.value === null ? ' (no off variation: each agent gets its own fallback)' : ''}`,
            `set the off variation of ${flag.key} in ${flag.environment} to ${JSON.stringify(haltValue)}, then halt again`,
            'LaunchDarklyOffVariationUnfit',
          )
        },
        { signal: ctx.signal, ...SDK_POLL },
      )
    },

    async restore(target, snapshot, ctx) {
      if (!asFlagState(snapshot).on) return
      await restClient().patchFlag(flagOf(target), 'turnFlagOn', comment(ctx), patchOptions(ctx))
    },

    async verifyRestored(target, snapshot, ctx) {
      const flag = flagOf(target)
      const wanted = asFlagState(snapshot).on
      await pollUntil(async () => (await readView(flag, ctx)).on === wanted, { signal: ctx.signal })
      if (!wanted) return
      const evaluator = evaluatorFor(flag.environment)
      await pollUntil(
        async () => {
          const { reasonKind } = await evaluator.evaluate(flag.key, ctx.signal)
          return reasonKind !== 'OFF' && reasonKind !== 'ERROR'
        },
        { signal: ctx.signal, ...SDK_POLL },
      )
    },

    describe: (state) => {
      const flag = asFlagState(state)
      return `${flag.on ? 'on' : 'off'}${flag.unfit ? ` (off does not stop the agents: ${flag.unfit.reason})` : ''}`
    },

    estimate(): HaltEstimate {
      // The snapshot comes with resolution's list, so a halt costs the semantic patch, then a share of a batched
      // read-back: one list page answers up to LIST_PAGE_SIZE flags, so the read bucket is counted at that multiple
      // of its rate. SDK evaluation makes no request.
      const batchedReadBack: RateBucket = { key: readBucket.key, ratePerSecond: ROUTE_RATE_PER_SECOND * LIST_PAGE_SIZE, burst: ROUTE_BURST }
      return { calls: [patchBucket, batchedReadBack], settleMs: STREAM_PUSH_MS }
    },

    async close() {
      // The scheduled-change and trigger lookups still running: their warnings belong to this invocation's report.
      await Promise.all(pendingLookups)
      for (const evaluator of evaluators.values()) evaluator.close()
      evaluators.clear()
    },
  }
}

/** A flag whose off variation does not serve the halt value is refused before any request that would change it. */
function refuseUnfit(state: FlagState): void {
  if (state.unfit) throw new PrimitiveError(state.unfit.reason, state.unfit.fix, 'LaunchDarklyOffVariationUnfit')
}

/**
 * The locator carries the halt value (as JSON text, a locator holding only scalars) so that a later process reading
 * the target from the journal judges it by the same value.
 */
function toTarget(flag: FlagRef, haltValue: JsonValue | undefined): Target {
  return {
    id: `flag:${flag.project}:${flag.environment}:${flag.key}`,
    kind: 'flagOff',
    label: flag.key,
    locator: { project: flag.project, environment: flag.environment, key: flag.key, ...(haltValue === undefined ? {} : { haltValue: JSON.stringify(haltValue) }) },
  }
}

function flagOf(target: Target): FlagRef {
  const { project, environment, key } = target.locator
  if (typeof project !== 'string' || typeof environment !== 'string' || typeof key !== 'string') {
    throw new Error(`target ${target.id}: locator needs project, environment and key`)
  }
  return { project, environment, key }
}

/** The target's halt value; undefined for a target journaled before halt values existed (a boolean flag: false). */
function haltValueOf(target: Target): JsonValue | undefined {
  const text = target.locator.haltValue
  return typeof text === 'string' ? (JSON.parse(text) as JsonValue) : undefined
}
