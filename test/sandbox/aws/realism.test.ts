import { GetFunctionCommand, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda'
import { ListRolesCommand } from '@aws-sdk/client-iam'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { PublishCommand } from '@aws-sdk/client-sns'
import { GetResourcesCommand } from '@aws-sdk/client-resource-groups-tagging-api'
import { afterEach, describe, expect, it } from 'vitest'
import type { ApiKnobs } from '../../../src/sandbox/realism.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { ACCOUNT, clients, rejectionOf, testSeed } from './fixture.js'

let sandbox: Sandbox | undefined
afterEach(async () => {
  await sandbox?.stop()
  sandbox = undefined
})

type LambdaThrottle = Error & { $metadata: { httpStatusCode: number }; retryAfterSeconds?: string; Reason?: string }

describe('Lambda rate limits on the realistic profile', () => {
  it('throttles a burst of 40 PutFunctionConcurrency past 15 rps with 429, Retry-After and CallerRateLimitExceeded', async () => {
    sandbox = await startSandbox({ seed: testSeed(), profile: 'realistic' })
    const { lambda } = clients(sandbox.url, { maxAttempts: 1 })
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, () => lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: 0 }))),
    )
    const throttled = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as LambdaThrottle)
    const served = results.filter((r) => r.status === 'fulfilled')
    expect(served.length).toBeGreaterThanOrEqual(15)
    expect(throttled.length).toBeGreaterThan(0)
    for (const error of throttled) {
      expect(error.name).toBe('TooManyRequestsException')
      expect(error.$metadata.httpStatusCode).toBe(429)
      expect(error.Reason).toBe('CallerRateLimitExceeded')
      expect(Number(error.retryAfterSeconds)).toBeGreaterThanOrEqual(1)
    }
  })

  it('keeps GetFunction in its own 100 rps bucket, and each region separate', async () => {
    sandbox = await startSandbox({ seed: testSeed(), profile: 'realistic' })
    const { lambda } = clients(sandbox.url, { maxAttempts: 1 })
    const puts = await Promise.allSettled(
      Array.from({ length: 30 }, () => lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: 1 }))),
    )
    expect(puts.some((r) => r.status === 'rejected')).toBe(true)
    // The control-plane bucket is drained; GetFunction and another region still answer.
    const gets = await Promise.allSettled(Array.from({ length: 30 }, () => lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' }))))
    expect(gets.every((r) => r.status === 'fulfilled')).toBe(true)
    const eu = clients(sandbox.url, { region: 'eu-west-1', maxAttempts: 1 }).lambda
    await expect(eu.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-eu', ReservedConcurrentExecutions: 1 }))).resolves.toBeDefined()
  })
})

describe('injected faults in each protocol’s format', () => {
  const always = (knobs: Partial<ApiKnobs>) => ({
    apis: { lambda: knobs, iam: knobs, sts: knobs, sns: knobs, tagging: knobs },
  })

  it('renders 5xx errors as ServiceException / ServiceFailure / InternalFailure / InternalError / InternalServiceException', async () => {
    sandbox = await startSandbox({ seed: testSeed(), overrides: always({ errorRate: 1 }) })
    const c = clients(sandbox.url)
    const outcomes = [
      await rejectionOf(c.lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' }))),
      await rejectionOf(c.iam.send(new ListRolesCommand({}))),
      await rejectionOf(c.sts.send(new GetCallerIdentityCommand({}))),
      await rejectionOf(c.sns.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:killswitch-events`, Message: 'x' }))),
      await rejectionOf(c.tagging.send(new GetResourcesCommand({}))),
    ]
    expect(outcomes.map((e) => [e.name, e.$metadata?.httpStatusCode])).toEqual([
      ['ServiceException', 500],
      ['ServiceFailureException', 500],
      ['InternalFailure', 500],
      ['InternalErrorException', 500],
      ['InternalServiceException', 500],
    ])
    expect((sandbox.state().aws as { accounts: Record<string, { sns: { messages: unknown[] } }> }).accounts[ACCOUNT]!.sns.messages).toEqual([])
  })

  it('renders injected throttles as each service’s throttling error', async () => {
    sandbox = await startSandbox({ seed: testSeed(), overrides: always({ throttleRate: 1 }) })
    const c = clients(sandbox.url)
    const outcomes = [
      await rejectionOf(c.lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' }))),
      await rejectionOf(c.iam.send(new ListRolesCommand({}))),
      await rejectionOf(c.sts.send(new GetCallerIdentityCommand({}))),
      await rejectionOf(c.sns.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:killswitch-events`, Message: 'x' }))),
      await rejectionOf(c.tagging.send(new GetResourcesCommand({}))),
    ]
    expect(outcomes.map((e) => [e.name, e.$metadata?.httpStatusCode])).toEqual([
      ['TooManyRequestsException', 429],
      ['Throttling', 400],
      ['Throttling', 400],
      ['ThrottledException', 429],
      ['ThrottledException', 400],
    ])
  })

  it('resets the connection without an answer', async () => {
    sandbox = await startSandbox({ seed: testSeed(), overrides: always({ resetRate: 1 }) })
    const error = await rejectionOf(clients(sandbox.url).lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' })))
    expect(error.$metadata?.httpStatusCode).toBeUndefined()
    expect((error as Error & { code?: string }).code ?? error.message).toMatch(/ECONNRESET|socket hang up/)
  })
})
