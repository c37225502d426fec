import { GetResourcesCommand } from '@aws-sdk/client-resource-groups-tagging-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { ACCOUNT, clients, rawAwsRequest, rejectionOf, testSeed } from './fixture.js'

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({ seed: testSeed() })
})
afterAll(() => sandbox.stop())

const fnArn = (name: string) => `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${name}`

describe('Resource Groups Tagging API GetResources', () => {
  it('finds tagged Lambda functions by tag value, with their tags', async () => {
    const result = await clients(sandbox.url).tagging.send(
      new GetResourcesCommand({ ResourceTypeFilters: ['lambda:function'], TagFilters: [{ Key: 'agent-class', Values: ['refund'] }] }),
    )
    expect(result.ResourceTagMappingList?.map((r) => r.ResourceARN)).toEqual([fnArn('refund-agent-1'), fnArn('refund-agent-2')])
    expect(result.ResourceTagMappingList?.[0]?.Tags).toEqual([
      { Key: 'agent-class', Value: 'refund' },
      { Key: 'agent', Value: 'refund-1' },
    ])
    expect(result.PaginationToken).toBe('')
  })

  it('ANDs filters, ORs values, and treats no values as “key present”', async () => {
    const { tagging } = clients(sandbox.url)
    const or = await tagging.send(new GetResourcesCommand({ ResourceTypeFilters: ['lambda'], TagFilters: [{ Key: 'agent-class', Values: ['refund', 'support'] }] }))
    expect(or.ResourceTagMappingList).toHaveLength(3)
    const and = await tagging.send(
      new GetResourcesCommand({ TagFilters: [{ Key: 'agent-class', Values: ['refund'] }, { Key: 'agent', Values: ['refund-2'] }] }),
    )
    expect(and.ResourceTagMappingList?.map((r) => r.ResourceARN)).toEqual([fnArn('refund-agent-2')])
    const present = await tagging.send(new GetResourcesCommand({ TagFilters: [{ Key: 'agent' }] }))
    expect(present.ResourceTagMappingList?.map((r) => r.ResourceARN)).toEqual([fnArn('refund-agent-1'), fnArn('refund-agent-2')])
  })

  it('returns only tagged resources, only of the requested types, only in the region', async () => {
    const { tagging } = clients(sandbox.url)
    const all = await tagging.send(new GetResourcesCommand({}))
    expect(all.ResourceTagMappingList?.map((r) => r.ResourceARN)).not.toContain(fnArn('untagged-job'))
    expect(all.ResourceTagMappingList).toHaveLength(3)
    expect((await tagging.send(new GetResourcesCommand({ ResourceTypeFilters: ['ec2:instance'] }))).ResourceTagMappingList).toEqual([])
    const eu = await clients(sandbox.url, { region: 'eu-west-1' }).tagging.send(new GetResourcesCommand({}))
    expect(eu.ResourceTagMappingList?.map((r) => r.ResourceARN)).toEqual([`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:refund-agent-eu`])
  })

  it('pages with PaginationToken', async () => {
    const { tagging } = clients(sandbox.url)
    const first = await tagging.send(new GetResourcesCommand({ ResourcesPerPage: 2 }))
    expect(first.ResourceTagMappingList).toHaveLength(2)
    expect(first.PaginationToken).not.toBe('')
    const second = await tagging.send(new GetResourcesCommand({ ResourcesPerPage: 2, PaginationToken: first.PaginationToken }))
    expect(second.ResourceTagMappingList?.map((r) => r.ResourceARN)).toEqual([fnArn('support-agent')])
    expect(second.PaginationToken).toBe('')
  })

  it('rejects a malformed resource type with InvalidParameterException', async () => {
    const error = await rejectionOf(clients(sandbox.url).tagging.send(new GetResourcesCommand({ ResourceTypeFilters: ['Lambda Function!'] })))
    expect(error.name).toBe('InvalidParameterException')
    expect(error.$metadata?.httpStatusCode).toBe(400)
  })

  it('answers an unknown target with 400 UnknownOperationException', async () => {
    const response = await rawAwsRequest(sandbox.url, 'tagging', {
      method: 'POST',
      headers: { 'x-amz-target': 'ResourceGroupsTaggingAPI_20170126.TagResources', 'content-type': 'application/x-amz-json-1.1' },
      body: '{}',
    })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { __type: string }).__type).toBe('UnknownOperationException')
  })
})
