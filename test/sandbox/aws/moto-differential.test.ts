/**
 * The same SDK call sequence against the sandbox and against moto (an independent AWS emulator), comparing what
 * a caller can observe: results and error names. Where the two disagree, the AWS documentation decides which one follows
 * AWS; each such case is listed in KNOWN_DIFFERENCES with its reason, and the sandbox's side is asserted.
 */
import { randomBytes } from 'node:crypto'
import {
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  GetAccountAuthorizationDetailsCommand,
  GetRolePolicyCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import {
  CreateFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  PutFunctionConcurrencyCommand,
} from '@aws-sdk/client-lambda'
import { PublishCommand } from '@aws-sdk/client-sns'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { clients, DENY_ALL } from './fixture.js'
import { storedZip } from '../../support/zip.js'

/** moto's fixed account; the sandbox is seeded with the same one so ARNs compare equal. */
const MOTO_ACCOUNT = '123456789012'
const suffix = randomBytes(4).toString('hex')
const FUNCTION = `diff-fn-${suffix}`
const ROLE = `diff-role-${suffix}`

type Clients = ReturnType<typeof clients>
type Observation = { ok: unknown } | { error: string; status: number | undefined }

async function observe(call: () => Promise<unknown>): Promise<Observation> {
  try {
    return { ok: await call() }
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } }
    return { error: e.name, status: e.$metadata?.httpStatusCode }
  }
}

/** The scenario both emulators run. Every entry keeps only what a caller would act on. */
async function scenario(c: Clients): Promise<Record<string, Observation>> {
  const concurrencyOf = async () => (await c.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: FUNCTION }))).ReservedConcurrentExecutions
  const getFunctionConcurrency = async () => (await c.lambda.send(new GetFunctionCommand({ FunctionName: FUNCTION }))).Concurrency
  const policyNames = async () => (await c.iam.send(new ListRolePoliciesCommand({ RoleName: ROLE }))).PolicyNames
  /** The role as GetAccountAuthorizationDetails lists it: path and inline policies (decoded), nothing account-specific. */
  const roleDetails = async () => {
    const out = await c.iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role'], MaxItems: 1000 }))
    const detail = out.RoleDetailList?.find((r) => r.RoleName === ROLE)
    return {
      onlyRoles: (out.UserDetailList ?? []).length === 0 && (out.GroupDetailList ?? []).length === 0,
      role: detail && {
        Path: detail.Path,
        policies: (detail.RolePolicyList ?? []).map((p) => ({ name: p.PolicyName, document: JSON.parse(decodeURIComponent(p.PolicyDocument!)) as unknown })),
      },
    }
  }
  return {
    'lambda: get concurrency, never reserved': await observe(concurrencyOf),
    'lambda: put 0': await observe(async () => (await c.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: FUNCTION, ReservedConcurrentExecutions: 0 }))).ReservedConcurrentExecutions),
    'lambda: get concurrency after put 0': await observe(concurrencyOf),
    'lambda: GetFunction Concurrency after put 0': await observe(getFunctionConcurrency),
    'lambda: put 7': await observe(async () => (await c.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: FUNCTION, ReservedConcurrentExecutions: 7 }))).ReservedConcurrentExecutions),
    'lambda: get concurrency after put 7': await observe(concurrencyOf),
    'lambda: delete concurrency': await observe(async () => (await c.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: FUNCTION }))).$metadata.httpStatusCode),
    'lambda: get concurrency after delete': await observe(concurrencyOf),
    'lambda: GetFunction Concurrency after delete': await observe(getFunctionConcurrency),
    'lambda: put on a missing function': await observe(() => c.lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: `${FUNCTION}-missing`, ReservedConcurrentExecutions: 0 }))),
    'lambda: get concurrency of a missing function': await observe(() => c.lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: `${FUNCTION}-missing` }))),
    'lambda: delete concurrency of a missing function': await observe(() => c.lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: `${FUNCTION}-missing` }))),
    'iam: put role policy': await observe(async () => {
      await c.iam.send(new PutRolePolicyCommand({ RoleName: ROLE, PolicyName: 'killswitch-deny', PolicyDocument: JSON.stringify(DENY_ALL) }))
      return 'ok'
    }),
    'iam: get role policy (decoded)': await observe(async () => {
      const policy = await c.iam.send(new GetRolePolicyCommand({ RoleName: ROLE, PolicyName: 'killswitch-deny' }))
      return { RoleName: policy.RoleName, PolicyName: policy.PolicyName, document: JSON.parse(decodeURIComponent(policy.PolicyDocument!)) as unknown }
    }),
    'iam: list role policies': await observe(policyNames),
    'iam: account authorization details with the policy': await observe(roleDetails),
    'iam: delete role policy': await observe(async () => {
      await c.iam.send(new DeleteRolePolicyCommand({ RoleName: ROLE, PolicyName: 'killswitch-deny' }))
      return 'ok'
    }),
    'iam: list role policies after delete': await observe(policyNames),
    'iam: account authorization details after delete': await observe(roleDetails),
    'iam: get a deleted policy': await observe(() => c.iam.send(new GetRolePolicyCommand({ RoleName: ROLE, PolicyName: 'killswitch-deny' }))),
    'iam: delete a missing policy': await observe(() => c.iam.send(new DeleteRolePolicyCommand({ RoleName: ROLE, PolicyName: 'never-there' }))),
    'iam: put on a missing role': await observe(() =>
      c.iam.send(new PutRolePolicyCommand({ RoleName: `${ROLE}-missing`, PolicyName: 'p', PolicyDocument: JSON.stringify(DENY_ALL) })),
    ),
    'iam: put a malformed document': await observe(() => c.iam.send(new PutRolePolicyCommand({ RoleName: ROLE, PolicyName: 'bad', PolicyDocument: '{"Version": "2012-10-17", ' }))),
    'sts: caller identity shape': await observe(async () => {
      const identity = await c.sts.send(new GetCallerIdentityCommand({}))
      return {
        Account: identity.Account,
        arnIsPrincipal: /^arn:aws:(iam|sts)::\d{12}:\S+$/.test(identity.Arn ?? ''),
        userIdIsString: typeof identity.UserId === 'string' && identity.UserId.length > 0,
      }
    }),
    'sns: publish to a missing topic': await observe(() => c.sns.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:${MOTO_ACCOUNT}:missing-${suffix}`, Message: 'x' }))),
  }
}

/**
 * Where moto and the sandbox disagree, and why the sandbox's side is AWS's. Empty when they agree on everything
 * the scenario observes; an entry that no longer differs fails the test so the list stays true.
 */
const KNOWN_DIFFERENCES: Record<string, { sandbox: Observation; reason: string }> = {
  'lambda: GetFunction Concurrency after put 0': {
    sandbox: { ok: { ReservedConcurrentExecutions: 0 } },
    reason:
      'moto tests `if self.reserved_concurrency:` (moto/awslambda/models.py), so a reservation of 0 drops Concurrency. AWS returns ' +
      'Concurrency whenever a reservation is set, 0 included (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunction.html and configuration-concurrency.html: 0 and unreserved are different states).',
  },
}

let sandbox: Sandbox
let sandboxObservations: Record<string, Observation>
let motoObservations: Record<string, Observation>

beforeAll(async () => {
  const motoUrl = inject('motoUrl')
  const moto = clients(motoUrl, { accessKeyId: 'AKIAMOTODIFF00000001', maxAttempts: 1 })
  const created = await moto.iam.send(
    new CreateRoleCommand({
      RoleName: ROLE,
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] }),
    }),
  )
  await moto.lambda.send(
    new CreateFunctionCommand({
      FunctionName: FUNCTION,
      Runtime: 'nodejs22.x',
      Role: created.Role!.Arn!,
      Handler: 'index.handler',
      Code: { ZipFile: storedZip('index.js', 'exports.handler = async () => "ok"\n') },
    }),
  )
  motoObservations = await scenario(moto)

  sandbox = await startSandbox({
    seed: {
      aws: {
        defaultAccount: MOTO_ACCOUNT,
        defaultPrincipal: `arn:aws:iam::${MOTO_ACCOUNT}:user/moto`,
        accounts: { [MOTO_ACCOUNT]: { lambda: { 'us-east-1': [{ name: FUNCTION }] }, iam: { roles: [{ name: ROLE }] } } },
      },
    },
  })
  sandboxObservations = await scenario(clients(sandbox.url))
})
afterAll(() => sandbox?.stop())

describe('sandbox vs moto', () => {
  it('observes the same results and error names for every step, except the listed differences', () => {
    const steps = Object.keys(sandboxObservations)
    const differing = steps.filter((step) => JSON.stringify(sandboxObservations[step]) !== JSON.stringify(motoObservations[step]))
    expect(differing.sort()).toEqual(Object.keys(KNOWN_DIFFERENCES).sort())
    for (const step of steps.filter((s) => !differing.includes(s))) expect(sandboxObservations[step], step).toEqual(motoObservations[step])
    for (const [step, { sandbox: expected }] of Object.entries(KNOWN_DIFFERENCES)) expect(sandboxObservations[step], step).toEqual(expected)
  })

  it('asserts the AWS behaviour itself on the sandbox, so agreement is not agreement on a bug', () => {
    expect(sandboxObservations).toMatchObject({
      'lambda: get concurrency, never reserved': { ok: undefined },
      'lambda: put 0': { ok: 0 },
      'lambda: get concurrency after put 0': { ok: 0 },
      'lambda: GetFunction Concurrency after put 0': { ok: { ReservedConcurrentExecutions: 0 } },
      'lambda: delete concurrency': { ok: 204 },
      'lambda: get concurrency after delete': { ok: undefined },
      'lambda: GetFunction Concurrency after delete': { ok: undefined },
      'lambda: put on a missing function': { error: 'ResourceNotFoundException', status: 404 },
      'iam: get role policy (decoded)': { ok: { RoleName: ROLE, PolicyName: 'killswitch-deny', document: DENY_ALL } },
      'iam: list role policies': { ok: ['killswitch-deny'] },
      'iam: list role policies after delete': { ok: [] },
      'iam: account authorization details with the policy': { ok: { onlyRoles: true, role: { Path: '/', policies: [{ name: 'killswitch-deny', document: DENY_ALL }] } } },
      'iam: account authorization details after delete': { ok: { onlyRoles: true, role: { Path: '/', policies: [] } } },
      'iam: get a deleted policy': { error: 'NoSuchEntityException', status: 404 },
      'iam: put on a missing role': { error: 'NoSuchEntityException', status: 404 },
      'iam: put a malformed document': { error: 'MalformedPolicyDocumentException', status: 400 },
      'sts: caller identity shape': { ok: { Account: MOTO_ACCOUNT, arnIsPrincipal: true, userIdIsString: true } },
      'sns: publish to a missing topic': { error: 'NotFoundException', status: 404 },
    })
  })
})
