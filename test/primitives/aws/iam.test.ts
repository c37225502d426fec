import {
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  GetGroupCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  LimitExceededException,
  ListGroupsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  NoSuchEntityException,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import type { PrimitiveError, Target } from '../../../src/core/primitive.js'
import { DENY_ALL_POLICY, createDenyAllPrimitive } from '../../../src/primitives/aws/iam.js'
import { HOME, OTHER, awsConfig, recordingContext } from './fake-context.js'

const iam = mockClient(IAMClient)
const sts = mockClient(STSClient)

const POLICY = 'killswitch-deny-all'
const DENY_ALL = JSON.stringify(DENY_ALL_POLICY)

const target = (type: 'role' | 'user' | 'group', name: string): Target => ({
  id: `iam:${HOME}:${type}/${name}`,
  kind: 'denyAll',
  label: `${type}/${name}`,
  locator: { account: HOME, type, name, policyName: POLICY },
})

const noSuchEntity = (message: string) => new NoSuchEntityException({ message, $metadata: { httpStatusCode: 404 } })

beforeEach(() => {
  iam.reset()
  sts.reset()
  sts.on(GetCallerIdentityCommand).resolves({ Account: HOME, Arn: `arn:aws:iam::${HOME}:user/oncall`, UserId: 'AIDAEXAMPLE' })
})

afterAll(() => {
  iam.restore()
  sts.restore()
})

describe('resolve', () => {
  it('checks named roles exist and builds targets carrying the policy name', async () => {
    iam.on(GetRoleCommand).resolves({})
    const { ctx, paced } = recordingContext()
    const targets = await createDenyAllPrimitive(awsConfig).resolve({ roles: { names: ['agent-role'] }, policyName: POLICY }, ctx)
    expect(targets).toEqual([target('role', 'agent-role')])
    expect(iam).toHaveReceivedCommandExactlyOnceWith(GetRoleCommand, { RoleName: 'agent-role' })
    expect(paced).toEqual([`iam:${HOME}`])
  })

  it('names a role that does not exist', async () => {
    iam.on(GetRoleCommand).rejects(noSuchEntity('The role with name ghost cannot be found.'))
    const { ctx } = recordingContext()
    await expect(
      createDenyAllPrimitive(awsConfig).resolve({ roles: { names: ['ghost'] }, policyName: POLICY }, ctx),
    ).rejects.toMatchObject({ code: 'IamEntityNotFound', message: `IAM role ghost does not exist in account ${HOME}.` })
  })

  it('lists roles under a path prefix through every page', async () => {
    iam
      .on(ListRolesCommand)
      .resolvesOnce({ Roles: [{ RoleName: 'a' } as never], IsTruncated: true, Marker: 'm2' })
      .resolvesOnce({ Roles: [{ RoleName: 'b' } as never], IsTruncated: false })
    const { ctx } = recordingContext()
    const targets = await createDenyAllPrimitive(awsConfig).resolve({ roles: { pathPrefix: '/agents/' }, policyName: POLICY }, ctx)
    expect(targets.map((t) => t.id)).toEqual([`iam:${HOME}:role/a`, `iam:${HOME}:role/b`])
    expect(iam).toHaveReceivedNthCommandWith(ListRolesCommand, 1, { PathPrefix: '/agents/' })
    expect(iam).toHaveReceivedNthCommandWith(ListRolesCommand, 2, { PathPrefix: '/agents/', Marker: 'm2' })
  })

  it('keeps only roles and users carrying every tag', async () => {
    iam.on(ListRolesCommand).resolves({ Roles: [{ RoleName: 'refund-1' }, { RoleName: 'refund-2' }, { RoleName: 'search' }] as never })
    iam.on(ListRoleTagsCommand, { RoleName: 'refund-1' }).resolves({ Tags: [{ Key: 'class', Value: 'refund' }, { Key: 'env', Value: 'prod' }] })
    iam.on(ListRoleTagsCommand, { RoleName: 'refund-2' }).resolves({ Tags: [{ Key: 'class', Value: 'refund' }] })
    iam.on(ListRoleTagsCommand, { RoleName: 'search' }).resolves({ Tags: [{ Key: 'class', Value: 'search' }, { Key: 'env', Value: 'prod' }] })
    iam.on(ListUsersCommand).resolves({ Users: [{ UserName: 'bot' }] as never })
    iam.on(ListUserTagsCommand).resolves({ Tags: [{ Key: 'class', Value: 'refund' }, { Key: 'env', Value: 'prod' }] })
    const { ctx } = recordingContext()

    const tags = { class: 'refund', env: 'prod' }
    const targets = await createDenyAllPrimitive(awsConfig).resolve({ roles: { tags }, users: { tags }, policyName: POLICY }, ctx)

    expect(targets.map((t) => t.id)).toEqual([`iam:${HOME}:role/refund-1`, `iam:${HOME}:user/bot`])
    expect(iam).toHaveReceivedCommandWith(ListRolesCommand, { PathPrefix: '/' })
  })

  it('refuses a group tag selector before making any request: IAM groups cannot be tagged', async () => {
    const { ctx } = recordingContext()
    await expect(
      createDenyAllPrimitive(awsConfig).resolve({ groups: { tags: { class: 'refund' } }, policyName: POLICY }, ctx),
    ).rejects.toMatchObject({ code: 'IamGroupTagsUnsupported' })
    expect(iam).not.toHaveReceivedAnyCommand()
  })

  it('refuses to deny the role killswitch itself runs as', async () => {
    sts.on(GetCallerIdentityCommand).resolves({
      Account: HOME,
      Arn: `arn:aws:sts::${HOME}:assumed-role/break-glass/oncall-session`,
      UserId: 'AROAEXAMPLE:oncall-session',
    })
    iam.on(ListRolesCommand).resolves({ Roles: [{ RoleName: 'agent-role' }, { RoleName: 'break-glass' }] as never })
    const { ctx } = recordingContext()
    await expect(
      createDenyAllPrimitive(awsConfig).resolve({ roles: { pathPrefix: '/' }, policyName: POLICY }, ctx),
    ).rejects.toMatchObject({ code: 'IamDenySelf', message: expect.stringContaining('role/break-glass') })
  })

  it('refuses to deny a role killswitch assumes in another account', async () => {
    iam.on(GetRoleCommand).resolves({})
    const { ctx } = recordingContext()
    await expect(
      createDenyAllPrimitive(awsConfig).resolve({ roles: { names: ['killswitch-break-glass'], accounts: [OTHER] }, policyName: POLICY }, ctx),
    ).rejects.toMatchObject({ code: 'IamDenySelf' })
  })

  it('fails with SelectorMatchedNothing naming the filter', async () => {
    iam.on(ListGroupsCommand).resolves({ Groups: [] })
    const { ctx } = recordingContext()
    await expect(
      createDenyAllPrimitive(awsConfig).resolve({ groups: { pathPrefix: '/agents/' }, policyName: POLICY }, ctx),
    ).rejects.toMatchObject({
      code: 'SelectorMatchedNothing',
      message: `No IAM group with path prefix /agents/ exists in account ${HOME}.`,
    })
  })
})

describe('read', () => {
  it('URL-decodes the tool-named policy document', async () => {
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['agent-permissions', POLICY], IsTruncated: false })
    iam.on(GetRolePolicyCommand).resolves({ RoleName: 'agent-role', PolicyName: POLICY, PolicyDocument: encodeURIComponent(DENY_ALL) })
    const { ctx } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    const state = await primitive.read(target('role', 'agent-role'), ctx)
    expect(state).toEqual({ policy: DENY_ALL })
    expect(primitive.isHalted(state)).toBe(true)
    expect(iam).toHaveReceivedCommandExactlyOnceWith(GetRolePolicyCommand, { RoleName: 'agent-role', PolicyName: POLICY })
  })

  it('reads null in one request when the user exists without the policy', async () => {
    iam.onAnyCommand().resolves({})
    iam.on(ListUserPoliciesCommand).resolves({ PolicyNames: ['bot-permissions'], IsTruncated: false })
    const { ctx, paced } = recordingContext()
    expect(await createDenyAllPrimitive(awsConfig).read(target('user', 'bot'), ctx)).toEqual({ policy: null })
    expect(iam).toHaveReceivedCommandExactlyOnceWith(ListUserPoliciesCommand, { UserName: 'bot', MaxItems: 1000 })
    expect(iam).not.toHaveReceivedCommand(GetUserPolicyCommand)
    expect(paced).toHaveLength(1)
  })

  it('fails naming the role when the role itself is gone', async () => {
    iam.on(ListRolePoliciesCommand).rejects(noSuchEntity('The role with name gone cannot be found.'))
    const { ctx } = recordingContext()
    await expect(createDenyAllPrimitive(awsConfig).read(target('role', 'gone'), ctx)).rejects.toMatchObject({
      code: 'IamEntityNotFound',
      message: `IAM role gone in account ${HOME} does not exist.`,
    })
  })
})

describe('apply', () => {
  it('puts the deny-all document under the policy name, for roles, users and groups', async () => {
    iam.onAnyCommand().resolves({})
    const { ctx, paced } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)

    await primitive.apply(target('role', 'r'), { policy: null }, ctx)
    await primitive.apply(target('role', 'r'), { policy: null }, ctx)
    await primitive.apply(target('user', 'u'), { policy: null }, ctx)
    await primitive.apply(target('group', 'g'), { policy: null }, ctx)

    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 2)
    expect(iam).toHaveReceivedCommandWith(PutRolePolicyCommand, { RoleName: 'r', PolicyName: POLICY, PolicyDocument: DENY_ALL })
    expect(iam).toHaveReceivedCommandExactlyOnceWith(PutUserPolicyCommand, { UserName: 'u', PolicyName: POLICY, PolicyDocument: DENY_ALL })
    expect(iam).toHaveReceivedCommandExactlyOnceWith(PutGroupPolicyCommand, { GroupName: 'g', PolicyName: POLICY, PolicyDocument: DENY_ALL })
    expect(JSON.parse(DENY_ALL)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'KillswitchDenyAll', Effect: 'Deny', Action: '*', Resource: '*' }],
    })
    expect(paced).toEqual(Array(4).fill(`iam:${HOME}`))
  })

  it('maps LimitExceeded to IamPolicySizeLimit with a hint naming the role and the limit', async () => {
    iam.on(PutRolePolicyCommand).rejects(
      new LimitExceededException({ message: 'Maximum policy size of 10240 bytes exceeded for role agent-role', $metadata: { httpStatusCode: 409 } }),
    )
    const { ctx } = recordingContext()
    const error = (await createDenyAllPrimitive(awsConfig)
      .apply(target('role', 'agent-role'), { policy: null }, ctx)
      .catch((caught: unknown) => caught)) as PrimitiveError
    expect(error.code).toBe('IamPolicySizeLimit')
    expect(error.message).toContain(`IAM role agent-role in account ${HOME}`)
    expect(error.message).toContain('10240 characters')
    expect(error.hint).toContain('role agent-role')
    expect(iam).toHaveReceivedCommandTimes(PutRolePolicyCommand, 1)
  })

  it('names a group that does not exist', async () => {
    iam.on(PutGroupPolicyCommand).rejects(noSuchEntity('The group with name g cannot be found.'))
    const { ctx } = recordingContext()
    await expect(createDenyAllPrimitive(awsConfig).apply(target('group', 'g'), { policy: null }, ctx)).rejects.toMatchObject({
      code: 'IamEntityNotFound',
    })
  })
})

describe('restore', () => {
  it('deletes only the tool-named policy when there was none before', async () => {
    iam.onAnyCommand().resolves({})
    const { ctx } = recordingContext()
    await createDenyAllPrimitive(awsConfig).restore(target('role', 'agent-role'), { policy: null }, ctx)
    expect(iam).toHaveReceivedCommandExactlyOnceWith(DeleteRolePolicyCommand, { RoleName: 'agent-role', PolicyName: POLICY })
    expect(iam.calls()).toHaveLength(1)
  })

  it('puts back the document a policy by that name had before', async () => {
    iam.onAnyCommand().resolves({})
    const prior = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}'
    const { ctx } = recordingContext()
    await createDenyAllPrimitive(awsConfig).restore(target('role', 'agent-role'), { policy: prior }, ctx)
    expect(iam).toHaveReceivedCommandExactlyOnceWith(PutRolePolicyCommand, { RoleName: 'agent-role', PolicyName: POLICY, PolicyDocument: prior })
    expect(iam).not.toHaveReceivedCommand(DeleteRolePolicyCommand)
  })

  it('treats an already deleted policy as restored but a deleted group as an error', async () => {
    iam.on(DeleteGroupPolicyCommand).rejects(noSuchEntity('not found'))
    iam.on(GetGroupCommand).resolvesOnce({}).rejects(noSuchEntity('The group with name g cannot be found.'))
    const { ctx } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    await primitive.restore(target('group', 'g'), { policy: null }, ctx)
    await expect(primitive.restore(target('group', 'g'), { policy: null }, ctx)).rejects.toMatchObject({ code: 'IamEntityNotFound' })
  })

  it('verifyRestored waits until the policy is gone', async () => {
    iam
      .on(GetRolePolicyCommand)
      .resolvesOnce({ PolicyDocument: encodeURIComponent(DENY_ALL) })
      .rejects(noSuchEntity('no policy'))
    iam.on(GetRoleCommand).resolves({})
    const { ctx } = recordingContext()
    await createDenyAllPrimitive(awsConfig).verifyRestored(target('role', 'agent-role'), { policy: null }, ctx)
    expect(iam).toHaveReceivedCommandTimes(GetRolePolicyCommand, 2)
  })
})

describe('state helpers', () => {
  const primitive = createDenyAllPrimitive(awsConfig)

  it('compares documents as parsed JSON', () => {
    const spaced = JSON.stringify(DENY_ALL_POLICY, null, 2)
    expect(primitive.isHalted({ policy: spaced })).toBe(true)
    expect(primitive.sameState({ policy: spaced }, { policy: DENY_ALL })).toBe(true)
    expect(primitive.sameState({ policy: null }, { policy: DENY_ALL })).toBe(false)
    expect(primitive.isHalted({ policy: null })).toBe(false)
    expect(primitive.describe({ policy: null })).toBe('no killswitch policy')
    expect(primitive.describe({ policy: DENY_ALL })).toBe('deny-all')
  })

  it('estimates the snapshot read, the put and a read-back in the account IAM bucket', () => {
    expect(primitive.estimate(target('role', 'r'), { policy: null })).toEqual({
      calls: [
        { key: `iam:${HOME}`, ratePerSecond: 20 },
        { key: `iam:${HOME}`, ratePerSecond: 20 },
        { key: `iam:${HOME}`, ratePerSecond: 20 },
      ],
      settleMs: 0,
    })
  })
})
