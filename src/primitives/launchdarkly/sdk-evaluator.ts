/**
 * Evaluates flags the way the agents see them: a server-SDK client streaming one environment. Halt verification
 * requires this client to evaluate the flag with reason OFF, which proves the change reached the SDK stream and
 * not only the REST API. The SDK is imported on first use only.
 */
import { PrimitiveError } from '../../core/primitive.js'
import type { SdkEndpoints } from './settings.js'

export interface FlagEvaluator {
  /** The evaluation reason kind (`OFF`, `FALLTHROUGH`, `ERROR`, ...) once the client is initialized. */
  reasonKind(flagKey: string, signal: AbortSignal): Promise<string>
  close(): void
}

export type EvaluatorStarter = (environment: string, sdkKey: string, endpoints: SdkEndpoints) => FlagEvaluator

/** The context every verification evaluates for; flag-off does not depend on it, as targeting is skipped when off. */
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
    async reasonKind(flagKey, signal) {
      const ready = await abortable(initialized, signal).catch((error: unknown) => {
        if (signal.aborted) throw error
        throw new PrimitiveError(
          `the LaunchDarkly SDK stream for environment ${environment} did not initialize: ${(error as Error).message}`,
          'check that the SDK key variable holds the server-side SDK key of this environment, and the stream URI',
          'LaunchDarklySdkNotInitialized',
        )
      })
      const detail = await ready.variationDetail(flagKey, VERIFIER_CONTEXT, null)
      return detail.reason.kind
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
