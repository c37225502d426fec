/**
 * Where the LaunchDarkly primitive finds its endpoints and secrets. Endpoint overrides (the sandbox, a relay, the
 * EU or Federal instance) come from `KILLSWITCH_LAUNCHDARKLY_*` in the environment first, then the runbook's
 * credentials, then LaunchDarkly's defaults. Secrets are only ever named here, never read into messages.
 */
import { PrimitiveError } from '../../core/primitive.js'
import { registerSecret, secretProblem } from '../../core/secrets.js'
import type { PrimitiveConfig } from '../registry.js'

export const DEFAULT_BASE_URI = 'https://app.launchdarkly.com'
export const DEFAULT_API_TOKEN_ENV = 'LD_API_TOKEN'

export interface SdkEndpoints {
  /** Each `undefined` leaves the SDK's own default in place. */
  baseUri?: string
  streamUri?: string
  eventsUri?: string
}

export interface LaunchDarklySettings {
  /** REST API base, without a trailing slash. */
  baseUri: string
  apiTokenEnv: string
  sdkEndpoints: SdkEndpoints
  /** The environment variable that must hold the server SDK key for an environment. */
  sdkKeyEnvFor(environment: string): string
}

export function launchDarklySettings(config: PrimitiveConfig): LaunchDarklySettings {
  const credentials = config.credentials.launchdarkly
  const env = config.env
  const sdkKeyEnv = credentials?.sdkKeyEnv
  return {
    baseUri: (env.KILLSWITCH_LAUNCHDARKLY_BASE_URI ?? credentials?.baseUri ?? DEFAULT_BASE_URI).replace(/\/+$/, ''),
    apiTokenEnv: credentials?.apiTokenEnv ?? DEFAULT_API_TOKEN_ENV,
    sdkEndpoints: {
      baseUri: env.KILLSWITCH_LAUNCHDARKLY_BASE_URI ?? credentials?.baseUri,
      streamUri: env.KILLSWITCH_LAUNCHDARKLY_STREAM_URI ?? credentials?.streamUri,
      eventsUri: env.KILLSWITCH_LAUNCHDARKLY_EVENTS_URI,
    },
    sdkKeyEnvFor(environment) {
      if (typeof sdkKeyEnv === 'string') return sdkKeyEnv
      if (sdkKeyEnv === undefined) return defaultSdkKeyEnv(environment)
      const variable = sdkKeyEnv[environment]
      if (variable === undefined) {
        throw new PrimitiveError(
          `credentials.launchdarkly.sdkKeyEnv names no variable for environment ${environment}`,
          `add "${environment}: ${defaultSdkKeyEnv(environment)}" under credentials.launchdarkly.sdkKeyEnv and set that variable to the environment's server SDK key`,
          'LaunchDarklySdkKeyMissing',
        )
      }
      return variable
    },
  }
}

/**
 * The conventional variable for an environment's SDK key: `production` → `LD_SDK_KEY_PRODUCTION`. The sandbox sets
 * these names and error hints suggest them; a runbook with flagOff steps must still name its variable (the loader
 * refuses one without `sdkKeyEnv`), so the fallback in `sdkKeyEnvFor` only serves callers that bypass the loader.
 */
export function defaultSdkKeyEnv(environment: string): string {
  return `LD_SDK_KEY_${environment.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`
}

/** The value of a secret variable; a missing one is an operator error that names the variable, never a value. */
export function readSecret(env: NodeJS.ProcessEnv, variable: string, what: string, code: string): string {
  const value = env[variable]
  if (value === undefined || value === '') {
    throw new PrimitiveError(
      `the LaunchDarkly ${what} is not set: environment variable ${variable} is empty`,
      `export ${variable} with the break-glass ${what} (see docs/primitives/launchdarkly.md)`,
      code,
    )
  }
  const problem = secretProblem(value)
  if (problem) {
    throw new PrimitiveError(
      `the LaunchDarkly ${what} in environment variable ${variable} ${problem}`,
      `set ${variable} again to the ${what} alone, with nothing around it`,
      code,
    )
  }
  registerSecret(value)
  return value
}
