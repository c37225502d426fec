/** Announces halts, restores and drills on the runbook's SNS topics. */
import { PrimitiveError } from '../../core/primitive.js'
import type { PrimitiveConfig } from '../registry.js'
import { leaseAwsClients } from './clients.js'
import { rethrowAwsError } from './errors.js'

export interface SnsMessage {
  topicArn: string
  /** E-mail subscribers see it as the subject; SNS allows at most 100 characters, so longer ones are cut. */
  subject: string
  message: string
  /** String message attributes, for subscription filter policies (e.g. `event=halt`, `scope=class/refund`). */
  attributes?: Record<string, string>
  signal?: AbortSignal
}

export interface SnsNotifier {
  publish(message: SnsMessage): Promise<void>
  close(): Promise<void>
}

const SUBJECT_MAX = 100
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):[\w-]+(\.fifo)?$/

/** The topic's region and account: the client must call SNS where the topic lives. */
export function parseTopicArn(topicArn: string): { region: string; account: string } {
  const match = TOPIC_ARN.exec(topicArn)
  if (!match) {
    throw new PrimitiveError(
      `${topicArn} is not an SNS topic ARN.`,
      'Name topics in notify.sns as arn:aws:sns:REGION:ACCOUNT:TOPIC.',
      'InvalidTopicArn',
    )
  }
  return { region: match[1]!, account: match[2]! }
}

/**
 * Publishes with the base credentials, or with the role configured for the topic's account. A topic in another
 * account without a configured role is published to directly: SNS topic policies commonly allow that.
 */
export function createSnsNotifier(config: PrimitiveConfig): SnsNotifier {
  const { clients, release } = leaseAwsClients(config)
  return {
    async publish({ topicArn, subject, message, attributes = {}, signal }) {
      const { region, account } = parseTopicArn(topicArn)
      const [client, { PublishCommand }] = await Promise.all([clients.sns(account, region), import('@aws-sdk/client-sns')])
      const command = new PublishCommand({
        TopicArn: topicArn,
        Subject: subject.slice(0, SUBJECT_MAX),
        Message: message,
        MessageAttributes: Object.fromEntries(
          Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
        ),
      })
      try {
        await client.send(command, { abortSignal: signal })
      } catch (error) {
        rethrowAwsError(error, `publishing to ${topicArn}`)
      }
    },
    async close() {
      release()
    },
  }
}
