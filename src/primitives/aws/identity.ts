/** Who the break-glass AWS credentials are: checked against a runbook's `authority` and written to the audit trail. */
import { PrimitiveError } from '../../core/primitive.js'
import type { PrimitiveConfig } from '../registry.js'
import { leaseAwsClients, type CallerIdentity } from './clients.js'

export type { CallerIdentity }

/**
 * STS GetCallerIdentity with the base credentials (the profile or default chain, never an assumed role). A failure is
 * a PrimitiveError that names its real cause — no credentials, an expired SSO session, credentials STS rejects, STS
 * out of reach — and what to run about it, so that it is never mistaken for a caller outside the authority.
 */
export async function getCallerIdentity(config: PrimitiveConfig, signal?: AbortSignal): Promise<CallerIdentity> {
  const { clients, release } = leaseAwsClients(config)
  try {
    return await clients.callerIdentity(signal)
  } catch (error) {
    if (signal?.aborted) throw error
    throw explainIdentityFailure(error, config)
  } finally {
    release()
  }
}

/** STS error codes that mean the credentials themselves are wrong, expired or not allowed. */
const REJECTED = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'AccessDenied',
  'AccessDeniedException',
  'InvalidAccessKeyId',
])
const NETWORK = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH'])

export function explainIdentityFailure(error: unknown, config: PrimitiveConfig): PrimitiveError {
  const aws = config.credentials.aws
  const profile = aws?.profile
  const env = config.env
  const name = (error as { name?: string }).name ?? 'Error'
  const message = error instanceof Error ? error.message : String(error)
  const networkCode = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code
  const source = profile
    ? `the runbook's profile ${profile}`
    : env.AWS_PROFILE
      ? `the profile ${env.AWS_PROFILE} (AWS_PROFILE)`
      : "the SDK's default credential chain"
  const check = `aws sts get-caller-identity${profile ? ` --profile ${profile}` : ''}`

  if (/\bSSO\b|sso_session|SSO session|token.*expired/i.test(message) && !REJECTED.has(name)) {
    return new PrimitiveError(
      `the AWS credentials from ${source} could not be loaded: ${message}`,
      `run: aws sso login${profile ? ` --profile ${profile}` : env.AWS_PROFILE ? ` --profile ${env.AWS_PROFILE}` : ''}, then try again`,
      'AwsCredentialsUnavailable',
    )
  }
  if (name === 'CredentialsProviderError' || name === 'TokenProviderError' || name === 'ProviderError') {
    return new PrimitiveError(
      `no AWS credentials could be loaded from ${source}: ${message}`,
      profile
        ? `check the profile in ~/.aws/config and ~/.aws/credentials (its keys, credential_process, role_arn/source_profile or sso settings): ${check}`
        : 'give the break-glass credentials: credentials.aws.profile in the runbook, or AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment',
      'AwsCredentialsUnavailable',
    )
  }
  if (REJECTED.has(name)) {
    return new PrimitiveError(
      `STS rejected the AWS credentials from ${source}: ${name}: ${message}`,
      `refresh or replace them (expired session credentials, a revoked key, or a role the profile may not assume); ${check} shows the same answer`,
      'AwsCredentialsRejected',
    )
  }
  if ((networkCode && NETWORK.has(networkCode)) || name === 'TimeoutError') {
    // The endpoint as the environment sets it; one from a profile's endpoint_url shows in the message's address.
    const endpoint = env.AWS_ENDPOINT_URL_STS ?? env.AWS_ENDPOINT_URL
    return new PrimitiveError(
      `STS is unreachable${endpoint ? ` at ${endpoint}` : ''} with ${source}: ${message}`,
      'check the network path to STS (proxy, VPC endpoint, AWS_ENDPOINT_URL_STS) from this machine',
      'AwsStsUnreachable',
    )
  }
  return new PrimitiveError(`STS GetCallerIdentity failed with ${source}: ${name}: ${message}`, `${check} shows the same call`, 'AwsIdentityFailed')
}
