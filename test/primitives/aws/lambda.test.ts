import {
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  LambdaClient,
  PutFunctionConcurrencyCommand,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda'
import { GetResourcesCommand, ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { PrimitiveError, type Target } from '../../../src/core/primitive.js'
import { createLambdaConcurrencyPrimitive } from '../../../src/primitives/aws/lambda.js'
import { HOME, OTHER, awsConfig, recordingContext } from './fake-context.js'

const lambda = mockClient(LambdaClient)
const tagging = mockClient(ResourceGroupsTaggingAPIClient)
const sts = mockClient(STSClient)

const arn = (name: string, account = HOME, region = 'us-east-1') => `arn:aws:lambda:${region}:${account}:function:${name}`
const target = (name: string, account = HOME, region = 'us-east-1'): Target => ({
  id: `lambda:${account}:${region}:${name}`,
  kind: 'lambdaConcurrencyZero',
  label: name,
  locator: { account, region, name },
})

function notFound(name: string) {
  return new ResourceNotFoundException({ message: `Function not found: ${arn(name)}`, $metadata: { httpStatusCode: 404 } })
}

beforeEach(() => {
  lambda.reset()
  tagging.reset()
  sts.reset()
  sts.on(GetCallerIdentityCommand).resolves({ Account: HOME, Arn: `arn:aws:iam::${HOME}:user/oncall`, UserId: 'AIDAEXAMPLE' })
})

afterAll(() => {
  lambda.restore()
  tagging.restore()
  sts.restore()
})

describe('resolve', () => {
  it('looks bare names up in the home account in every listed region and skips regions where they are missing', async () => {
    lambda.on(GetFunctionCommand, { FunctionName: 'refund-agent' }).callsFake(async (_input, getClient) => {
      if ((await getClient().config.region()) === 'eu-west-1') throw notFound('refund-agent')
      return { Configuration: { FunctionName: 'refund-agent' } }
    })
    const { ctx, paced, warnings } = recordingContext()
    const primitive = createLambdaConcurrencyPrimitive(awsConfig)

    const targets = await primitive.resolve({ functions: { names: ['refund-agent'], regions: ['us-east-1', 'eu-west-1'] } }, ctx)

    expect(targets).toEqual([target('refund-agent')])
    expect(paced.sort()).toEqual([`lambda-get:${HOME}:eu-west-1`, `lambda-get:${HOME}:us-east-1`])
    expect(warnings).toEqual([`Lambda function refund-agent does not exist in ${HOME}/eu-west-1; it is halted where it exists.`])
  })

  it('takes account and region from a full ARN', async () => {
    lambda.on(GetFunctionCommand).resolves({ Configuration: { FunctionName: 'billing' } })
    const { ctx } = recordingContext()
    const targets = await createLambdaConcurrencyPrimitive(awsConfig).resolve(
      { functions: { names: [arn('billing', OTHER, 'us-west-2')] } },
      ctx,
    )
    expect(targets).toEqual([target('billing', OTHER, 'us-west-2')])
    expect(lambda).toHaveReceivedCommandWith(GetFunctionCommand, { FunctionName: 'billing' })
  })

  it('refuses a qualified ARN: concurrency belongs to the whole function', async () => {
    const { ctx } = recordingContext()
    await expect(
      createLambdaConcurrencyPrimitive(awsConfig).resolve({ functions: { names: [`${arn('billing')}:prod`] } }, ctx),
    ).rejects.toMatchObject({ code: 'InvalidFunctionName' })
    expect(lambda).not.toHaveReceivedAnyCommand()
  })

  it('returns a name that exists nowhere as a missing target, saying where it looked', async () => {
    lambda.on(GetFunctionCommand).rejects(notFound('ghost'))
    const { ctx } = recordingContext()
    const targets = await createLambdaConcurrencyPrimitive(awsConfig).resolve({ functions: { names: ['ghost'] } }, ctx)
    expect(targets).toHaveLength(1)
    expect(targets[0]!.missing).toMatchObject({ code: 'FunctionNotFound', message: `Lambda function ghost was not found in ${HOME}/us-east-1.` })
  })

  it('leaves out a function tagged killswitch.dev/protect, named or tagged, and says so', async () => {
    tagging.on(GetResourcesCommand).resolves({
      ResourceTagMappingList: [
        { ResourceARN: arn('refund-1'), Tags: [{ Key: 'agent-class', Value: 'refund' }] },
        { ResourceARN: arn('refund-ledger'), Tags: [{ Key: 'agent-class', Value: 'refund' }, { Key: 'killswitch.dev/protect', Value: 'true' }] },
      ],
    })
    lambda.on(GetFunctionCommand, { FunctionName: 'payments' }).resolves({ Configuration: { FunctionName: 'payments' }, Tags: { 'killswitch.dev/protect': 'yes' } })
    const { ctx, warnings } = recordingContext()
    const targets = await createLambdaConcurrencyPrimitive(awsConfig).resolve({ functions: { tags: { 'agent-class': 'refund' }, names: ['payments'] } }, ctx)
    expect(targets.map((t) => t.label)).toEqual(['refund-1'])
    expect(warnings.join('\n')).toContain('left out, tagged killswitch.dev/protect: Lambda function payments')
    expect(warnings.join('\n')).toContain(`left out, tagged killswitch.dev/protect: ${arn('refund-ledger')}`)
  })

  it('resolves tags through every page of GetResources and adds names, without duplicates', async () => {
    tagging
      .on(GetResourcesCommand)
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: arn('refund-1') }, { ResourceARN: arn('refund-2') }], PaginationToken: 'page-2' })
      .resolvesOnce({ ResourceTagMappingList: [{ ResourceARN: arn('refund-3') }], PaginationToken: '' })
    lambda.on(GetFunctionCommand).resolves({ Configuration: { FunctionName: 'refund-1' } })
    const { ctx, paced } = recordingContext()

    const targets = await createLambdaConcurrencyPrimitive(awsConfig).resolve(
      { functions: { names: ['refund-1'], tags: { 'agent-class': 'refund', team: 'payments' } } },
      ctx,
    )

    expect(targets.map((t) => t.id)).toEqual([
      `lambda:${HOME}:us-east-1:refund-1`,
      `lambda:${HOME}:us-east-1:refund-2`,
      `lambda:${HOME}:us-east-1:refund-3`,
    ])
    expect(tagging).toHaveReceivedNthCommandWith(GetResourcesCommand, 1, {
      ResourceTypeFilters: ['lambda:function'],
      TagFilters: [
        { Key: 'agent-class', Values: ['refund'] },
        { Key: 'team', Values: ['payments'] },
      ],
    })
    expect(tagging).toHaveReceivedNthCommandWith(GetResourcesCommand, 2, { PaginationToken: 'page-2' })
    expect(paced.filter((key) => key.startsWith('tagging:'))).toEqual([`tagging:${HOME}:us-east-1`, `tagging:${HOME}:us-east-1`])
  })

  it('fails with SelectorMatchedNothing naming the tags and the places searched', async () => {
    tagging.on(GetResourcesCommand).resolves({ ResourceTagMappingList: [] })
    const { ctx } = recordingContext()
    await expect(
      createLambdaConcurrencyPrimitive(awsConfig).resolve(
        { functions: { tags: { 'agent-class': 'refund' }, accounts: [HOME, OTHER], regions: ['us-east-1'] } },
        ctx,
      ),
    ).rejects.toMatchObject({
      code: 'SelectorMatchedNothing',
      message: `No Lambda function carries the tags agent-class=refund in ${HOME}/us-east-1, ${OTHER}/us-east-1.`,
    })
  })

  it('refuses an account that is neither the home account nor configured with a role', async () => {
    const { ctx } = recordingContext()
    await expect(
      createLambdaConcurrencyPrimitive(awsConfig).resolve({ functions: { names: ['x'], accounts: ['999999999999'] } }, ctx),
    ).rejects.toMatchObject({ code: 'AccountNotConfigured' })
    expect(lambda).not.toHaveReceivedAnyCommand()
  })
})

describe('read', () => {
  it('reads a reservation from GetFunction in the 100 rps bucket', async () => {
    lambda.on(GetFunctionCommand, { FunctionName: 'reserved' }).resolves({ Concurrency: { ReservedConcurrentExecutions: 5 } })
    lambda.on(GetFunctionCommand, { FunctionName: 'unreserved' }).resolves({ Configuration: { FunctionName: 'unreserved' } })
    const { ctx, paced } = recordingContext()
    const primitive = createLambdaConcurrencyPrimitive(awsConfig)

    expect(await primitive.read(target('reserved'), ctx)).toEqual({ reservedConcurrency: 5 })
    expect(await primitive.read(target('unreserved'), ctx)).toEqual({ reservedConcurrency: null })
    expect(paced).toEqual([`lambda-get:${HOME}:us-east-1`, `lambda-get:${HOME}:us-east-1`])
    expect(lambda).not.toHaveReceivedCommand(GetFunctionConcurrencyCommand)
  })

  it('names the function when it has disappeared', async () => {
    lambda.on(GetFunctionCommand).rejects(notFound('gone'))
    const { ctx } = recordingContext()
    await expect(createLambdaConcurrencyPrimitive(awsConfig).read(target('gone'), ctx)).rejects.toMatchObject({
      code: 'FunctionNotFound',
      message: `Lambda function gone was not found in account ${HOME}, region us-east-1.`,
    })
  })
})

describe('apply', () => {
  it('puts reserved concurrency 0, paced in the 15 rps control bucket, and is idempotent', async () => {
    lambda.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 0 })
    const { ctx, paced } = recordingContext()
    const primitive = createLambdaConcurrencyPrimitive(awsConfig)

    await primitive.apply(target('refund-1'), { reservedConcurrency: 5 }, ctx)
    await primitive.apply(target('refund-1'), { reservedConcurrency: 5 }, ctx)

    expect(lambda).toHaveReceivedCommandTimes(PutFunctionConcurrencyCommand, 2)
    expect(lambda).toHaveReceivedNthCommandWith(PutFunctionConcurrencyCommand, 1, { FunctionName: 'refund-1', ReservedConcurrentExecutions: 0 })
    expect(lambda).toHaveReceivedNthCommandWith(PutFunctionConcurrencyCommand, 2, { FunctionName: 'refund-1', ReservedConcurrentExecutions: 0 })
    expect(lambda.calls()).toHaveLength(2)
    expect(paced).toEqual([`lambda-control:${HOME}:us-east-1`, `lambda-control:${HOME}:us-east-1`])
  })

  it('surfaces throttling that outlasted the SDK retries', async () => {
    lambda.on(PutFunctionConcurrencyCommand).rejects(
      new TooManyRequestsException({ message: 'Rate Exceeded.', Reason: 'CallerRateLimitExceeded', $metadata: { httpStatusCode: 429 } }),
    )
    const { ctx } = recordingContext()
    await expect(createLambdaConcurrencyPrimitive(awsConfig).apply(target('refund-1'), { reservedConcurrency: null }, ctx)).rejects.toMatchObject({
      name: 'TooManyRequestsException',
      Reason: 'CallerRateLimitExceeded',
    })
  })

  it('turns AccessDenied into an actionable PrimitiveError', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: lambda:PutFunctionConcurrency'), { name: 'AccessDeniedException' })
    lambda.on(PutFunctionConcurrencyCommand).rejects(denied)
    const { ctx } = recordingContext()
    const error = await createLambdaConcurrencyPrimitive(awsConfig)
      .apply(target('refund-1'), { reservedConcurrency: null }, ctx)
      .catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'AccessDenied' })
    expect((error as PrimitiveError).message).toContain('lambda:PutFunctionConcurrency')
    expect((error as PrimitiveError).hint).toContain('docs/primitives/aws.md')
  })
})

describe('restore', () => {
  it('removes the reservation of a function that was unreserved (0 is not unreserved)', async () => {
    lambda.on(DeleteFunctionConcurrencyCommand).resolves({})
    const { ctx, paced } = recordingContext()
    await createLambdaConcurrencyPrimitive(awsConfig).restore(target('refund-1'), { reservedConcurrency: null }, ctx)
    expect(lambda).toHaveReceivedCommandExactlyOnceWith(DeleteFunctionConcurrencyCommand, { FunctionName: 'refund-1' })
    expect(lambda).not.toHaveReceivedCommand(PutFunctionConcurrencyCommand)
    expect(paced).toEqual([`lambda-control:${HOME}:us-east-1`])
  })

  it('puts back a positive reservation', async () => {
    lambda.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 7 })
    const { ctx } = recordingContext()
    await createLambdaConcurrencyPrimitive(awsConfig).restore(target('refund-1'), { reservedConcurrency: 7 }, ctx)
    expect(lambda).toHaveReceivedCommandExactlyOnceWith(PutFunctionConcurrencyCommand, { FunctionName: 'refund-1', ReservedConcurrentExecutions: 7 })
    expect(lambda).not.toHaveReceivedCommand(DeleteFunctionConcurrencyCommand)
  })

  it('puts back a reservation of 0 rather than deleting it', async () => {
    lambda.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 0 })
    const { ctx } = recordingContext()
    await createLambdaConcurrencyPrimitive(awsConfig).restore(target('refund-1'), { reservedConcurrency: 0 }, ctx)
    expect(lambda).toHaveReceivedCommandExactlyOnceWith(PutFunctionConcurrencyCommand, { FunctionName: 'refund-1', ReservedConcurrentExecutions: 0 })
    expect(lambda).not.toHaveReceivedCommand(DeleteFunctionConcurrencyCommand)
  })
})

describe('verification', () => {
  it('verifyHalted reads back until GetFunction shows 0', async () => {
    lambda
      .on(GetFunctionCommand)
      .resolvesOnce({ Concurrency: { ReservedConcurrentExecutions: 5 } })
      .resolves({ Concurrency: { ReservedConcurrentExecutions: 0 } })
    const { ctx } = recordingContext()
    await createLambdaConcurrencyPrimitive(awsConfig).verifyHalted(target('refund-1'), ctx)
    expect(lambda).toHaveReceivedCommandTimes(GetFunctionCommand, 2)
    expect(lambda).not.toHaveReceivedCommand(GetFunctionConcurrencyCommand)
  })

  it('verifyHalted confirms with GetFunctionConcurrency when GetFunction omits a 0 reservation', async () => {
    lambda.on(GetFunctionCommand).resolves({ Configuration: { FunctionName: 'refund-1' } })
    lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 0 })
    const { ctx, paced } = recordingContext()
    await createLambdaConcurrencyPrimitive(awsConfig).verifyHalted(target('refund-1'), ctx)
    expect(paced).toEqual([`lambda-get:${HOME}:us-east-1`, `lambda-control:${HOME}:us-east-1`])
  })

  it('verifyHalted rejects when the signal aborts', async () => {
    const { ctx, controller } = recordingContext()
    lambda.on(GetFunctionCommand).callsFake(async () => {
      controller.abort(new Error('halt timed out'))
      return { Concurrency: { ReservedConcurrentExecutions: 5 } }
    })
    await expect(createLambdaConcurrencyPrimitive(awsConfig).verifyHalted(target('refund-1'), ctx)).rejects.toThrow('halt timed out')
  })

  it('verifyRestored waits for an unreserved function to show no reservation', async () => {
    lambda
      .on(GetFunctionCommand)
      .resolvesOnce({ Concurrency: { ReservedConcurrentExecutions: 0 } })
      .resolves({ Configuration: { FunctionName: 'refund-1' } })
    const { ctx } = recordingContext()
    await createLambdaConcurrencyPrimitive(awsConfig).verifyRestored(target('refund-1'), { reservedConcurrency: null }, ctx)
    expect(lambda).toHaveReceivedCommandTimes(GetFunctionCommand, 2)
  })
})

describe('state helpers', () => {
  const primitive = createLambdaConcurrencyPrimitive(awsConfig)

  it('tells 0 from unreserved', () => {
    expect(primitive.isHalted({ reservedConcurrency: 0 })).toBe(true)
    expect(primitive.isHalted({ reservedConcurrency: null })).toBe(false)
    expect(primitive.sameState({ reservedConcurrency: 0 }, { reservedConcurrency: null })).toBe(false)
    expect(primitive.sameState({ reservedConcurrency: 5 }, { reservedConcurrency: 5 })).toBe(true)
    expect(primitive.describe({ reservedConcurrency: 5 })).toBe('reserved=5')
    expect(primitive.describe({ reservedConcurrency: null })).toBe('unreserved')
  })

  it('rejects a state that is not a concurrency state', () => {
    expect(() => primitive.isHalted({ replicas: 0 })).toThrow('not a Lambda concurrency state')
  })

  it('estimates the snapshot GetFunction, one control call and a GetFunction read-back, in the target account and region', () => {
    expect(primitive.estimate(target('refund-1', OTHER, 'eu-west-1'), { reservedConcurrency: 5 })).toEqual({
      calls: [
        { key: `lambda-get:${OTHER}:eu-west-1`, ratePerSecond: 100 },
        { key: `lambda-control:${OTHER}:eu-west-1`, ratePerSecond: 15 },
        { key: `lambda-get:${OTHER}:eu-west-1`, ratePerSecond: 100 },
      ],
      settleMs: 0,
    })
  })
})
