/** Who the break-glass AWS credentials are: checked against a runbook's `authority` and written to the audit trail. */
import type { PrimitiveConfig } from '../registry.js'
import { leaseAwsClients, type CallerIdentity } from './clients.js'

export type { CallerIdentity }

/** STS GetCallerIdentity with the base credentials (the profile or default chain, never an assumed role). */
export async function getCallerIdentity(config: PrimitiveConfig, signal?: AbortSignal): Promise<CallerIdentity> {
  const { clients, release } = leaseAwsClients(config)
  try {
    return await clients.callerIdentity(signal)
  } finally {
    release()
  }
}
