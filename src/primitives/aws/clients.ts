/**
 * AWS SDK v3 clients for the AWS primitives, created on first use and cached per (service, account, region).
 * Each SDK module is imported only when the first client of that service is needed, so a halt that never touches
 * IAM never loads the IAM client. In the CLI one set serves the whole invocation (`SharedAwsClients`).
 *
 * Credentials: the runbook's `credentials.aws.profile` (shared config files) or else the SDK's default provider
 * chain are the *base* credentials. A target account listed in `credentials.aws.accounts` is reached by assuming
 * that role over the base credentials; every other account uses the base credentials directly.
 *
 * Endpoints come only from the standard settings (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`, shared
 * config), which the SDK reads itself; that is how the sandbox and moto are reached on the production code path.
 */
import { userInfo } from 'node:os'
import type { IAMClient } from '@aws-sdk/client-iam'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { ResourceGroupsTaggingAPIClient } from '@aws-sdk/client-resource-groups-tagging-api'
import type { SNSClient } from '@aws-sdk/client-sns'
import type { STSClient } from '@aws-sdk/client-sts'
import type { AwsCredentialIdentityProvider, NodeHttpHandlerOptions } from '@smithy/types'
import { PrimitiveError } from '../../core/primitive.js'
import { registerSecret } from '../../core/secrets.js'
import type { PrimitiveConfig } from '../registry.js'
import { createRetryStrategy } from './retry.js'

export interface CallerIdentity {
  arn: string
  account: string
  userId: string
}

export interface AwsClients {
  /** `credentials.aws.region`: where bare names are looked up and where STS and IAM are called. */
  readonly defaultRegion: string
  lambda(account: string, region: string): Promise<LambdaClient>
  tagging(account: string, region: string): Promise<ResourceGroupsTaggingAPIClient>
  /** IAM is global; one client per account. */
  iam(account: string): Promise<IAMClient>
  sns(account: string, region: string): Promise<SNSClient>
  /** The roles in `credentials.aws.accounts`, assumed for targets in those accounts. */
  readonly assumedRoleArns: string[]
  /** Who the base credentials are (STS GetCallerIdentity), asked once and cached. */
  callerIdentity(signal?: AbortSignal): Promise<CallerIdentity>
  /** The base credentials' account: where targets whose selector names no account live. */
  homeAccount(signal?: AbortSignal): Promise<string>
  /** Rejects with `AccountNotConfigured` unless `account` is the home account or has a role to assume. */
  assertReachable(account: string, signal?: AbortSignal): Promise<void>
  /** Closes every client's sockets. */
  destroy(): void
}

export const DEFAULT_REGION = 'us-east-1'

/** A user's hold on AWS clients; `release()` (idempotent) when done with them. */
export interface AwsClientsLease {
  readonly clients: AwsClients
  release(): void
}

/**
 * One invocation's AWS clients, shared by all who use AWS in it: the identity check, the notifier, the Lambda and
 * IAM primitives. So the caller's identity is asked of STS once, the base credentials are resolved once (one
 * instance-metadata or SSO round trip, not one per user), each account's role is assumed once, and each service
 * keeps one connection pool. Each user leases the clients and releases them when done; the last release closes
 * them and their sockets. The identity stays known: a later lease in the same invocation does not ask again.
 */
export class SharedAwsClients {
  private readonly clients: AwsClients
  private users = 0

  constructor(config: PrimitiveConfig) {
    this.clients = createAwsClients(config)
  }

  lease(): AwsClientsLease {
    this.users++
    let released = false
    return {
      clients: this.clients,
      release: () => {
        if (released) return
        released = true
        if (--this.users === 0) this.clients.destroy()
      },
    }
  }
}

/** The invocation's shared clients when the config carries them (the CLI's does), else clients of one's own. */
export function leaseAwsClients(config: PrimitiveConfig): AwsClientsLease {
  if (config.aws) return config.aws.lease()
  const clients = createAwsClients(config)
  return { clients, release: () => clients.destroy() }
}

/**
 * Tight timeouts: a halt must not hang on a dead connection. `throwOnRequestTimeout` turns the request timeout
 * into a (retryable) error instead of a logged warning; keep-alive saves a TLS handshake per call.
 */
const REQUEST_HANDLER: NodeHttpHandlerOptions = {
  connectionTimeout: 2_000,
  requestTimeout: 10_000,
  throwOnRequestTimeout: true,
  httpAgent: { keepAlive: true },
  httpsAgent: { keepAlive: true },
}

/**
 * Each SDK client remembers the credentials it fetched, but only for itself: the Lambda and IAM clients given the
 * same `fromTemporaryCredentials` provider would each assume the role. Remembered here, with the memo the SDK's
 * clients use (fetched again within five minutes of their expiry), every client of the set shares one fetch: one
 * AssumeRole per account, one resolution of the base chain.
 */
function sharedByClients(smithy: typeof import('@smithy/core'), provider: AwsCredentialIdentityProvider): AwsCredentialIdentityProvider {
  // Every key a provider hands out (a profile's, SSO's, an assumed role's) is redacted from any text from then on.
  const registering: AwsCredentialIdentityProvider = async (options) => {
    const identity = await provider(options)
    registerSecret(identity.secretAccessKey)
    registerSecret(identity.sessionToken)
    return identity
  }
  return smithy.memoizeIdentityProvider(registering, smithy.isIdentityExpired, smithy.doesIdentityRequireRefresh)!
}

interface Destroyable {
  destroy(): void
}

/** `killswitch-<os user>`, so CloudTrail shows who assumed the role; limited to STS's RoleSessionName rules. */
function roleSessionName(): string {
  let user = 'operator'
  try {
    user = userInfo().username || user
  } catch {
    // no passwd entry (some containers): keep the generic name
  }
  return `killswitch-${user.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 64)
}

export function createAwsClients(config: PrimitiveConfig): AwsClients {
  const aws = config.credentials.aws
  const defaultRegion = aws?.region ?? DEFAULT_REGION
  const roles = aws?.accounts ?? {}
  // The runbook's profile is the clients' profile, as `--profile` is the AWS CLI's: its endpoint_url and services
  // sections apply, and an AWS_PROFILE in the environment does not replace it. Environment settings such as
  // AWS_ENDPOINT_URL still win over the file, as they do for the AWS CLI.
  const profileOption = aws?.profile ? { profile: aws.profile } : {}
  const clients = new Map<string, Promise<Destroyable>>()
  const credentialProviders = new Map<string, Promise<AwsCredentialIdentityProvider>>()
  let identity: Promise<CallerIdentity> | undefined

  /** Caches a creation promise; a failed creation is forgotten so the next call tries again. */
  function cached<T>(cache: Map<string, Promise<unknown>>, key: string, create: () => Promise<T>): Promise<T> {
    const existing = cache.get(key) as Promise<T> | undefined
    if (existing) return existing
    const created = create()
    cache.set(key, created)
    created.catch(() => cache.delete(key))
    return created
  }

  function baseCredentials(): Promise<AwsCredentialIdentityProvider> {
    return cached(credentialProviders, 'base', async () => {
      const [{ fromIni, fromNodeProviderChain }, smithy] = await Promise.all([import('@aws-sdk/credential-providers'), import('@smithy/core')])
      return sharedByClients(smithy, aws?.profile ? fromIni({ profile: aws.profile }) : fromNodeProviderChain())
    })
  }

  function credentialsFor(account: string): Promise<AwsCredentialIdentityProvider> {
    const role = roles[account]
    if (!role) return baseCredentials()
    return cached(credentialProviders, account, async () => {
      const [{ fromTemporaryCredentials }, smithy, retryStrategy, masterCredentials] = await Promise.all([
        import('@aws-sdk/credential-providers'),
        import('@smithy/core'),
        createRetryStrategy(),
        baseCredentials(),
      ])
      return sharedByClients(
        smithy,
        fromTemporaryCredentials({
          masterCredentials,
          params: {
            RoleArn: role.roleArn,
            RoleSessionName: roleSessionName(),
            ...(role.externalId !== undefined ? { ExternalId: role.externalId } : {}),
          },
          // AssumeRole throttled must not fail every request waiting for the account's credentials.
          clientConfig: { region: defaultRegion, ...profileOption, requestHandler: REQUEST_HANDLER, retryStrategy },
        }),
      )
    })
  }

  function sts(): Promise<STSClient> {
    return cached(clients, `sts:base:${defaultRegion}`, async () => {
      const [{ STSClient }, retryStrategy, credentials] = await Promise.all([import('@aws-sdk/client-sts'), createRetryStrategy(), baseCredentials()])
      return new STSClient({ region: defaultRegion, ...profileOption, credentials, requestHandler: REQUEST_HANDLER, retryStrategy })
    })
  }

  const api: AwsClients = {
    defaultRegion,
    assumedRoleArns: Object.values(roles).map((role) => role.roleArn),

    lambda: (account, region) =>
      cached(clients, `lambda:${account}:${region}`, async () => {
        const [{ LambdaClient }, retryStrategy, credentials] = await Promise.all([import('@aws-sdk/client-lambda'), createRetryStrategy(), credentialsFor(account)])
        return new LambdaClient({ region, ...profileOption, credentials, requestHandler: REQUEST_HANDLER, retryStrategy })
      }),

    tagging: (account, region) =>
      cached(clients, `tagging:${account}:${region}`, async () => {
        const [{ ResourceGroupsTaggingAPIClient }, retryStrategy, credentials] = await Promise.all([
          import('@aws-sdk/client-resource-groups-tagging-api'),
          createRetryStrategy(),
          credentialsFor(account),
        ])
        return new ResourceGroupsTaggingAPIClient({ region, ...profileOption, credentials, requestHandler: REQUEST_HANDLER, retryStrategy })
      }),

    iam: (account) =>
      cached(clients, `iam:${account}`, async () => {
        const [{ IAMClient }, retryStrategy, credentials] = await Promise.all([import('@aws-sdk/client-iam'), createRetryStrategy(), credentialsFor(account)])
        return new IAMClient({ region: defaultRegion, ...profileOption, credentials, requestHandler: REQUEST_HANDLER, retryStrategy })
      }),

    sns: (account, region) =>
      cached(clients, `sns:${account}:${region}`, async () => {
        const [{ SNSClient }, credentials] = await Promise.all([import('@aws-sdk/client-sns'), credentialsFor(account)])
        return new SNSClient({ region, ...profileOption, credentials, requestHandler: REQUEST_HANDLER })
      }),

    callerIdentity(signal) {
      identity ??= (async () => {
        const [client, { GetCallerIdentityCommand }] = await Promise.all([sts(), import('@aws-sdk/client-sts')])
        const out = await client.send(new GetCallerIdentityCommand({}), { abortSignal: signal })
        if (!out.Arn || !out.Account || !out.UserId) {
          throw new Error('STS GetCallerIdentity answered without Arn, Account or UserId')
        }
        return { arn: out.Arn, account: out.Account, userId: out.UserId }
      })()
      identity.catch(() => {
        identity = undefined
      })
      return identity
    },

    async homeAccount(signal) {
      return (await api.callerIdentity(signal)).account
    },

    async assertReachable(account, signal) {
      if (roles[account]) return
      const home = await api.homeAccount(signal)
      if (account === home) return
      throw new PrimitiveError(
        `Account ${account} is not the break-glass credentials' account (${home}) and credentials.aws.accounts has no role for it.`,
        `Add credentials.aws.accounts."${account}".roleArn (a role the break-glass principal may assume) to the runbook, or remove the account from the step.`,
        'AccountNotConfigured',
      )
    },

    destroy() {
      for (const client of clients.values()) {
        client.then(
          (created) => created.destroy(),
          () => undefined,
        )
      }
      clients.clear()
    },
  }
  return api
}
