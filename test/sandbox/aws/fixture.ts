/** A seed with two accounts and the SDK clients pointed at a started sandbox, shared by the AWS plane's tests. */
import { IAMClient } from '@aws-sdk/client-iam'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api'
import { SNSClient } from '@aws-sdk/client-sns'
import { STSClient } from '@aws-sdk/client-sts'
import type { SeedInput } from '../../../src/sandbox/seed.js'

export const ACCOUNT = '111122223333'
export const OTHER_ACCOUNT = '444455556666'
export const REGION = 'us-east-1'
/** A key the seed maps to a fixed principal in the other account. */
export const AUDITOR_KEY = 'AKIAAUDITOR000000001'
export const AUDITOR_ARN = `arn:aws:iam::${OTHER_ACCOUNT}:user/auditor`

export const DENY_ALL = { Version: '2012-10-17', Statement: [{ Sid: 'KillswitchDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }] }
export const ALLOW_LAMBDA = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'lambda:*', Resource: '*' }] }

export function testSeed(): SeedInput {
  return {
    aws: {
      defaultAccount: ACCOUNT,
      defaultPrincipal: `arn:aws:iam::${ACCOUNT}:role/killswitch-oncall`,
      principals: { [AUDITOR_KEY]: AUDITOR_ARN },
      accounts: {
        [ACCOUNT]: {
          lambdaConcurrencyLimit: 1000,
          lambda: {
            'us-east-1': [
              { name: 'refund-agent-1', tags: { 'agent-class': 'refund', agent: 'refund-1' } },
              { name: 'refund-agent-2', tags: { 'agent-class': 'refund', agent: 'refund-2' }, reservedConcurrency: 5 },
              { name: 'support-agent', tags: { 'agent-class': 'support' } },
              { name: 'untagged-job' },
            ],
            'eu-west-1': [{ name: 'refund-agent-eu', tags: { 'agent-class': 'refund' } }],
          },
          iam: {
            roles: [
              { name: 'refund-agent-role', path: '/agents/', tags: { 'agent-class': 'refund' }, inlinePolicies: { 'lambda-access': ALLOW_LAMBDA } },
              { name: 'support-agent-role', path: '/agents/', tags: { 'agent-class': 'support' } },
              { name: 'killswitch-oncall', path: '/' },
            ],
            users: [{ name: 'batch-bot', path: '/bots/', tags: { owner: 'data' } }],
            groups: [{ name: 'agents', path: '/' }],
          },
          sns: { 'us-east-1': ['killswitch-events'] },
        },
        [OTHER_ACCOUNT]: {
          iam: { roles: [{ name: 'breakglass', path: '/' }], users: [{ name: 'auditor', path: '/' }] },
          sns: { 'us-east-1': ['other-events'] },
        },
      },
    },
  }
}

export interface ClientOptions {
  region?: string
  accessKeyId?: string
  sessionToken?: string
  secretAccessKey?: string
  maxAttempts?: number
}

function config(url: string, options: ClientOptions) {
  return {
    endpoint: url,
    region: options.region ?? REGION,
    maxAttempts: options.maxAttempts ?? 1,
    credentials: {
      accessKeyId: options.accessKeyId ?? 'AKIASANDBOXONCALL001',
      secretAccessKey: options.secretAccessKey ?? 'sandbox-secret',
      ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
    },
  }
}

export const clients = (url: string, options: ClientOptions = {}) => ({
  lambda: new LambdaClient(config(url, options)),
  iam: new IAMClient(config(url, options)),
  sts: new STSClient(config(url, options)),
  sns: new SNSClient(config(url, options)),
  tagging: new ResourceGroupsTaggingAPIClient(config(url, options)),
})

/** The rejection of a promise, failing the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await promise
  } catch (error) {
    return error as Error & { $metadata?: { httpStatusCode?: number } }
  }
  throw new Error('expected the call to fail, but it succeeded')
}

/**
 * A raw request the sandbox routes to the AWS plane: it reads only the SigV4 credential scope, not the signature,
 * so tests can inspect exact wire bytes without an SDK in between.
 */
export function rawAwsRequest(url: string, service: string, init: RequestInit & { region?: string } = {}): Promise<Response> {
  const { region = REGION, headers, ...rest } = init
  return fetch(url, {
    ...rest,
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=AKIASANDBOXONCALL001/20260101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      ...(headers as Record<string, string> | undefined),
    },
  })
}
