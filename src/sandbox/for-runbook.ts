/** Starts a sandbox seeded with a fleet generated from a runbook, and the settings that point the runbook at it. */
import type { Runbook, RunbookCredentials } from '../core/runbook/schema.js'
import { sandboxCredentials, sandboxEnvironment } from './attach.js'
import { seedFromRunbook, type FleetOptions } from './fleet.js'
import type { ProfileName } from './realism.js'
import { parseSeed } from './seed.js'
import { startSandbox } from './server.js'

export interface RunbookSandbox {
  url: string
  env: Record<string, string>
  credentials: RunbookCredentials
  /** One line on the fleet, e.g. "30 Lambda functions, 15 IAM roles, 15 workloads, 4 flags". */
  summary: string
  stop(): Promise<void>
}

export async function startSandboxForRunbook(runbook: Runbook, options: FleetOptions & { profile?: ProfileName; port?: number } = {}): Promise<RunbookSandbox> {
  const seed = parseSeed(seedFromRunbook(runbook, options))
  const sandbox = await startSandbox({ seed, profile: options.profile ?? 'instant', port: options.port ?? 0 })
  const accounts = Object.values(seed.aws.accounts)
  const functions = accounts.reduce((n, a) => n + Object.values(a.lambda).flat().length, 0)
  const roles = accounts.reduce((n, a) => n + a.iam.roles.length, 0)
  const workloads = Object.values(seed.kubernetes.namespaces).reduce((n, ns) => n + ns.deployments.length + ns.statefulsets.length, 0)
  const flags = Object.values(seed.launchdarkly.projects).reduce((n, p) => n + p.flags.length, 0)
  return {
    url: sandbox.url,
    env: sandboxEnvironment(sandbox, runbook, seed),
    credentials: sandboxCredentials(runbook.credentials, sandbox),
    summary: `${functions} Lambda functions in ${accounts.length} account(s), ${roles} IAM roles, ${workloads} Kubernetes workloads, ${flags} flags`,
    stop: () => sandbox.stop(),
  }
}
