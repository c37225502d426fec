import {
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  GetAccountAuthorizationDetailsCommand,
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
import { verifyWithin } from '../../../src/core/engine.js'
import type { Pacer } from '../../../src/core/pacing.js'
import type { PrimitiveContext, PrimitiveError, Target } from '../../../src/core/primitive.js'
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
const accessDenied = () =>
  Object.assign(new Error('User: arn:aws:iam::111122223333:user/oncall is not authorized to perform: iam:GetAccountAuthorizationDetails'), {
    name: 'AccessDenied',
    $metadata: { httpStatusCode: 403 },
  })
const role = (name: string, path = '/', policies: Record<string, string> = {}, tags: Record<string, string> = {}) => ({
  RoleName: name,
  Path: path,
  RolePolicyList: Object.entries(policies).map(([PolicyName, document]) => ({ PolicyName, PolicyDocument: encodeURIComponent(document) })),
  Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
})

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

  it('reads roles under a path prefix, with their policies, from GetAccountAuthorizationDetails through every page', async () => {
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolvesOnce({ RoleDetailList: [role('a', '/agents/'), role('elsewhere', '/other/')], IsTruncated: true, Marker: 'm2' })
      .resolvesOnce({ RoleDetailList: [role('b', '/agents/team/', { [POLICY]: DENY_ALL, other: '{}' })], IsTruncated: false })
    const { ctx } = recordingContext()
    const targets = await createDenyAllPrimitive(awsConfig).resolve({ roles: { pathPrefix: '/agents/' }, policyName: POLICY }, ctx)
    expect(targets.map((t) => [t.id, t.observed])).toEqual([
      [`iam:${HOME}:role/a`, { policy: null }],
      [`iam:${HOME}:role/b`, { policy: DENY_ALL }],
    ])
    expect(iam).toHaveReceivedNthCommandWith(GetAccountAuthorizationDetailsCommand, 1, { Filter: ['Role'], MaxItems: 1000 })
    expect(iam).toHaveReceivedNthCommandWith(GetAccountAuthorizationDetailsCommand, 2, { Filter: ['Role'], MaxItems: 1000, Marker: 'm2' })
    expect(iam).not.toHaveReceivedCommand(ListRolesCommand)
    expect(iam).not.toHaveReceivedCommand(ListRolePoliciesCommand)
  })

  it('keeps only roles and users carrying every tag, without a request per entity', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand, { Filter: ['Role'] }).resolves({
      RoleDetailList: [role('refund-1', '/', {}, { class: 'refund', env: 'prod' }), role('refund-2', '/', {}, { class: 'refund' }), role('search', '/', {}, { class: 'search', env: 'prod' })],
    })
    iam.on(GetAccountAuthorizationDetailsCommand, { Filter: ['User'] }).resolves({
      UserDetailList: [{ UserName: 'bot', Path: '/', Tags: [{ Key: 'class', Value: 'refund' }, { Key: 'env', Value: 'prod' }] }],
    })
    const { ctx, paced } = recordingContext()
    const tags = { class: 'refund', env: 'prod' }
    const targets = await createDenyAllPrimitive(awsConfig).resolve({ roles: { tags }, users: { tags }, policyName: POLICY }, ctx)
    expect(targets.map((t) => t.id)).toEqual([`iam:${HOME}:role/refund-1`, `iam:${HOME}:user/bot`])
    expect(paced).toEqual([`iam:${HOME}`, `iam:${HOME}`])
    expect(iam).not.toHaveReceivedCommand(ListRoleTagsCommand)
  })

  it('lists and tags entity by entity, with a warning, where GetAccountAuthorizationDetails is denied', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(accessDenied())
    iam.on(ListRolesCommand).resolves({ Roles: [{ RoleName: 'refund-1' }, { RoleName: 'refund-2' }, { RoleName: 'search' }] as never })
    iam.on(ListRoleTagsCommand, { RoleName: 'refund-1' }).resolves({ Tags: [{ Key: 'class', Value: 'refund' }, { Key: 'env', Value: 'prod' }] })
    iam.on(ListRoleTagsCommand, { RoleName: 'refund-2' }).resolves({ Tags: [{ Key: 'class', Value: 'refund' }] })
    iam.on(ListRoleTagsCommand, { RoleName: 'search' }).resolves({ Tags: [{ Key: 'class', Value: 'search' }, { Key: 'env', Value: 'prod' }] })
    iam.on(ListUsersCommand).resolves({ Users: [{ UserName: 'bot' }] as never })
    iam.on(ListUserTagsCommand).resolves({ Tags: [{ Key: 'class', Value: 'refund' }, { Key: 'env', Value: 'prod' }] })
    const { ctx, warnings } = recordingContext()

    const tags = { class: 'refund', env: 'prod' }
    const targets = await createDenyAllPrimitive(awsConfig).resolve({ roles: { tags }, users: { tags }, policyName: POLICY }, ctx)

    expect(targets.map((t) => [t.id, t.observed])).toEqual([
      [`iam:${HOME}:role/refund-1`, undefined],
      [`iam:${HOME}:user/bot`, undefined],
    ])
    expect(iam).toHaveReceivedCommandWith(ListRolesCommand, { PathPrefix: '/' })
    // One warning for the account, and no second refused listing for the users.
    expect(warnings).toEqual([expect.stringContaining('iam:GetAccountAuthorizationDetails')])
    expect(iam).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 1)
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
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [role('agent-role'), role('break-glass')] })
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
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ GroupDetailList: [{ GroupName: 'ops', Path: '/ops/' }] })
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
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [role('agent-role', '/', { 'agent-permissions': '{}', [POLICY]: DENY_ALL })] })
    const { ctx } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    const state = await primitive.read(target('role', 'agent-role'), ctx)
    expect(state).toEqual({ policy: DENY_ALL })
    expect(primitive.isHalted(state)).toBe(true)
  })

  it('answers every read asked for together with one listing', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({
      UserDetailList: [
        { UserName: 'bot', Path: '/', UserPolicyList: [{ PolicyName: 'bot-permissions', PolicyDocument: '%7B%7D' }] },
        { UserName: 'Halted', Path: '/', UserPolicyList: [{ PolicyName: POLICY, PolicyDocument: encodeURIComponent(DENY_ALL) }] },
      ],
    })
    const { ctx, paced } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    const states = await Promise.all([primitive.read(target('user', 'bot'), ctx), primitive.read(target('user', 'halted'), ctx)])
    expect(states).toEqual([{ policy: null }, { policy: DENY_ALL }])
    expect(iam).toHaveReceivedCommandExactlyOnceWith(GetAccountAuthorizationDetailsCommand, { Filter: ['User'], MaxItems: 1000 })
    expect(iam.calls()).toHaveLength(1)
    expect(paced).toHaveLength(1)
  })

  it('fails naming the role when the role itself is gone', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [role('other')] })
    const { ctx } = recordingContext()
    await expect(createDenyAllPrimitive(awsConfig).read(target('role', 'gone'), ctx)).rejects.toMatchObject({
      code: 'IamEntityNotFound',
      message: `IAM role gone in account ${HOME} does not exist.`,
    })
  })

  it('reads one by one when that costs fewer requests than the last listing took', async () => {
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolvesOnce({ RoleDetailList: [role('a', '/agents/')], IsTruncated: true, Marker: 'm2' })
      .resolvesOnce({ RoleDetailList: [role('b', '/agents/')], IsTruncated: false })
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['agent-permissions'], IsTruncated: false })
    const { ctx } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    await primitive.resolve({ roles: { pathPrefix: '/agents/' }, policyName: POLICY }, ctx)
    expect(await primitive.read(target('role', 'a'), ctx)).toEqual({ policy: null })
    expect(iam).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 2)
    expect(iam).toHaveReceivedCommandExactlyOnceWith(ListRolePoliciesCommand, { RoleName: 'a', MaxItems: 1000 })
    expect(iam).not.toHaveReceivedCommand(GetRolePolicyCommand)
  })

  it('reads one by one, with one warning, where GetAccountAuthorizationDetails is denied', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(accessDenied())
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [POLICY], IsTruncated: false })
    iam.on(GetRolePolicyCommand).resolves({ PolicyDocument: encodeURIComponent(DENY_ALL) })
    iam.on(ListUserPoliciesCommand).rejects(noSuchEntity('The user with name gone cannot be found.'))
    const { ctx, warnings } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    expect(await primitive.read(target('role', 'r'), ctx)).toEqual({ policy: DENY_ALL })
    expect(await primitive.read(target('role', 'r'), ctx)).toEqual({ policy: DENY_ALL })
    await expect(primitive.read(target('user', 'gone'), ctx)).rejects.toMatchObject({ code: 'IamEntityNotFound' })
    expect(iam).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 1)
    expect(iam).not.toHaveReceivedCommand(GetUserPolicyCommand)
    expect(warnings).toHaveLength(1)
  })
})

describe('batched reads', () => {
  /** A context whose pacing waits until `release()`, and which can be aborted (a verification deadline). */
  function gatedContext() {
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const controller = new AbortController()
    const ctx: PrimitiveContext = {
      pace: () =>
        new Promise<void>((resolve, reject) => {
          void gate.then(resolve)
          controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })
        }),
      signal: controller.signal,
      warn: () => undefined,
      reason: 'test',
      invocationId: 'halt-test',
    }
    return { ctx, release, controller }
  }
  const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms))

  it('answers every reader that joined while the batch waited for its turn, also entity by entity', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(accessDenied())
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [], IsTruncated: false })
    const primitive = createDenyAllPrimitive(awsConfig)
    const gated = gatedContext()
    const first = primitive.read(target('role', 'a'), gated.ctx)
    await tick() // the batch runs and waits in the rate limiter on the first reader's behalf
    const joined = primitive.read(target('role', 'b'), recordingContext().ctx)
    gated.release()
    await expect(Promise.all([first, joined])).resolves.toEqual([{ policy: null }, { policy: null }])
    expect(iam).toHaveReceivedCommandWith(ListRolePoliciesCommand, { RoleName: 'b', MaxItems: 1000 })
  })

  it('chooses between a listing and one read each when its turn comes, with every reader that joined by then', async () => {
    // The account's roles take two listing pages, so one or two reads go one by one and three take a listing. The
    // first reader's batch waits for its turn (as read-backs wait behind puts); two more join it meanwhile.
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [role('a', '/agents/'), role('b', '/agents/')], IsTruncated: true, Marker: 'm2' })
    iam.on(GetAccountAuthorizationDetailsCommand, { Marker: 'm2' }).resolves({ RoleDetailList: [role('c', '/agents/', { [POLICY]: DENY_ALL })], IsTruncated: false })
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [], IsTruncated: false })
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()
    await primitive.resolve({ roles: { pathPrefix: '/agents/' }, policyName: POLICY }, ctx)
    iam.resetHistory()

    const gated = gatedContext()
    const first = primitive.read(target('role', 'a'), gated.ctx)
    await tick()
    const joined = [primitive.read(target('role', 'b'), ctx), primitive.read(target('role', 'c'), ctx)]
    await tick()
    gated.release()
    expect(await Promise.all([first, ...joined])).toEqual([{ policy: null }, { policy: null }, { policy: DENY_ALL }])
    expect(iam).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 2)
    expect(iam).not.toHaveReceivedCommand(ListRolePoliciesCommand)
  })

  it("stops every reader's verification clock while a later page of their listing waits for its turn", async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [role('a', '/', { [POLICY]: DENY_ALL })], IsTruncated: true, Marker: 'm2' })
    iam.on(GetAccountAuthorizationDetailsCommand, { Marker: 'm2' }).resolves({ RoleDetailList: [role('b', '/', { [POLICY]: DENY_ALL })], IsTruncated: false })
    // The first page leaves at once; the second waits 600 ms for its turn (puts ahead of it), three time-outs long.
    let slots = 0
    const pacer = {
      pace: (_bucket: unknown, signal?: AbortSignal) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, slots++ === 0 ? 0 : 600)
          signal?.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true })
        }),
    } as unknown as Pacer
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()
    const verify = (name: string) => verifyWithin(ctx, pacer, 200, 'halted', (verifying) => primitive.verifyHalted(target('role', name), verifying))
    const results = await Promise.allSettled([verify('a'), verify('b')])
    expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(['fulfilled', 'fulfilled'])
  })

  it('keeps waiting for the others when the reader it waited for gives up', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({ RoleDetailList: [role('a'), role('b', '/', { [POLICY]: DENY_ALL })] })
    const primitive = createDenyAllPrimitive(awsConfig)
    const gated = gatedContext()
    const first = primitive.read(target('role', 'a'), gated.ctx)
    const second = primitive.read(target('role', 'b'), recordingContext().ctx)
    await tick()
    gated.controller.abort(new Error('a: verification deadline'))
    await expect(first).rejects.toThrow('a: verification deadline')
    await expect(second).resolves.toEqual({ policy: DENY_ALL })
  })

  it('fails only the reader whose own read failed', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).rejects(accessDenied())
    // The good answer comes last, after the other reader's failure.
    iam.on(ListRolePoliciesCommand, { RoleName: 'fine' }).callsFake(async () => (await tick(), { PolicyNames: [], IsTruncated: false }))
    iam.on(ListRolePoliciesCommand, { RoleName: 'fenced' }).rejects(Object.assign(new Error('not authorized to perform: iam:ListRolePolicies'), { name: 'AccessDenied' }))
    const primitive = createDenyAllPrimitive(awsConfig)
    const { ctx } = recordingContext()
    const [fine, fenced] = await Promise.allSettled([primitive.read(target('role', 'fine'), ctx), primitive.read(target('role', 'fenced'), ctx)])
    expect(fine).toEqual({ status: 'fulfilled', value: { policy: null } })
    expect(fenced).toMatchObject({ status: 'rejected', reason: { code: 'AccessDenied' } })
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

  it('verifyRestored reads back until the policy is gone', async () => {
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolvesOnce({ RoleDetailList: [role('agent-role', '/', { [POLICY]: DENY_ALL })] })
      .resolves({ RoleDetailList: [role('agent-role')] })
    const { ctx } = recordingContext()
    await createDenyAllPrimitive(awsConfig).verifyRestored(target('role', 'agent-role'), { policy: null }, ctx)
    expect(iam).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 2)
  })

  it('verifyHalted reads back one by one with Get*Policy after a listing costlier than the batch', async () => {
    iam
      .on(GetAccountAuthorizationDetailsCommand)
      .resolvesOnce({ RoleDetailList: [role('a', '/agents/')], IsTruncated: true, Marker: 'm2' })
      .resolvesOnce({ RoleDetailList: [role('b', '/agents/')], IsTruncated: false })
    iam.on(GetRolePolicyCommand).rejectsOnce(noSuchEntity('no policy')).resolves({ PolicyDocument: encodeURIComponent(DENY_ALL) })
    const { ctx } = recordingContext()
    const primitive = createDenyAllPrimitive(awsConfig)
    const [a] = await primitive.resolve({ roles: { pathPrefix: '/agents/' }, policyName: POLICY }, ctx)
    await primitive.verifyHalted(a!, ctx)
    expect(iam).toHaveReceivedCommandTimes(GetRolePolicyCommand, 2)
    expect(iam).toHaveReceivedCommandWith(GetRolePolicyCommand, { RoleName: 'a', PolicyName: POLICY })
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

  it('estimates the put and a share of a batched read-back, plus a snapshot read when resolution did not observe one', () => {
    const batched = { key: `iam:${HOME}`, ratePerSecond: 20_000 }
    expect(primitive.estimate({ ...target('role', 'r'), observed: { policy: null } }, { policy: null })).toEqual({
      calls: [{ key: `iam:${HOME}`, ratePerSecond: 20 }, batched],
      settleMs: 0,
    })
    expect(primitive.estimate(target('role', 'r'), { policy: null })).toEqual({
      calls: [batched, { key: `iam:${HOME}`, ratePerSecond: 20 }, batched],
      settleMs: 0,
    })
  })
})
