/**
 * Whether the server SDK key the verification streams through belongs to the step's environment. A key of staging
 * would evaluate staging's flags, and "verify" a production halt against them. The project's environments answer it
 * (each one's `apiKey` is its SDK key); the key is compared, never printed or put in a message.
 */
import { PrimitiveError } from '../../core/primitive.js'
import type { LaunchDarklyRestClient, RequestOptions } from './rest-client.js'

export interface SdkKeyToCheck {
  project: string
  environment: string
  sdkKey: string
  /** The variable the key came from: what messages name instead of the key. */
  variable: string
}

/**
 * Resolves with warnings when the key is the environment's, or cannot be matched to any environment (LaunchDarkly
 * can hide SDK keys from a token, and an additional or rotated key is not the one it lists): verification then
 * tells. Rejects when the project has no such environment, or the key is another environment's.
 */
export async function checkSdkKeyEnvironment(rest: LaunchDarklyRestClient, key: SdkKeyToCheck, options: RequestOptions): Promise<string[]> {
  const environments = await rest.listEnvironments(key.project, options)
  // An unknown project: the flag list says so, with its own error.
  if (environments === null) return []
  const own = environments.find((e) => e.key === key.environment)
  if (!own) {
    throw new PrimitiveError(
      `LaunchDarkly project ${key.project} has no environment ${key.environment} (it has ${environments.map((e) => e.key).join(', ') || 'none'})`,
      'check flagOff.environment in the runbook against the project’s environment keys',
      'LaunchDarklyEnvironmentNotFound',
    )
  }
  const warnings: string[] = []
  if (own.approvalsRequired) {
    warnings.push(
      `environment ${key.environment} of project ${key.project} requires approvals for flag changes: flags turn off only if the break-glass token's role has the bypassRequiredApproval action; otherwise LaunchDarkly answers 405 and they stay on`,
    )
  }
  if (own.sdkKey === key.sdkKey) return warnings
  const owner = environments.find((e) => e.sdkKey === key.sdkKey)
  if (owner) {
    throw new PrimitiveError(
      `${key.variable} holds the server SDK key of environment ${owner.key}, not of ${key.environment}: verifying through it would watch ${owner.key}'s flags`,
      `set ${key.variable} to the server-side SDK key of environment ${key.environment} (LaunchDarkly: Project settings → Environments), or name another variable in credentials.launchdarkly.sdkKeyEnv`,
      'LaunchDarklySdkKeyWrongEnvironment',
    )
  }
  warnings.push(
    own.sdkKey === undefined
      ? `could not check that ${key.variable} holds the SDK key of environment ${key.environment}: LaunchDarkly did not show the token the environments' SDK keys`
      : `${key.variable} is not the SDK key LaunchDarkly lists for environment ${key.environment} of project ${key.project}, nor for another of its environments: if it is an additional or rotated key of ${key.environment}, verification works; otherwise it will fail`,
  )
  return warnings
}
