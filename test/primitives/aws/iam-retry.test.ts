/**
 * The IAM client's retry behaviour over real HTTP (aws-sdk-client-mock replaces `send` and so bypasses the retry
 * middleware): a loopback server answers each request with the next planned IAM answer and counts the attempts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Target } from '../../../src/core/primitive.js'
import { createDenyAllPrimitive } from '../../../src/primitives/aws/iam.js'
import { TRANSIENT_ATTEMPTS } from '../../../src/primitives/transient.js'
import { HOME, awsConfig, recordingContext } from './fake-context.js'

let server: Server
let attempts: string[] = []
type Answer = { status: number; code?: string; message?: string }
/** Answers in order; the last one repeats. */
let answers: Answer[] = []
const limitExceeded: Answer = { status: 409, code: 'LimitExceeded', message: 'Maximum policy size of 10240 bytes exceeded for role agent-role' }
const throttled: Answer = { status: 400, code: 'Throttling', message: 'Rate exceeded' }

const target: Target = {
  id: `iam:${HOME}:role/agent-role`,
  kind: 'denyAll',
  label: 'role/agent-role',
  locator: { account: HOME, type: 'role', name: 'agent-role', policyName: 'killswitch-deny-all' },
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      attempts.push(new URLSearchParams(body).get('Action') ?? '?')
      const answer = answers.length > 1 ? answers.shift()! : answers[0]!
      response.writeHead(answer.status, { 'content-type': 'text/xml' })
      response.end(
        answer.code === undefined
          ? `<PutRolePolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PutRolePolicyResponse>`
          : `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>` +
              `<Code>${answer.code}</Code><Message>${answer.message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`,
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.env.AWS_ENDPOINT_URL_IAM = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  process.env.AWS_ACCESS_KEY_ID = 'AKIDTESTONLY'
  process.env.AWS_SECRET_ACCESS_KEY = 'test-only-secret'
  delete process.env.AWS_PROFILE
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  attempts = []
})

describe('IAM retries', () => {
  it('surfaces LimitExceeded after one attempt, as IamPolicySizeLimit', async () => {
    answers = [limitExceeded]
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()

    await expect(primitive.apply(target, { policy: null }, ctx)).rejects.toMatchObject({ code: 'IamPolicySizeLimit' })
    expect(attempts).toEqual(['PutRolePolicy'])
    await primitive.close?.()
  })

  it('keeps retrying a throttled put: three Throttling answers in a row no longer fail the target', async () => {
    answers = [throttled, throttled, throttled, { status: 200 }]
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()

    await primitive.apply(target, { policy: null }, ctx)
    expect(attempts).toEqual(['PutRolePolicy', 'PutRolePolicy', 'PutRolePolicy', 'PutRolePolicy'])
    await primitive.close?.()
  })

  it(`gives up on a failing server after ${TRANSIENT_ATTEMPTS} attempts`, async () => {
    answers = [{ status: 500, code: 'ServiceFailure', message: 'internal failure' }]
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()

    await expect(primitive.apply(target, { policy: null }, ctx)).rejects.toMatchObject({ name: 'ServiceFailureException' })
    expect(attempts).toEqual(Array(TRANSIENT_ATTEMPTS).fill('PutRolePolicy'))
    await primitive.close?.()
  })
})
