/** A `PrimitiveContext` that records what the primitive paced and warned about, and can be aborted. */
import type { PrimitiveContext } from '../../../src/core/primitive.js'
import type { PrimitiveConfig } from '../../../src/primitives/registry.js'

export interface RecordingContext {
  ctx: PrimitiveContext
  /** Bucket keys in the order `pace` was called. */
  paced: string[]
  warnings: string[]
  controller: AbortController
}

export function recordingContext(): RecordingContext {
  const paced: string[] = []
  const warnings: string[] = []
  const controller = new AbortController()
  return {
    paced,
    warnings,
    controller,
    ctx: {
      pace: async (bucket) => {
        paced.push(bucket.key)
      },
      signal: controller.signal,
      warn: (message) => warnings.push(message),
      reason: 'test',
      invocationId: 'halt-test',
    },
  }
}

export const HOME = '111122223333'
export const OTHER = '444455556666'

/** Break-glass credentials in us-east-1 with a role to assume for OTHER. */
export const awsConfig: PrimitiveConfig = {
  credentials: {
    aws: {
      region: 'us-east-1',
      accounts: { [OTHER]: { roleArn: `arn:aws:iam::${OTHER}:role/killswitch-break-glass`, externalId: 'ext-1' } },
    },
  },
  env: {},
}
