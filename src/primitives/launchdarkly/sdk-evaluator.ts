/**
 * Evaluates flags the way the agents see them: a server-SDK client streaming one environment. Halt verification
 * requires this client to evaluate the flag with reason OFF and the halt value, which proves the change reached the
 * SDK stream and not only the REST API, and that what the agents now get stops them. The SDK is imported on first
 * use only.
 */
import { PrimitiveError, type JsonValue } from '../../core/primitive.js'
import type { SdkEndpoints } from './settings.js'

export interface Evaluation {
  /** The evaluation reason kind: `OFF`, `FALLTHROUGH`, `ERROR`, ... */
  reasonKind: string
  /** The value served; null when the SDK fell back to the caller's default (no off variation, unknown flag). */
  value: JsonValue
}

export interface FlagEvaluator {
  /** How the flag evaluates once the client is initialized. */
  evaluate(flagKey: string, signal: AbortSignal): Promise<Evaluation>
  close(): void
}

export type EvaluatorStarter = (environment: string, sdkKey: string, endpoints: SdkEndpoints) => FlagEvaluator

/**
 * The context every verification evaluates for; flag-off does not depend on it, as targeting is skipped when off.
 * The fallback is null, which no halt value can be: a flag without an off variation shows as serving null.
 */
const VERIFIER_CONTEXT = { kind: 'user', key: 'killswitch-verifier', anonymous: true }

export const startSdkEvaluator: EvaluatorStarter = (environment, sdkKey, endpoints) => {
  const client = import('@launchdarkly/node-server-sdk').then((ld) =>
    ld.init(sdkKey, {
      ...definedOnly(endpoints),
      stream: true,
      sendEvents: false,
      diagnosticOptOut: true,
      logger: ld.basicLogger({ level: 'none' }),
    }),
  )
  // Started after the first patch, awaited at verification: remember the outcome without an unhandled rejection.
  const initialized = client.then((c) => c.waitForInitialization())
  initialized.catch(() => {})

  return {
    async evaluate(flagKey, signal) {
      const ready = await abortable(initialized, signal).catch((error: unknown) => {
        if (signal.aborted) throw error
        throw new PrimitiveError(
          `the LaunchDarkly SDK stream for environment ${environment} did not initialize: ${(error as Error).message}`,
          'check that the SDK key variable holds the server-side SDK key of this environment, and the stream URI',
          'LaunchDarklySdkNotInitialized',
        )
      })
      const detail = await ready.variationDetail(flagKey, VERIFIER_CONTEXT, null)
      return { reasonKind: detail.reason.kind, value: (detail.value ?? null) as JsonValue }
    },
    close() {
      client.then((c) => c.close()).catch(() => {})
    },
  }
}

function definedOnly(endpoints: SdkEndpoints): SdkEndpoints {
  return Object.fromEntries(Object.entries(endpoints).filter(([, value]) => value !== undefined))
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}
