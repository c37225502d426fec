/**
 * Pointing a runbook at a running sandbox: the environment its standard clients read (AWS endpoint variables,
 * KUBECONFIG, LaunchDarkly URIs) plus the runbook's own secret variables filled with the sandbox's keys, and the
 * runbook's credentials with everything that would reach a real account taken out.
 */
import type { Runbook, RunbookCredentials } from '../core/runbook/schema.js'
import type { Sandbox } from './server.js'
import type { Seed } from './seed.js'

export function sandboxEnvironment(sandbox: Sandbox, runbook: Runbook | undefined, seed: Seed): Record<string, string> {
  const env = { ...sandbox.env }
  const ld = runbook?.credentials.launchdarkly
  if (ld) {
    env[ld.apiTokenEnv] = sandbox.env.LD_API_TOKEN!
    const sdkKeyFor = (environment: string) =>
      Object.values(seed.launchdarkly.projects).find((p) => p.environments[environment])?.environments[environment]?.sdkKey
    if (typeof ld.sdkKeyEnv === 'string') {
      const environments = Object.values(runbook.scopes).flatMap((s) => s?.steps.flatMap((step) => (step.flagOff ? [step.flagOff.environment] : [])) ?? [])
      const key = environments.map(sdkKeyFor).find(Boolean)
      if (key) env[ld.sdkKeyEnv] = key
    } else if (ld.sdkKeyEnv) {
      for (const [environment, variable] of Object.entries(ld.sdkKeyEnv)) {
        const key = sdkKeyFor(environment)
        if (key) env[variable] = key
      }
    }
  }
  return env
}

/** The runbook's credentials with the sandbox's kubeconfig and no named AWS profile (the sandbox keys come from env). */
export function sandboxCredentials(credentials: RunbookCredentials, sandbox: Sandbox): RunbookCredentials {
  const { profile: _profile, ...aws } = credentials.aws ?? { region: 'us-east-1' }
  const { baseUri: _b, streamUri: _s, ...launchdarkly } = credentials.launchdarkly ?? { apiTokenEnv: 'LD_API_TOKEN' }
  return { aws, kubernetes: { kubeconfig: sandbox.kubeconfigPath }, launchdarkly }
}
