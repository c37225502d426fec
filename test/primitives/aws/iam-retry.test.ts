/**
 * The IAM client's retry behaviour over real HTTP (aws-sdk-client-mock replaces `send` and so bypasses the retry
 * middleware): a loopback server answers every request with one IAM error and counts the attempts.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Target } from '../../../src/core/primitive.js'
import { createDenyAllPrimitive } from '../../../src/primitives/aws/iam.js'
import { HOME, awsConfig, recordingContext } from './fake-context.js'

let server: Server
let attempts: string[] = []
let answer = { status: 409, code: 'LimitExceeded', message: 'Maximum policy size of 10240 bytes exceeded for role agent-role' }

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
      response.writeHead(answer.status, { 'content-type': 'text/xml' })
      response.end(
        `<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>` +
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
    answer = { status: 409, code: 'LimitExceeded', message: 'Maximum policy size of 10240 bytes exceeded for role agent-role' }
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()

    await expect(primitive.apply(target, { policy: null }, ctx)).rejects.toMatchObject({ code: 'IamPolicySizeLimit' })
    expect(attempts).toEqual(['PutRolePolicy'])
    await primitive.close?.()
  })

  it('still retries Throttling the standard way (three attempts)', async () => {
    answer = { status: 400, code: 'Throttling', message: 'Rate exceeded' }
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()

    await expect(primitive.apply(target, { policy: null }, ctx)).rejects.toMatchObject({ name: 'Throttling' })
    expect(attempts).toEqual(['PutRolePolicy', 'PutRolePolicy', 'PutRolePolicy'])
    await primitive.close?.()
  })
})
