/**
 * SNS (query protocol): Publish to existing topics, keeping every message for inspection, plus CreateTopic and
 * ListTopics so the CLI can be used naturally (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html).
 */
import { randomUUID } from 'node:crypto'
import { AwsError } from './errors.js'
import { decodeMarker, encodeMarker } from './ids.js'
import { createQueryService, entryList, members, required, text, type QueryAction } from './query.js'
import type { AwsService } from './service.js'
import { topicArn, type AwsWorld, type PublishedMessage } from './world.js'

const SNS_XMLNS = 'http://sns.amazonaws.com/doc/2010-03-31/'
const TOPIC_ARN = /^arn:aws:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_.-]+)$/
const TOPIC_NAME = /^[A-Za-z0-9_-]{1,256}(\.fifo)?$/
const TOPICS_PER_PAGE = 100

function invalidParameter(what: string): AwsError {
  return new AwsError('InvalidParameter', 400, `Invalid parameter: ${what}`)
}

function messageAttributes(entries: Array<Record<string, string>>): PublishedMessage['messageAttributes'] {
  const attributes: PublishedMessage['messageAttributes'] = {}
  for (const entry of entries) {
    const name = entry.Name
    const dataType = entry['Value.DataType']
    if (!name || !dataType) throw invalidParameter('MessageAttributes: every attribute needs a Name and a Value.DataType')
    const value: PublishedMessage['messageAttributes'][string] = { DataType: dataType }
    if (entry['Value.StringValue'] !== undefined) value.StringValue = entry['Value.StringValue']
    if (entry['Value.BinaryValue'] !== undefined) value.BinaryValue = entry['Value.BinaryValue']
    attributes[name] = value
  }
  return attributes
}

export function createSnsService(world: AwsWorld): AwsService {
  const publish: QueryAction = ({ params, caller, region }) => {
    const arn = params.get('TopicArn') ?? params.get('TargetArn')
    if (arn === undefined) {
      if (params.get('PhoneNumber') !== undefined) throw invalidParameter('PhoneNumber Reason: the sandbox does not emulate SMS')
      throw invalidParameter('TopicArn or TargetArn Reason: no value for required parameter')
    }
    const message = required(params, 'Message')
    if (message === '') throw invalidParameter('Empty message')
    const parsed = TOPIC_ARN.exec(arn)
    if (!parsed || parsed[1] !== region) throw invalidParameter('TopicArn')
    if (params.get('MessageStructure') === 'json') {
      let structured: unknown
      try {
        structured = JSON.parse(message)
      } catch {
        throw invalidParameter('Message Structure - JSON message body failed to parse')
      }
      if (typeof structured !== 'object' || structured === null || !('default' in structured)) {
        throw invalidParameter('Message Structure - No default entry in JSON message body')
      }
    }
    const topic = world.existingAccount(parsed[2]!)?.topics.get(arn)
    if (!topic) throw new AwsError('NotFound', 404, 'Topic does not exist')
    if (parsed[2] !== caller.account) {
      throw new AwsError('AuthorizationError', 403, `User: ${caller.arn} is not authorized to perform: SNS:Publish on resource: ${arn}`)
    }
    const messageId = randomUUID()
    world.account(caller.account).messages.push({
      messageId,
      topicArn: arn,
      subject: params.get('Subject') ?? null,
      message,
      messageAttributes: messageAttributes(entryList(params, 'MessageAttributes')),
      publishedAt: new Date().toISOString(),
    })
    return text('MessageId', messageId)
  }

  const createTopic: QueryAction = ({ params, caller, region }) => {
    const name = required(params, 'Name')
    if (!TOPIC_NAME.test(name)) throw invalidParameter('Topic Name')
    const arn = topicArn(caller.account, region, name)
    const topics = world.account(caller.account).topics
    if (!topics.has(arn)) topics.set(arn, { name, arn, region })
    return text('TopicArn', arn)
  }

  const listTopics: QueryAction = ({ params, caller, region }) => {
    const arns = [...world.account(caller.account).topics.values()]
      .filter((topic) => topic.region === region)
      .map((topic) => topic.arn)
      .sort()
    const token = params.get('NextToken')
    const start = token === undefined ? 0 : decodeMarker(token)
    if (start === undefined) throw invalidParameter('NextToken')
    const next = start + TOPICS_PER_PAGE
    return (
      members('Topics', arns.slice(start, next).map((arn) => text('TopicArn', arn))) +
      (next < arns.length ? text('NextToken', encodeMarker(next)) : '')
    )
  }

  return createQueryService({
    api: 'sns',
    version: '2010-03-31',
    xmlns: SNS_XMLNS,
    actions: { Publish: publish, CreateTopic: createTopic, ListTopics: listTopics },
    faultError: (decision) =>
      decision.kind === 'throttle'
        ? new AwsError('Throttled', 429, 'Rate exceeded', { retryAfterSeconds: decision.retryAfterSeconds })
        : new AwsError('InternalError', 500, 'Request could not be completed'),
  })
}
