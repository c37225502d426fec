/**
 * The `denyAll` primitive: halting puts an inline policy that denies every action on every resource on IAM roles,
 * users or groups, under the step's `policyName` (the only inline policy this tool ever writes). An explicit deny
 * wins over every allow, for new and existing sessions alike, once IAM has propagated the change (AWS says it "may
 * take a few minutes"; verification reads the policy back from the control plane, which is as far as AWS lets a
 * client observe). Restoring deletes that policy, or puts back the document a policy by that name had before.
 * The entity's other inline and managed policies are never read or touched.
 *
 * State: `{policy: string | null}`, the tool-named policy's document (decoded JSON text) or null when absent.
 */
import { isDeepStrictEqual } from 'node:util'
import type { HaltEstimate, Primitive, PrimitiveContext, RateBucket, Target, TargetState } from '../../core/primitive.js'
import type { DenyAllSpec } from '../../core/runbook/schema.js'
import { pollUntil } from '../../core/wait.js'
import type { PrimitiveConfig } from '../registry.js'
import { leaseAwsClients } from './clients.js'
import { DETAILS_PAGE_SIZE, deleteInlinePolicy, entityNotFound, iamBucket, putInlinePolicy } from './iam-api.js'
import { createBatchedPolicyReader, type PolicyReader } from './iam-reader.js'
import { entityOf, resolveEntities } from './iam-targets.js'

/** PROTOCOLS B.5: the deny-all document, exactly. */
export const DENY_ALL_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'KillswitchDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }],
}
const DENY_ALL_DOCUMENT = JSON.stringify(DENY_ALL_POLICY)

function policyOf(state: TargetState): string | null {
  const policy = state.policy
  if (policy === null || typeof policy === 'string') return policy
  throw new Error(`not an IAM deny-all state: ${JSON.stringify(state)}`)
}

function parsed(document: string): unknown {
  try {
    return JSON.parse(document)
  } catch {
    return document
  }
}

/** Documents are compared as parsed JSON: IAM may hand back the same policy with other whitespace or key order. */
function samePolicy(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b
  return isDeepStrictEqual(parsed(a), parsed(b))
}

async function readBack(reader: PolicyReader, target: Target, ctx: PrimitiveContext): Promise<string | null> {
  const { entity, policyName } = entityOf(target)
  return (await reader.read(entity, policyName, 'readBack', ctx)).policy
}

export function createDenyAllPrimitive(config: PrimitiveConfig): Primitive<DenyAllSpec> {
  const { clients, release } = leaseAwsClients(config)
  const reader = createBatchedPolicyReader(clients)
  return {
    kind: 'denyAll',

    resolve: (spec, ctx) => resolveEntities(spec, clients, reader, ctx),

    async read(target, ctx) {
      const { entity, policyName } = entityOf(target)
      const read = await reader.read(entity, policyName, 'snapshot', ctx)
      if (!read.exists) throw entityNotFound(entity)
      return { policy: read.policy }
    },

    isHalted: (state) => samePolicy(policyOf(state), DENY_ALL_DOCUMENT),

    sameState: (a, b) => samePolicy(policyOf(a), policyOf(b)),

    async apply(target, _before, ctx) {
      const { entity, policyName } = entityOf(target)
      await putInlinePolicy(clients, entity, policyName, DENY_ALL_DOCUMENT, ctx)
    },

    async verifyHalted(target, ctx) {
      await pollUntil(async () => samePolicy(await readBack(reader, target, ctx), DENY_ALL_DOCUMENT), { signal: ctx.signal })
    },

    async restore(target, snapshot, ctx) {
      const { entity, policyName } = entityOf(target)
      const prior = policyOf(snapshot)
      if (prior === null) await deleteInlinePolicy(clients, entity, policyName, ctx)
      else await putInlinePolicy(clients, entity, policyName, prior, ctx)
    },

    async verifyRestored(target, snapshot, ctx) {
      const prior = policyOf(snapshot)
      await pollUntil(async () => samePolicy(await readBack(reader, target, ctx), prior), { signal: ctx.signal })
    },

    describe(state) {
      const policy = policyOf(state)
      if (policy === null) return 'no killswitch policy'
      return samePolicy(policy, DENY_ALL_DOCUMENT) ? 'deny-all' : `other policy under the tool's name (${policy.length} chars)`
    },

    /**
     * Put*Policy and a share of a batched read-back: one GetAccountAuthorizationDetails page answers up to 1,000
     * entities, so the read is counted in the account's IAM bucket at that multiple of its rate. The snapshot came
     * with resolution's listing (selectors) or is a share of a batched read too (names).
     */
    estimate(target): HaltEstimate {
      const bucket = iamBucket(entityOf(target).entity.account)
      const batchedRead: RateBucket = { key: bucket.key, ratePerSecond: bucket.ratePerSecond * DETAILS_PAGE_SIZE }
      return { calls: target.observed ? [bucket, batchedRead] : [batchedRead, bucket, batchedRead], settleMs: 0 }
    },

    async close() {
      release()
    },
  }
}
