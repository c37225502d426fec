/**
 * The AWS CLI (a botocore client, independent of the JS SDK) against the sandbox: it must parse every answer,
 * including IAM's URL-encoded policy documents, which botocore decodes (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AwsPlaneState } from '../../../src/sandbox/aws/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { ACCOUNT, DENY_ALL, testSeed } from './fixture.js'

const run = promisify(execFile)

let sandbox: Sandbox
beforeAll(async () => {
  sandbox = await startSandbox({ seed: testSeed() })
})
afterAll(() => sandbox.stop())

/** The child's environment: the caller's PATH and HOME, but no AWS settings but ours (no profile, no config file). */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value
  return {
    ...env,
    AWS_ACCESS_KEY_ID: 'AKIASANDBOXCLI000001',
    AWS_SECRET_ACCESS_KEY: 'sandbox-cli-secret',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  }
}

async function aws(...args: string[]): Promise<string> {
  const { stdout } = await run('aws', ['--endpoint-url', sandbox.url, '--region', 'us-east-1', '--output', 'json', ...args], { env: cliEnv() })
  return stdout
}

async function awsJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await aws(...args)) as T
}

/** The CLI's exit code and stderr of a failing command. */
async function awsFailure(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await aws(...args)
  } catch (error) {
    const e = error as { code: number; stderr: string }
    return { code: e.code, stderr: e.stderr }
  }
  throw new Error(`expected aws ${args.join(' ')} to fail`)
}

const awsState = () => sandbox.state().aws as AwsPlaneState

describe('AWS CLI against the sandbox', () => {
  it('puts, gets and deletes Lambda reserved concurrency', async () => {
    expect(await awsJson('lambda', 'put-function-concurrency', '--function-name', 'refund-agent-1', '--reserved-concurrent-executions', '0')).toEqual({
      ReservedConcurrentExecutions: 0,
    })
    expect(await awsJson('lambda', 'get-function-concurrency', '--function-name', 'refund-agent-1')).toEqual({ ReservedConcurrentExecutions: 0 })
    expect(awsState().accounts[ACCOUNT]!.lambda['us-east-1']!['refund-agent-1']!.reservedConcurrency).toBe(0)
    expect((await aws('lambda', 'delete-function-concurrency', '--function-name', 'refund-agent-1')).trim()).toBe('')
    // Unreserved: the answer has no value, and the CLI prints nothing for an empty result.
    expect((await aws('lambda', 'get-function-concurrency', '--function-name', 'refund-agent-1')).trim()).toBe('')
    expect(awsState().accounts[ACCOUNT]!.lambda['us-east-1']!['refund-agent-1']!.reservedConcurrency).toBeNull()
    const missing = await awsFailure('lambda', 'get-function-concurrency', '--function-name', 'ghost')
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toContain('ResourceNotFoundException')
  })

  it('puts, gets (decoded) and deletes an IAM role policy', async () => {
    await aws('iam', 'put-role-policy', '--role-name', 'refund-agent-role', '--policy-name', 'killswitch-deny', '--policy-document', JSON.stringify(DENY_ALL))
    const got = await awsJson<{ RoleName: string; PolicyName: string; PolicyDocument: unknown }>(
      'iam', 'get-role-policy', '--role-name', 'refund-agent-role', '--policy-name', 'killswitch-deny',
    )
    expect(got).toEqual({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny', PolicyDocument: DENY_ALL })
    // --no-paginate: one page, as the CLI sends it, with the document decoded by botocore like GetRolePolicy's.
    const details = await awsJson<{ RoleDetailList: { RoleName: string; RolePolicyList: { PolicyName: string; PolicyDocument: unknown }[] }[]; IsTruncated: boolean }>(
      'iam', 'get-account-authorization-details', '--filter', 'Role', '--max-items', '1000', '--no-paginate',
    )
    expect(details.RoleDetailList.find((r) => r.RoleName === 'refund-agent-role')?.RolePolicyList).toContainEqual({ PolicyName: 'killswitch-deny', PolicyDocument: DENY_ALL })
    await aws('iam', 'delete-role-policy', '--role-name', 'refund-agent-role', '--policy-name', 'killswitch-deny')
    expect(awsState().accounts[ACCOUNT]!.iam.roles['refund-agent-role']!.inlinePolicies['killswitch-deny']).toBeUndefined()
    const gone = await awsFailure('iam', 'get-role-policy', '--role-name', 'refund-agent-role', '--policy-name', 'killswitch-deny')
    expect(gone.stderr).toContain('NoSuchEntity')
  })

  it('publishes to SNS and reads the caller identity', async () => {
    const topic = `arn:aws:sns:us-east-1:${ACCOUNT}:killswitch-events`
    const published = await awsJson<{ MessageId: string }>('sns', 'publish', '--topic-arn', topic, '--subject', 'drill', '--message', 'drill started')
    expect(awsState().accounts[ACCOUNT]!.sns.messages).toContainEqual(expect.objectContaining({ messageId: published.MessageId, subject: 'drill', message: 'drill started' }))
    const identity = await awsJson<{ Account: string; Arn: string; UserId: string }>('sts', 'get-caller-identity')
    expect(identity).toMatchObject({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:role/killswitch-oncall` })
    expect(identity.UserId).toMatch(/^AROA/)
  })
})
