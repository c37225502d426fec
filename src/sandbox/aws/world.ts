/**
 * The AWS resources the sandbox holds, per account: Lambda functions per region, IAM entities (global to the
 * account), SNS topics and every message published. Accounts a caller reaches that the seed does not name start
 * empty, with the default quotas.
 */
import { AccountSeed, type Seed } from '../seed.js'
import { InlinePolicies, validatePolicyDocument, type IamKind } from './iam-policy.js'
import { stableId } from './ids.js'

export interface LambdaFunction {
  name: string
  account: string
  region: string
  arn: string
  tags: Record<string, string>
  /** null = unreserved, a different state from 0 (which throttles every invocation). */
  reservedConcurrency: number | null
  runtime: string
  timeout: number
  memorySize: number
}

export interface IamEntity {
  kind: IamKind
  name: string
  path: string
  id: string
  arn: string
  tags: Record<string, string>
  policies: InlinePolicies
}

export interface Topic {
  name: string
  arn: string
  region: string
}

export interface PublishedMessage {
  messageId: string
  topicArn: string
  subject: string | null
  message: string
  messageAttributes: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>
  publishedAt: string
}

export interface Account {
  id: string
  lambdaConcurrencyLimit: number
  /** region → function name → function. */
  functions: Map<string, Map<string, LambdaFunction>>
  /** IAM names are unique case-insensitively, so the maps are keyed by the lower-cased name. */
  iam: Record<IamKind, Map<string, IamEntity>>
  /** topic ARN → topic. */
  topics: Map<string, Topic>
  messages: PublishedMessage[]
}

const ID_PREFIX: Record<IamKind, string> = { role: 'AROA', user: 'AIDA', group: 'AGPA' }

export function iamArn(account: string, kind: IamKind, path: string, name: string): string {
  return `arn:aws:iam::${account}:${kind}${path}${name}`
}

export function iamEntityId(account: string, kind: IamKind, name: string): string {
  return stableId(ID_PREFIX[kind], account, kind, name.toLowerCase())
}

export function lambdaArn(account: string, region: string, name: string): string {
  return `arn:aws:lambda:${region}:${account}:function:${name}`
}

export function topicArn(account: string, region: string, name: string): string {
  return `arn:aws:sns:${region}:${account}:${name}`
}

/** A seeded inline policy as IAM would have stored it; a seed IAM would have refused is refused here too. */
function seededDocument(kind: IamKind, entity: string, policy: string, document: string | Record<string, unknown>): string {
  const text = typeof document === 'string' ? document : JSON.stringify(document)
  try {
    validatePolicyDocument(text)
  } catch (error) {
    throw new Error(`seed: inline policy ${policy} of ${kind} ${entity} is not a valid IAM policy: ${(error as Error).message}`)
  }
  return text
}

function buildAccount(id: string, seed: AccountSeed): Account {
  const account: Account = {
    id,
    lambdaConcurrencyLimit: seed.lambdaConcurrencyLimit,
    functions: new Map(),
    iam: { role: new Map(), user: new Map(), group: new Map() },
    topics: new Map(),
    messages: [],
  }
  for (const [region, functions] of Object.entries(seed.lambda)) {
    const byName = new Map<string, LambdaFunction>()
    for (const fn of functions) {
      byName.set(fn.name, {
        name: fn.name,
        account: id,
        region,
        arn: lambdaArn(id, region, fn.name),
        tags: { ...fn.tags },
        reservedConcurrency: fn.reservedConcurrency ?? null,
        runtime: fn.runtime,
        timeout: fn.timeout,
        memorySize: fn.memorySize,
      })
    }
    account.functions.set(region, byName)
  }
  const iamSeeds: Array<[IamKind, AccountSeed['iam']['roles']]> = [
    ['role', seed.iam.roles],
    ['user', seed.iam.users],
    ['group', seed.iam.groups],
  ]
  for (const [kind, entities] of iamSeeds) {
    for (const entity of entities) {
      const policies = Object.fromEntries(Object.entries(entity.inlinePolicies).map(([name, doc]) => [name, seededDocument(kind, entity.name, name, doc)]))
      account.iam[kind].set(entity.name.toLowerCase(), {
        kind,
        name: entity.name,
        path: entity.path,
        id: iamEntityId(id, kind, entity.name),
        arn: iamArn(id, kind, entity.path, entity.name),
        tags: { ...entity.tags },
        policies: new InlinePolicies(policies),
      })
    }
  }
  for (const [region, names] of Object.entries(seed.sns)) {
    for (const name of names) {
      const arn = topicArn(id, region, name)
      account.topics.set(arn, { name, arn, region })
    }
  }
  return account
}

export class AwsWorld {
  private readonly accounts = new Map<string, Account>()
  /** Fixed so that CreateDate/LastModified do not change between calls. */
  readonly createdAt = new Date()

  constructor(seed: Seed['aws']) {
    for (const [id, accountSeed] of Object.entries(seed.accounts)) this.accounts.set(id, buildAccount(id, accountSeed))
  }

  account(id: string): Account {
    let account = this.accounts.get(id)
    if (!account) {
      account = buildAccount(id, AccountSeed.parse({}))
      this.accounts.set(id, account)
    }
    return account
  }

  /** Only accounts that exist already; lookups by ARN must not create accounts. */
  existingAccount(id: string): Account | undefined {
    return this.accounts.get(id)
  }

  functionsIn(account: Account, region: string): Map<string, LambdaFunction> {
    let functions = account.functions.get(region)
    if (!functions) {
      functions = new Map()
      account.functions.set(region, functions)
    }
    return functions
  }

  /** Plain JSON of everything, for `/_sandbox/state` and tests. */
  state(): AwsPlaneState {
    const accounts: AwsPlaneState['accounts'] = {}
    for (const [id, account] of this.accounts) {
      const lambda: AccountState['lambda'] = {}
      for (const [region, functions] of account.functions) {
        lambda[region] = {}
        for (const fn of functions.values()) lambda[region][fn.name] = { reservedConcurrency: fn.reservedConcurrency, tags: { ...fn.tags } }
      }
      const iam = { roles: iamState(account.iam.role), users: iamState(account.iam.user), groups: iamState(account.iam.group) }
      const sns = { topics: [...account.topics.keys()], messages: account.messages.map((message) => structuredClone(message)) }
      accounts[id] = { lambdaConcurrencyLimit: account.lambdaConcurrencyLimit, lambda, iam, sns }
    }
    return { accounts }
  }
}

function iamState(entities: Map<string, IamEntity>): Record<string, IamEntityState> {
  const out: Record<string, IamEntityState> = {}
  for (const entity of entities.values()) {
    out[entity.name] = {
      path: entity.path,
      tags: { ...entity.tags },
      inlinePolicies: Object.fromEntries(entity.policies.entries().map(([name, text]) => [name, JSON.parse(text) as unknown])),
    }
  }
  return out
}

export interface IamEntityState {
  path: string
  tags: Record<string, string>
  /** Policy name → parsed document. */
  inlinePolicies: Record<string, unknown>
}

export interface AccountState {
  lambdaConcurrencyLimit: number
  /** region → function name → state. */
  lambda: Record<string, Record<string, { reservedConcurrency: number | null; tags: Record<string, string> }>>
  iam: { roles: Record<string, IamEntityState>; users: Record<string, IamEntityState>; groups: Record<string, IamEntityState> }
  sns: { topics: string[]; messages: PublishedMessage[] }
}

export interface AwsPlaneState {
  accounts: Record<string, AccountState>
}
