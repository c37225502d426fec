import { PublishCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { SharedAwsClients } from '../../../src/primitives/aws/clients.js'
import { getCallerIdentity } from '../../../src/primitives/aws/identity.js'
import { createSnsNotifier } from '../../../src/primitives/aws/notify.js'
import type { PrimitiveConfig } from '../../../src/primitives/registry.js'
import { HOME, OTHER, awsConfig } from './fake-context.js'

const sns = mockClient(SNSClient)
const sts = mockClient(STSClient)

beforeEach(() => {
  sns.reset()
  sts.reset()
})

afterAll(() => {
  sns.restore()
  sts.restore()
})

describe('createSnsNotifier', () => {
  it('publishes with string attributes from a client in the topic region', async () => {
    const regions: string[] = []
    sns.on(PublishCommand).callsFake(async (_input, getClient) => {
      regions.push(await getClient().config.region())
      return { MessageId: 'm-1' }
    })
    const notifier = createSnsNotifier(awsConfig)
    const topicArn = `arn:aws:sns:eu-west-1:${OTHER}:killswitch-events`

    await notifier.publish({
      topicArn,
      subject: 'killswitch halt class=refund: halted in 4.2 s',
      message: '{"event":"halt"}',
      attributes: { event: 'halt', scope: 'class/refund' },
    })

    expect(sns).toHaveReceivedCommandExactlyOnceWith(PublishCommand, {
      TopicArn: topicArn,
      Subject: 'killswitch halt class=refund: halted in 4.2 s',
      Message: '{"event":"halt"}',
      MessageAttributes: {
        event: { DataType: 'String', StringValue: 'halt' },
        scope: { DataType: 'String', StringValue: 'class/refund' },
      },
    })
    expect(regions).toEqual(['eu-west-1'])
    await notifier.close()
  })

  it('cuts the subject to the 100 characters SNS allows', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' })
    await createSnsNotifier(awsConfig).publish({ topicArn: `arn:aws:sns:us-east-1:${HOME}:t`, subject: 'x'.repeat(150), message: 'm' })
    expect(sns.commandCalls(PublishCommand)[0]!.args[0].input.Subject).toBe('x'.repeat(100))
  })

  it('refuses something that is not a topic ARN without calling SNS', async () => {
    await expect(
      createSnsNotifier(awsConfig).publish({ topicArn: 'arn:aws:sqs:us-east-1:111122223333:q', subject: 's', message: 'm' }),
    ).rejects.toMatchObject({ code: 'InvalidTopicArn' })
    expect(sns).not.toHaveReceivedAnyCommand()
  })
})

describe('getCallerIdentity', () => {
  it('returns the base credentials identity', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: HOME, Arn: `arn:aws:iam::${HOME}:user/oncall`, UserId: 'AIDAEXAMPLE' })
    expect(await getCallerIdentity(awsConfig)).toEqual({ account: HOME, arn: `arn:aws:iam::${HOME}:user/oncall`, userId: 'AIDAEXAMPLE' })
  })

  it('asks STS once per invocation with shared clients, which close when the last lease is returned', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: HOME, Arn: `arn:aws:iam::${HOME}:user/oncall`, UserId: 'AIDAEXAMPLE' })
    const destroy = vi.spyOn(STSClient.prototype, 'destroy')
    try {
      const config: PrimitiveConfig = { ...awsConfig }
      config.aws = new SharedAwsClients(config)
      const primitive = config.aws.lease()
      await getCallerIdentity(config)
      await new Promise((resolve) => setImmediate(resolve))
      expect(destroy).not.toHaveBeenCalled()
      primitive.release()
      primitive.release()
      await vi.waitFor(() => expect(destroy).toHaveBeenCalledTimes(1))
      expect(await getCallerIdentity(config)).toMatchObject({ account: HOME })
      expect(sts).toHaveReceivedCommandTimes(GetCallerIdentityCommand, 1)
    } finally {
      destroy.mockRestore()
    }
  })
})
