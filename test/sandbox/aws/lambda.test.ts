import {
  DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  ListFunctionsCommand,
  ListTagsCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import type { AwsPlaneState } from '../../../src/sandbox/aws/index.js'
import { ACCOUNT, AUDITOR_KEY, clients, rawAwsRequest, rejectionOf, testSeed } from './fixture.js'

let sandbox: Sandbox
beforeEach(async () => {
  await sandbox?.stop()
  sandbox = await startSandbox({ seed: testSeed() })
})
afterAll(() => sandbox?.stop())

const awsState = () => sandbox.state().aws as AwsPlaneState
const fnState = (name: string, region = 'us-east-1') => awsState().accounts[ACCOUNT]!.lambda[region]![name]!

describe('Lambda GetFunction', () => {
  it('returns the configuration with the ARN and tags, and Concurrency only when reserved', async () => {
    const { lambda } = clients(sandbox.url)
    const unreserved = await lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' }))
    expect(unreserved.Configuration).toMatchObject({
      FunctionName: 'refund-agent-1',
      FunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:refund-agent-1`,
      Runtime: 'nodejs22.x',
      Version: '$LATEST',
      State: 'Active',
    })
    expect(unreserved.Configuration?.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/)
    expect(unreserved.Tags).toEqual({ 'agent-class': 'refund', agent: 'refund-1' })
    expect(unreserved.Concurrency).toBeUndefined()

    const reserved = await lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-2' }))
    expect(reserved.Concurrency).toEqual({ ReservedConcurrentExecutions: 5 })
  })

  it('accepts a full or partial ARN as the function name', async () => {
    const { lambda } = clients(sandbox.url)
    const byArn = await lambda.send(new GetFunctionCommand({ FunctionName: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:support-agent` }))
    expect(byArn.Configuration?.FunctionName).toBe('support-agent')
    const byPartial = await lambda.send(new GetFunctionCommand({ FunctionName: `${ACCOUNT}:function:support-agent` }))
    expect(byPartial.Configuration?.FunctionName).toBe('support-agent')
  })

  it('answers ResourceNotFoundException (404) for a missing function, another region, or another account', async () => {
    const error = await rejectionOf(clients(sandbox.url).lambda.send(new GetFunctionCommand({ FunctionName: 'nope' })))
    expect(error.name).toBe('ResourceNotFoundException')
    expect(error.$metadata?.httpStatusCode).toBe(404)
    expect(error.message).toBe(`Function not found: arn:aws:lambda:us-east-1:${ACCOUNT}:function:nope`)

    const inEu = await rejectionOf(clients(sandbox.url, { region: 'eu-west-1' }).lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' })))
    expect(inEu.name).toBe('ResourceNotFoundException')

    const otherAccount = await rejectionOf(clients(sandbox.url, { accessKeyId: AUDITOR_KEY }).lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' })))
    expect(otherAccount.name).toBe('ResourceNotFoundException')
  })

  it('answers ValidationException for a name that fails the model’s pattern', async () => {
    const error = await rejectionOf(clients(sandbox.url).lambda.send(new GetFunctionCommand({ FunctionName: 'bad name!' })))
    expect(error.name).toBe('ValidationException')
    expect(error.$metadata?.httpStatusCode).toBe(400)
  })

  it('has no versions: a qualifier other than $LATEST is not found', async () => {
    const { lambda } = clients(sandbox.url)
    await expect(lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1', Qualifier: '$LATEST' }))).resolves.toBeDefined()
    const error = await rejectionOf(lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1', Qualifier: 'live' })))
    expect(error.name).toBe('ResourceNotFoundException')
  })
})

describe('Lambda ListFunctions and ListTags', () => {
  it('lists the region’s functions without Concurrency', async () => {
    const page = await clients(sandbox.url).lambda.send(new ListFunctionsCommand({}))
    expect(page.Functions?.map((fn) => fn.FunctionName)).toEqual(['refund-agent-1', 'refund-agent-2', 'support-agent', 'untagged-job'])
    expect(page.NextMarker).toBeUndefined()
    const eu = await clients(sandbox.url, { region: 'eu-west-1' }).lambda.send(new ListFunctionsCommand({}))
    expect(eu.Functions?.map((fn) => fn.FunctionName)).toEqual(['refund-agent-eu'])
  })

  it('pages 50 at a time with NextMarker', async () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ name: `fn-${String(i).padStart(3, '0')}` }))
    await sandbox.stop()
    sandbox = await startSandbox({ seed: { aws: { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { lambda: { 'us-east-1': many } } } } } })
    const { lambda } = clients(sandbox.url)
    const sizes: number[] = []
    const names: string[] = []
    let marker: string | undefined
    do {
      const page = await lambda.send(new ListFunctionsCommand({ Marker: marker, MaxItems: 1000 }))
      sizes.push(page.Functions!.length)
      names.push(...page.Functions!.map((fn) => fn.FunctionName!))
      marker = page.NextMarker
    } while (marker)
    expect(sizes).toEqual([50, 50, 20])
    expect(names).toEqual(many.map((fn) => fn.name))
    const small = await lambda.send(new ListFunctionsCommand({ MaxItems: 7 }))
    expect(small.Functions).toHaveLength(7)
  })

  it('lists tags by the URL-encoded function ARN', async () => {
    const { lambda } = clients(sandbox.url)
    const tags = await lambda.send(new ListTagsCommand({ Resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:refund-agent-2` }))
    expect(tags.Tags).toEqual({ 'agent-class': 'refund', agent: 'refund-2' })
    const missing = await rejectionOf(lambda.send(new ListTagsCommand({ Resource: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:gone` })))
    expect(missing.name).toBe('ResourceNotFoundException')
  })
})

describe('Lambda reserved concurrency', () => {
  it('distinguishes 0 (throttled) from unreserved through put, get and delete', async () => {
    const { lambda } = clients(sandbox.url)
    const put = await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: 0 }))
    expect(put.ReservedConcurrentExecutions).toBe(0)
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1' }))).ReservedConcurrentExecutions).toBe(0)
    expect((await lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' }))).Concurrency).toEqual({ ReservedConcurrentExecutions: 0 })
    expect(fnState('refund-agent-1').reservedConcurrency).toBe(0)

    const deleted = await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1' }))
    expect(deleted.$metadata.httpStatusCode).toBe(204)
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1' }))).ReservedConcurrentExecutions).toBeUndefined()
    expect((await lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' }))).Concurrency).toBeUndefined()
    expect(fnState('refund-agent-1').reservedConcurrency).toBeNull()
  })

  it('sends no ReservedConcurrentExecutions key at all for an unreserved function', async () => {
    const response = await rawAwsRequest(`${sandbox.url}/2019-09-30/functions/support-agent/concurrency`, 'lambda')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})
  })

  it('rejects a negative or non-integer value with InvalidParameterValueException', async () => {
    const { lambda } = clients(sandbox.url)
    for (const value of [-1, 2.5]) {
      const error = await rejectionOf(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: value })))
      expect(error.name).toBe('InvalidParameterValueException')
      expect(error.$metadata?.httpStatusCode).toBe(400)
    }
    expect(fnState('refund-agent-1').reservedConcurrency).toBeNull()
  })

  it('refuses to reserve below 100 unreserved, counting the other functions’ reservations', async () => {
    const { lambda } = clients(sandbox.url)
    // limit 1000, refund-agent-2 holds 5: at most 895 more may be reserved.
    const error = await rejectionOf(lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: 896 })))
    expect(error.name).toBe('InvalidParameterValueException')
    expect(error.message).toBe(
      "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [100].",
    )
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: 895 }))
    // Re-reserving the same function does not count its own previous value twice.
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: 'refund-agent-1', ReservedConcurrentExecutions: 895 }))
    const settings = await lambda.send(new GetAccountSettingsCommand({}))
    expect(settings.AccountLimit).toMatchObject({ ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 100 })
    expect(settings.AccountUsage?.FunctionCount).toBe(4)
  })

  it('answers ResourceNotFoundException for concurrency calls on a missing function', async () => {
    const { lambda } = clients(sandbox.url)
    for (const command of [
      new PutFunctionConcurrencyCommand({ FunctionName: 'ghost', ReservedConcurrentExecutions: 0 }),
      new GetFunctionConcurrencyCommand({ FunctionName: 'ghost' }),
      new DeleteFunctionConcurrencyCommand({ FunctionName: 'ghost' }),
    ]) {
      // The union of command types does not narrow for send(); each is a valid Lambda command.
      const error = await rejectionOf(lambda.send(command as PutFunctionConcurrencyCommand))
      expect(error.name).toBe('ResourceNotFoundException')
    }
  })

  it('answers an unknown route loudly with 404', async () => {
    const response = await rawAwsRequest(`${sandbox.url}/2015-03-31/functions/refund-agent-1/invocations`, 'lambda', { method: 'POST' })
    expect(response.status).toBe(404)
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException')
    expect(((await response.json()) as { message: string }).message).toContain('does not emulate')
  })
})
