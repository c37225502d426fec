import {
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  GetAccountAuthorizationDetailsCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  SimulatePrincipalPolicyCommand,
} from '@aws-sdk/client-iam'
import { afterEach, describe, expect, it } from 'vitest'
import type { AwsPlaneState } from '../../../src/sandbox/aws/index.js'
import type { ProfileOverrides } from '../../../src/sandbox/realism.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { ACCOUNT, ALLOW_LAMBDA, AUDITOR_KEY, clients, DENY_ALL, rawAwsRequest, rejectionOf, testSeed } from './fixture.js'

let sandbox: Sandbox | undefined
afterEach(async () => {
  await sandbox?.stop()
  sandbox = undefined
})

async function start(overrides?: ProfileOverrides) {
  sandbox = await startSandbox({ seed: testSeed(), overrides })
  return { sandbox, iam: clients(sandbox.url).iam }
}

const awsState = (s: Sandbox) => s.state().aws as AwsPlaneState

describe('IAM roles, users and groups', () => {
  it('describes every entity with path, tags and URL-encoded inline policies in GetAccountAuthorizationDetails, page by page', async () => {
    const { iam } = await start()
    const first = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'], MaxItems: 2 }))
    expect(first.RoleDetailList?.map((r) => r.RoleName)).toEqual(['killswitch-oncall', 'refund-agent-role'])
    expect(first).toMatchObject({ IsTruncated: true, UserDetailList: [], GroupDetailList: [], Policies: [] })
    const refund = first.RoleDetailList![1]!
    expect(refund).toMatchObject({ Path: '/agents/', Tags: [{ Key: 'agent-class', Value: 'refund' }], RolePolicyList: [{ PolicyName: 'lambda-access' }] })
    expect(refund.RolePolicyList![0]!.PolicyDocument).toMatch(/^%7B/)
    expect(JSON.parse(decodeURIComponent(refund.RolePolicyList![0]!.PolicyDocument!))).toEqual(ALLOW_LAMBDA)
    const rest = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'], MaxItems: 2, Marker: first.Marker }))
    expect(rest.RoleDetailList?.map((r) => r.RoleName)).toEqual(['support-agent-role'])
    expect(rest.IsTruncated).toBe(false)

    const everything = await iam.send(new GetAccountAuthorizationDetailsCommand({}))
    expect(everything.UserDetailList?.map((u) => [u.UserName, u.Path, u.Tags])).toEqual([['batch-bot', '/bots/', [{ Key: 'owner', Value: 'data' }]]])
    expect(everything.GroupDetailList?.map((g) => g.GroupName)).toEqual(['agents'])
    expect(everything.RoleDetailList).toHaveLength(3)
    await expect(iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Robot' as never] }))).rejects.toMatchObject({ name: 'ValidationError' })
  })

  it('lists roles by PathPrefix without tags, and gets one with its tags', async () => {
    const { iam } = await start()
    const all = await iam.send(new ListRolesCommand({}))
    expect(all.Roles?.map((role) => role.RoleName)).toEqual(['killswitch-oncall', 'refund-agent-role', 'support-agent-role'])
    const agents = await iam.send(new ListRolesCommand({ PathPrefix: '/agents/' }))
    expect(agents.Roles?.map((role) => role.Arn)).toEqual([
      `arn:aws:iam::${ACCOUNT}:role/agents/refund-agent-role`,
      `arn:aws:iam::${ACCOUNT}:role/agents/support-agent-role`,
    ])
    expect(agents.Roles?.[0]?.Tags).toBeUndefined()
    expect(agents.Roles?.[0]?.RoleId).toMatch(/^AROA[A-Z2-7]{17}$/)
    expect(decodeURIComponent(agents.Roles![0]!.AssumeRolePolicyDocument!)).toContain('sts:AssumeRole')

    const role = await iam.send(new GetRoleCommand({ RoleName: 'refund-agent-role' }))
    expect(role.Role).toMatchObject({ RoleName: 'refund-agent-role', Path: '/agents/', Tags: [{ Key: 'agent-class', Value: 'refund' }] })
    expect(role.Role?.RoleId).toBe(agents.Roles?.[0]?.RoleId)
    expect(role.Role?.CreateDate).toBeInstanceOf(Date)
    const tags = await iam.send(new ListRoleTagsCommand({ RoleName: 'refund-agent-role' }))
    expect(tags).toMatchObject({ IsTruncated: false, Tags: [{ Key: 'agent-class', Value: 'refund' }] })
  })

  it('pages ListRoles with Marker and MaxItems', async () => {
    const { iam } = await start()
    const first = await iam.send(new ListRolesCommand({ MaxItems: 2 }))
    expect(first.Roles).toHaveLength(2)
    expect(first.IsTruncated).toBe(true)
    const second = await iam.send(new ListRolesCommand({ MaxItems: 2, Marker: first.Marker }))
    expect(second.Roles?.map((role) => role.RoleName)).toEqual(['support-agent-role'])
    expect(second.IsTruncated).toBe(false)
    expect(second.Marker).toBeUndefined()
  })

  it('answers NoSuchEntity (404) for a missing role, user or group', async () => {
    const { iam } = await start()
    const role = await rejectionOf(iam.send(new GetRoleCommand({ RoleName: 'ghost' })))
    expect(role.name).toBe('NoSuchEntityException')
    expect(role.$metadata?.httpStatusCode).toBe(404)
    expect(role.message).toBe('The role with name ghost cannot be found.')
    expect((await rejectionOf(iam.send(new GetUserCommand({ UserName: 'ghost' })))).name).toBe('NoSuchEntityException')
    expect((await rejectionOf(iam.send(new GetGroupCommand({ GroupName: 'ghost' })))).name).toBe('NoSuchEntityException')
    expect((await rejectionOf(iam.send(new ListRoleTagsCommand({ RoleName: 'ghost' })))).name).toBe('NoSuchEntityException')
  })

  it('serves users and groups', async () => {
    const { iam } = await start()
    const users = await iam.send(new ListUsersCommand({ PathPrefix: '/bots/' }))
    expect(users.Users?.map((user) => user.Arn)).toEqual([`arn:aws:iam::${ACCOUNT}:user/bots/batch-bot`])
    const user = await iam.send(new GetUserCommand({ UserName: 'batch-bot' }))
    expect(user.User).toMatchObject({ UserName: 'batch-bot', Tags: [{ Key: 'owner', Value: 'data' }] })
    expect(user.User?.UserId).toMatch(/^AIDA/)
    expect((await iam.send(new ListUserTagsCommand({ UserName: 'batch-bot' }))).Tags).toEqual([{ Key: 'owner', Value: 'data' }])
    const groups = await iam.send(new ListGroupsCommand({}))
    expect(groups.Groups?.map((group) => group.GroupName)).toEqual(['agents'])
    const group = await iam.send(new GetGroupCommand({ GroupName: 'agents' }))
    expect(group.Group?.GroupId).toMatch(/^AGPA/)
    expect(group.Users).toEqual([])
  })

  it('GetUser without a name answers for a user caller and refuses a role caller', async () => {
    const { sandbox } = await start()
    const auditor = await clients(sandbox.url, { accessKeyId: AUDITOR_KEY }).iam.send(new GetUserCommand({}))
    expect(auditor.User?.UserName).toBe('auditor')
    const oncall = await rejectionOf(clients(sandbox.url).iam.send(new GetUserCommand({})))
    expect(oncall.name).toBe('ValidationError')
  })

  it('keeps each account’s IAM separate', async () => {
    const { sandbox } = await start()
    const other = await clients(sandbox.url, { accessKeyId: AUDITOR_KEY }).iam.send(new ListRolesCommand({}))
    expect(other.Roles?.map((role) => role.RoleName)).toEqual(['breakglass'])
  })
})

describe('IAM inline policies', () => {
  it('puts, gets (URL-encoded), lists and deletes a role policy', async () => {
    const { sandbox, iam } = await start()
    const document = JSON.stringify(DENY_ALL)
    await iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny', PolicyDocument: document }))
    const got = await iam.send(new GetRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny' }))
    expect(got.RoleName).toBe('refund-agent-role')
    expect(got.PolicyDocument).toMatch(/^%7B%22Version%22%3A%222012-10-17%22/)
    expect(JSON.parse(decodeURIComponent(got.PolicyDocument!))).toEqual(DENY_ALL)
    const names = await iam.send(new ListRolePoliciesCommand({ RoleName: 'refund-agent-role' }))
    expect(names.PolicyNames).toEqual(['killswitch-deny', 'lambda-access'])
    expect(awsState(sandbox).accounts[ACCOUNT]!.iam.roles['refund-agent-role']!.inlinePolicies['killswitch-deny']).toEqual(DENY_ALL)

    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny' }))
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'refund-agent-role' }))).PolicyNames).toEqual(['lambda-access'])
    expect(awsState(sandbox).accounts[ACCOUNT]!.iam.roles['refund-agent-role']!.inlinePolicies).toEqual({ 'lambda-access': ALLOW_LAMBDA })
  })

  it('does the same for users and groups', async () => {
    const { iam } = await start()
    const document = JSON.stringify(DENY_ALL)
    await iam.send(new PutUserPolicyCommand({ UserName: 'batch-bot', PolicyName: 'deny', PolicyDocument: document }))
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'agents', PolicyName: 'deny', PolicyDocument: document }))
    const user = await iam.send(new GetUserPolicyCommand({ UserName: 'batch-bot', PolicyName: 'deny' }))
    expect(JSON.parse(decodeURIComponent(user.PolicyDocument!))).toEqual(DENY_ALL)
    const group = await iam.send(new GetGroupPolicyCommand({ GroupName: 'agents', PolicyName: 'deny' }))
    expect(group.GroupName).toBe('agents')
    expect((await iam.send(new ListUserPoliciesCommand({ UserName: 'batch-bot' }))).PolicyNames).toEqual(['deny'])
    expect((await iam.send(new ListGroupPoliciesCommand({ GroupName: 'agents' }))).PolicyNames).toEqual(['deny'])
    await iam.send(new DeleteUserPolicyCommand({ UserName: 'batch-bot', PolicyName: 'deny' }))
    await iam.send(new DeleteGroupPolicyCommand({ GroupName: 'agents', PolicyName: 'deny' }))
    expect((await iam.send(new ListUserPoliciesCommand({ UserName: 'batch-bot' }))).PolicyNames).toEqual([])
  })

  it('answers NoSuchEntity for a missing role or policy, and MalformedPolicyDocument for bad documents', async () => {
    const { sandbox, iam } = await start()
    const noRole = await rejectionOf(iam.send(new PutRolePolicyCommand({ RoleName: 'ghost', PolicyName: 'p', PolicyDocument: JSON.stringify(DENY_ALL) })))
    expect(noRole.name).toBe('NoSuchEntityException')
    const noPolicy = await rejectionOf(iam.send(new GetRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'absent' })))
    expect(noPolicy.name).toBe('NoSuchEntityException')
    expect(noPolicy.message).toBe('The role policy with name absent cannot be found.')
    expect((await rejectionOf(iam.send(new DeleteRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'absent' })))).name).toBe('NoSuchEntityException')

    const cases: Array<[string, string]> = [
      ['{not json', 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17' }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Maybe', Action: '*', Resource: '*' }] }), 'Syntax errors in policy.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Resource: '*' }] }), 'Policy statement must contain actions.'],
      [JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*' }] }), 'Policy statement must contain resources.'],
    ]
    for (const [document, message] of cases) {
      const error = await rejectionOf(iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'bad', PolicyDocument: document })))
      expect(error.name).toBe('MalformedPolicyDocumentException')
      expect(error.$metadata?.httpStatusCode).toBe(400)
      expect(error.message).toBe(message)
    }
    expect(Object.keys(awsState(sandbox).accounts[ACCOUNT]!.iam.roles['refund-agent-role']!.inlinePolicies)).toEqual(['lambda-access'])
  })

  it('enforces the aggregate inline size (whitespace not counted) with 409 LimitExceeded', async () => {
    const { iam } = await start()
    const withPadding = (length: number) => {
      const skeleton = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: '', Effect: 'Deny', Action: '*', Resource: '*' }] })
      return skeleton.replace('"Sid":""', `"Sid":"${'A'.repeat(length - skeleton.length)}"`)
    }
    const existing = JSON.stringify(ALLOW_LAMBDA).length
    // Exactly at the 10,240 quota together with the seeded policy, plus whitespace that does not count.
    await iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'big', PolicyDocument: withPadding(10_240 - existing).replace('{', '{   \n') }))
    const over = await rejectionOf(iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'big', PolicyDocument: withPadding(10_241 - existing) })))
    expect(over.name).toBe('LimitExceededException')
    expect(over.$metadata?.httpStatusCode).toBe(409)
    expect(over.message).toBe('Maximum policy size of 10240 bytes exceeded for role refund-agent-role')

    const user = await rejectionOf(iam.send(new PutUserPolicyCommand({ UserName: 'batch-bot', PolicyName: 'big', PolicyDocument: withPadding(2_049) })))
    expect(user.message).toBe('Maximum policy size of 2048 bytes exceeded for user batch-bot')
    await iam.send(new PutGroupPolicyCommand({ GroupName: 'agents', PolicyName: 'big', PolicyDocument: withPadding(5_120) }))
    const group = await rejectionOf(iam.send(new PutGroupPolicyCommand({ GroupName: 'agents', PolicyName: 'more', PolicyDocument: withPadding(100) })))
    expect(group.message).toBe('Maximum policy size of 5120 bytes exceeded for group agents')
  })
})

describe('IAM SimulatePrincipalPolicy', () => {
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/agents/refund-agent-role`

  it('evaluates explicit deny over allow, wildcards, and implicit deny', async () => {
    const { iam } = await start()
    const before = await iam.send(
      new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ['lambda:InvokeFunction', 's3:GetObject'] }),
    )
    expect(before.EvaluationResults?.map((r) => [r.EvalActionName, r.EvalResourceName, r.EvalDecision])).toEqual([
      ['lambda:InvokeFunction', '*', 'allowed'],
      ['s3:GetObject', '*', 'implicitDeny'],
    ])
    expect(before.EvaluationResults?.[0]?.MatchedStatements?.[0]).toMatchObject({ SourcePolicyId: 'lambda-access', SourcePolicyType: 'IAM Policy' })

    await iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny', PolicyDocument: JSON.stringify(DENY_ALL) }))
    const after = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ['lambda:InvokeFunction'] }))
    expect(after.EvaluationResults?.[0]).toMatchObject({ EvalDecision: 'explicitDeny', MatchedStatements: [{ SourcePolicyId: 'killswitch-deny' }] })
  })

  it('matches resources and NotAction patterns', async () => {
    const { iam } = await start()
    const scoped = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', Action: 'lambda:Invoke*', Resource: 'arn:aws:lambda:*:*:function:refund-*' },
        { Effect: 'Deny', NotAction: ['lambda:*', 'logs:*'], Resource: '*' },
      ],
    }
    await iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'scoped', PolicyDocument: JSON.stringify(scoped) }))
    const result = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: roleArn,
        ActionNames: ['lambda:InvokeFunction', 'logs:PutLogEvents', 'dynamodb:PutItem'],
        ResourceArns: [`arn:aws:lambda:us-east-1:${ACCOUNT}:function:refund-agent-1`, `arn:aws:lambda:us-east-1:${ACCOUNT}:function:support-agent`],
      }),
    )
    expect(result.EvaluationResults?.map((r) => r.EvalDecision)).toEqual([
      'explicitDeny',
      'allowed',
      'implicitDeny',
      'implicitDeny',
      'explicitDeny',
      'explicitDeny',
    ])
  })

  it('reports condition keys as missing context and does not apply the statement', async () => {
    const { iam } = await start()
    const revoke = { Version: '2012-10-17', Statement: { Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-01-01T00:00:00Z' } } } }
    await iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'AWSRevokeOlderSessions', PolicyDocument: JSON.stringify(revoke) }))
    const result = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ['lambda:GetFunction'] }))
    expect(result.EvaluationResults?.[0]).toMatchObject({ EvalDecision: 'allowed', MissingContextValues: ['aws:TokenIssueTime'] })
  })

  it('sees a policy change only after the propagation delay', async () => {
    const { iam } = await start({ iamPropagationMs: 3_600_000 })
    await iam.send(new PutRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny', PolicyDocument: JSON.stringify(DENY_ALL) }))
    // The control plane has the policy at once ...
    await expect(iam.send(new GetRolePolicyCommand({ RoleName: 'refund-agent-role', PolicyName: 'killswitch-deny' }))).resolves.toBeDefined()
    // ... the data plane that the simulator models does not, yet.
    const result = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ['lambda:InvokeFunction'] }))
    expect(result.EvaluationResults?.[0]?.EvalDecision).toBe('allowed')
  })

  it('answers NoSuchEntity for an unknown source and InvalidInput for a malformed ARN', async () => {
    const { iam } = await start()
    const missing = await rejectionOf(iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/ghost`, ActionNames: ['s3:*'] })))
    expect(missing.name).toBe('NoSuchEntityException')
    const wrongPath = await rejectionOf(iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/refund-agent-role`, ActionNames: ['s3:*'] })))
    expect(wrongPath.name).toBe('NoSuchEntityException')
    const malformed = await rejectionOf(iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: 'not-an-arn', ActionNames: ['s3:*'] })))
    expect(malformed.name).toBe('InvalidInputException')
  })
})

describe('IAM protocol edges', () => {
  it('answers an unknown action with 400 InvalidAction in an ErrorResponse', async () => {
    const { sandbox } = await start()
    const response = await rawAwsRequest(sandbox.url, 'iam', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=CreateRole&Version=2010-05-08',
    })
    expect(response.status).toBe(400)
    const body = await response.text()
    expect(body).toContain('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    expect(body).toContain('<Code>InvalidAction</Code>')
    expect(body).toContain('<Type>Sender</Type>')
  })

  it('answers a missing required parameter with ValidationError', async () => {
    const { sandbox } = await start()
    const response = await rawAwsRequest(sandbox.url, 'iam', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetRole&Version=2010-05-08',
    })
    expect(response.status).toBe(400)
    expect(await response.text()).toContain("Value null at 'roleName' failed to satisfy constraint")
  })

  it('throttles past the per-account IAM rate with 400 Throttling "Rate exceeded"', async () => {
    const { sandbox } = await start({ rateLimits: true, iamRatePerSecond: 2 })
    const iam = clients(sandbox.url).iam
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => iam.send(new ListRolesCommand({}))))
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error & { $metadata: { httpStatusCode: number } })
    expect(failures.length).toBeGreaterThanOrEqual(3)
    expect(failures[0]!.name).toBe('Throttling')
    expect(failures[0]!.message).toBe('Rate exceeded')
    expect(failures[0]!.$metadata.httpStatusCode).toBe(400)
    // Another account has its own bucket.
    await expect(clients(sandbox.url, { accessKeyId: AUDITOR_KEY }).iam.send(new ListRolesCommand({}))).resolves.toBeDefined()
  })
})
