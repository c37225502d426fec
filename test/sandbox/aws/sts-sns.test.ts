import { GetCallerIdentityCommand, AssumeRoleCommand } from '@aws-sdk/client-sts'
import { CreateTopicCommand, ListTopicsCommand, PublishCommand } from '@aws-sdk/client-sns'
import { ListRolesCommand } from '@aws-sdk/client-iam'
import { GetFunctionCommand } from '@aws-sdk/client-lambda'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AwsPlaneState } from '../../../src/sandbox/aws/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { ACCOUNT, AUDITOR_ARN, AUDITOR_KEY, clients, OTHER_ACCOUNT, rawAwsRequest, rejectionOf, testSeed } from './fixture.js'

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({ seed: testSeed() })
})
afterAll(() => sandbox.stop())

const awsState = () => sandbox.state().aws as AwsPlaneState

describe('STS GetCallerIdentity', () => {
  it('answers the default principal for an unknown key', async () => {
    const identity = await clients(sandbox.url, { accessKeyId: 'AKIAANYTHING00000000' }).sts.send(new GetCallerIdentityCommand({}))
    expect(identity.Account).toBe(ACCOUNT)
    expect(identity.Arn).toBe(`arn:aws:iam::${ACCOUNT}:role/killswitch-oncall`)
    expect(identity.UserId).toMatch(/^AROA[A-Z2-7]{17}$/)
  })

  it('answers the seeded principal of a known key, in its own account', async () => {
    const identity = await clients(sandbox.url, { accessKeyId: AUDITOR_KEY }).sts.send(new GetCallerIdentityCommand({}))
    expect(identity).toMatchObject({ Account: OTHER_ACCOUNT, Arn: AUDITOR_ARN })
    expect(identity.UserId).toMatch(/^AIDA/)
  })
})

describe('STS AssumeRole', () => {
  it('issues ASIA credentials for an hour that then act as the assumed role in its account', async () => {
    const before = Date.now()
    const assumed = await clients(sandbox.url).sts.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/breakglass`, RoleSessionName: 'oncall-alice' }),
    )
    const credentials = assumed.Credentials!
    expect(credentials.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/)
    expect(credentials.SecretAccessKey).toBeTruthy()
    expect(credentials.SessionToken).toBeTruthy()
    const expiresIn = credentials.Expiration!.getTime() - before
    expect(expiresIn).toBeGreaterThan(3_590_000)
    expect(expiresIn).toBeLessThanOrEqual(3_600_000 + 1_000)
    expect(assumed.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${OTHER_ACCOUNT}:assumed-role/breakglass/oncall-alice`)
    expect(assumed.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[A-Z2-7]{17}:oncall-alice$/)

    const asRole = clients(sandbox.url, { accessKeyId: credentials.AccessKeyId, secretAccessKey: credentials.SecretAccessKey, sessionToken: credentials.SessionToken })
    const identity = await asRole.sts.send(new GetCallerIdentityCommand({}))
    expect(identity).toMatchObject({ Account: OTHER_ACCOUNT, Arn: assumed.AssumedRoleUser?.Arn, UserId: assumed.AssumedRoleUser?.AssumedRoleId })
    const roles = await asRole.iam.send(new ListRolesCommand({}))
    expect(roles.Roles?.map((role) => role.RoleName)).toEqual(['breakglass'])
    expect((await rejectionOf(asRole.lambda.send(new GetFunctionCommand({ FunctionName: 'refund-agent-1' })))).name).toBe('ResourceNotFoundException')
  })

  it('denies a role that does not exist in the ARN’s account with 403 AccessDenied', async () => {
    const error = await rejectionOf(
      clients(sandbox.url).sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${OTHER_ACCOUNT}:role/refund-agent-role`, RoleSessionName: 's1' })),
    )
    expect(error.name).toBe('AccessDenied')
    expect(error.$metadata?.httpStatusCode).toBe(403)
    expect(error.message).toContain('is not authorized to perform: sts:AssumeRole')
    const unknownAccount = await rejectionOf(
      clients(sandbox.url).sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::999999999999:role/breakglass', RoleSessionName: 's1' })),
    )
    expect(unknownAccount.name).toBe('AccessDenied')
  })

  it('validates the session name and duration', async () => {
    const { sts } = clients(sandbox.url)
    const roleArn = `arn:aws:iam::${OTHER_ACCOUNT}:role/breakglass`
    expect((await rejectionOf(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'x' })))).name).toBe('ValidationError')
    expect((await rejectionOf(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok-name', DurationSeconds: 60 })))).name).toBe('ValidationError')
    expect((await rejectionOf(sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'ok-name', DurationSeconds: 7200 })))).message).toBe(
      'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
    )
  })
})

describe('SNS', () => {
  const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:killswitch-events`

  it('keeps every published message with its subject and attributes', async () => {
    const { sns } = clients(sandbox.url)
    const published = await sns.send(
      new PublishCommand({
        TopicArn: topic,
        Subject: 'halt started',
        Message: JSON.stringify({ scope: 'class=refund' }),
        MessageAttributes: { event: { DataType: 'String', StringValue: 'halt' }, attempt: { DataType: 'Number', StringValue: '1' } },
      }),
    )
    expect(published.MessageId).toMatch(/^[0-9a-f-]{36}$/)
    const messages = awsState().accounts[ACCOUNT]!.sns.messages
    expect(messages.at(-1)).toMatchObject({
      messageId: published.MessageId,
      topicArn: topic,
      subject: 'halt started',
      message: '{"scope":"class=refund"}',
      messageAttributes: { event: { DataType: 'String', StringValue: 'halt' }, attempt: { DataType: 'Number', StringValue: '1' } },
    })
    expect(Date.parse(messages.at(-1)!.publishedAt)).not.toBeNaN()
  })

  it('answers NotFound (404) for a topic that does not exist, and AuthorizationError for another account’s', async () => {
    const { sns } = clients(sandbox.url)
    const missing = await rejectionOf(sns.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${ACCOUNT}:nope`, Message: 'x' })))
    expect(missing.name).toBe('NotFoundException')
    expect(missing.$metadata?.httpStatusCode).toBe(404)
    expect(missing.message).toBe('Topic does not exist')
    const foreign = await rejectionOf(sns.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${OTHER_ACCOUNT}:other-events`, Message: 'x' })))
    expect(foreign.name).toBe('AuthorizationErrorException')
    const empty = await rejectionOf(sns.send(new PublishCommand({ TopicArn: topic, Message: '' })))
    expect(empty.name).toBe('InvalidParameterException')
    const otherRegion = await rejectionOf(clients(sandbox.url, { region: 'eu-west-1' }).sns.send(new PublishCommand({ TopicArn: topic, Message: 'x' })))
    expect(otherRegion.name).toBe('InvalidParameterException')
    const noDefault = await rejectionOf(sns.send(new PublishCommand({ TopicArn: topic, Message: '{"email":"x"}', MessageStructure: 'json' })))
    expect(noDefault.message).toBe('Invalid parameter: Message Structure - No default entry in JSON message body')
  })

  it('creates topics idempotently and lists the region’s topics', async () => {
    const { sns } = clients(sandbox.url)
    const created = await sns.send(new CreateTopicCommand({ Name: 'drills' }))
    expect(created.TopicArn).toBe(`arn:aws:sns:us-east-1:${ACCOUNT}:drills`)
    expect((await sns.send(new CreateTopicCommand({ Name: 'drills' }))).TopicArn).toBe(created.TopicArn)
    const listed = await sns.send(new ListTopicsCommand({}))
    expect(listed.Topics?.map((t) => t.TopicArn)).toEqual([created.TopicArn, topic])
    expect((await clients(sandbox.url, { region: 'eu-west-1' }).sns.send(new ListTopicsCommand({}))).Topics).toEqual([])
    await sns.send(new PublishCommand({ TopicArn: created.TopicArn, Message: 'now publishable' }))
    expect(awsState().accounts[ACCOUNT]!.sns.topics).toContain(created.TopicArn)
  })

  it('answers an unknown action with 400 InvalidAction in SNS’s namespace', async () => {
    const response = await rawAwsRequest(sandbox.url, 'sns', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=Subscribe&Version=2010-03-31',
    })
    expect(response.status).toBe(400)
    const body = await response.text()
    expect(body).toContain('<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">')
    expect(body).toContain('<Code>InvalidAction</Code>')
  })
})
