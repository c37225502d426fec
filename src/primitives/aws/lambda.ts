/**
 * The `lambdaConcurrencyZero` primitive: halting sets a function's reserved concurrency to 0, which throttles every
 * new invocation (in-flight ones run to completion; asynchronous events wait in Lambda's queue). Restoring puts
 * back the prior reservation, or removes it when the function had none: 0 and "unreserved" are different states.
 *
 * State: `{reservedConcurrency: number | null}`, null meaning unreserved, read with GetFunction.
 */
import type { HaltEstimate, Primitive, PrimitiveContext, Target, TargetState } from '../../core/primitive.js'
import type { LambdaConcurrencyZeroSpec } from '../../core/runbook/schema.js'
import { pollUntil } from '../../core/wait.js'
import type { PrimitiveConfig } from '../registry.js'
import { leaseAwsClients, type AwsClients } from './clients.js'
import {
  deleteFunctionConcurrency,
  getFunctionConcurrency,
  getReservedConcurrency,
  lambdaControlBucket,
  lambdaGetBucket,
  putFunctionConcurrency,
} from './lambda-api.js'
import { functionLocation, resolveFunctions } from './lambda-targets.js'

/** The reservation a state records; rejects a state that is not a Lambda concurrency state (a corrupt journal). */
function reservedConcurrency(state: TargetState): number | null {
  const value = state.reservedConcurrency
  if (value === null || (typeof value === 'number' && Number.isInteger(value) && value >= 0)) return value
  throw new Error(`not a Lambda concurrency state: ${JSON.stringify(state)}`)
}

/**
 * Whether the function now shows `expected`. GetFunction (the 100 requests/s bucket) answers first. Only when it
 * shows no reservation while 0 is expected is GetFunctionConcurrency asked as well: some implementations (moto)
 * leave `Concurrency` out of GetFunction for a reservation of 0, and without the second read the halt would never
 * verify there. On AWS, GetFunction shows the 0 and the second read never happens.
 */
async function shows(clients: AwsClients, target: Target, expected: number | null, ctx: PrimitiveContext): Promise<boolean> {
  const location = functionLocation(target)
  const seen = await getReservedConcurrency(clients, location, ctx)
  if (seen === expected) return true
  if (seen === null && expected === 0) return (await getFunctionConcurrency(clients, location, ctx)) === 0
  return false
}

export function createLambdaConcurrencyPrimitive(config: PrimitiveConfig): Primitive<LambdaConcurrencyZeroSpec> {
  const { clients, release } = leaseAwsClients(config)
  return {
    kind: 'lambdaConcurrencyZero',

    resolve: (spec, ctx) => resolveFunctions(spec.functions, clients, ctx),

    async read(target, ctx) {
      return { reservedConcurrency: await getReservedConcurrency(clients, functionLocation(target), ctx) }
    },

    isHalted: (state) => reservedConcurrency(state) === 0,

    sameState: (a, b) => reservedConcurrency(a) === reservedConcurrency(b),

    async apply(target, _before, ctx) {
      await putFunctionConcurrency(clients, functionLocation(target), 0, ctx)
    },

    async verifyHalted(target, ctx) {
      await pollUntil(() => shows(clients, target, 0, ctx), { signal: ctx.signal })
    },

    async restore(target, snapshot, ctx) {
      const prior = reservedConcurrency(snapshot)
      const location = functionLocation(target)
      if (prior === null) await deleteFunctionConcurrency(clients, location, ctx)
      else await putFunctionConcurrency(clients, location, prior, ctx)
    },

    async verifyRestored(target, snapshot, ctx) {
      const prior = reservedConcurrency(snapshot)
      await pollUntil(() => shows(clients, target, prior, ctx), { signal: ctx.signal })
    },

    describe(state) {
      const reserved = reservedConcurrency(state)
      return reserved === null ? 'unreserved' : `reserved=${reserved}`
    },

    /** PutFunctionConcurrency in the 15/s control bucket, then one GetFunction read-back in the 100/s bucket. */
    estimate(target): HaltEstimate {
      const { account, region } = functionLocation(target)
      // GetFunction for the snapshot (its own 100/s bucket), the put (15/s control plane), a GetFunction read-back.
      return { calls: [lambdaGetBucket(account, region), lambdaControlBucket(account, region), lambdaGetBucket(account, region)], settleMs: 0 }
    },

    async close() {
      release()
    },
  }
}
