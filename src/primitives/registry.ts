/**
 * Primitive registry: kind → the module that implements it, imported only when a runbook uses that kind, so a
 * Lambda-only halt never loads the Kubernetes client. Adding a platform is adding a folder and a line here.
 */
import type { Primitive, PrimitiveKind } from '../core/primitive.js'
import type { RunbookCredentials } from '../core/runbook/schema.js'
import type { SharedAwsClients } from './aws/clients.js'

export interface PrimitiveConfig {
  /** The runbook's break-glass credentials section (names of secrets, never the secrets). */
  credentials: RunbookCredentials
  /** Where secrets and endpoint overrides are read from; `process.env` in the CLI. */
  env: NodeJS.ProcessEnv
  /** AWS clients shared by the invocation's primitives, identity check and notifier; without it each makes its own. */
  aws?: SharedAwsClients
}

export type PrimitiveFactory = (config: PrimitiveConfig) => Primitive<any>

const loaders: Record<PrimitiveKind, () => Promise<PrimitiveFactory>> = {
  lambdaConcurrencyZero: async () => (await import('./aws/lambda.js')).createLambdaConcurrencyPrimitive,
  denyAll: async () => (await import('./aws/iam.js')).createDenyAllPrimitive,
  flagOff: async () => (await import('./launchdarkly/flag-off.js')).createFlagOffPrimitive,
  scaleToZero: async () => (await import('./kubernetes/scale-to-zero.js')).createScaleToZeroPrimitive,
}

export async function loadPrimitive(kind: PrimitiveKind, config: PrimitiveConfig): Promise<Primitive<any>> {
  const factory = await loaders[kind]()
  return factory(config)
}
