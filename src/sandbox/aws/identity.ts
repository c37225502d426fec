/**
 * Who is calling: the account and principal behind an access key id. Keys issued by the emulated AssumeRole
 * belong to the assumed role; keys listed in the seed's `principals` to that ARN; any other key to the seed's
 * default account and principal (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html; the sandbox does not check signatures).
 */
import type { Seed } from '../seed.js'
import { iamEntityId } from './world.js'

export interface Caller {
  accessKeyId: string
  account: string
  /** The principal ARN GetCallerIdentity reports. */
  arn: string
  /** GetCallerIdentity's UserId: the role or user id (`AROA…:session` for assumed roles), the account for root. */
  userId: string
}

const PRINCIPAL_ARN = /^arn:aws:(?:iam|sts)::(\d{12}):(.+)$/

/** The UserId AWS reports for a principal ARN (ids are the same deterministic ones GetRole/GetUser return). */
function userIdFor(account: string, resource: string): string {
  const assumed = /^assumed-role\/([^/]+)\/(.+)$/.exec(resource)
  if (assumed) return `${iamEntityId(account, 'role', assumed[1]!)}:${assumed[2]}`
  const entity = /^(role|user)\/(?:.*\/)?([^/]+)$/.exec(resource)
  if (entity) return iamEntityId(account, entity[1] as 'role' | 'user', entity[2]!)
  return account
}

export class Identities {
  private readonly sessions = new Map<string, Caller>()

  constructor(private readonly seed: Seed['aws']) {}

  resolve(accessKeyId: string): Caller {
    const session = this.sessions.get(accessKeyId)
    if (session) return session
    const arn = this.seed.principals[accessKeyId] ?? this.seed.defaultPrincipal
    const parsed = PRINCIPAL_ARN.exec(arn)
    const account = parsed ? parsed[1]! : this.seed.defaultAccount
    return { accessKeyId, account, arn, userId: parsed ? userIdFor(account, parsed[2]!) : account }
  }

  /** Records the credentials AssumeRole issued so that later calls signed with them act as the role. */
  registerSession(accessKeyId: string, account: string, roleName: string, sessionName: string): Caller {
    const caller: Caller = {
      accessKeyId,
      account,
      arn: `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`,
      userId: `${iamEntityId(account, 'role', roleName)}:${sessionName}`,
    }
    this.sessions.set(accessKeyId, caller)
    return caller
  }
}
