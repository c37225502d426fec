/**
 * Both AWS primitives, the notifier and the caller identity end to end against moto (an independent AWS emulator),
 * through the SDK's standard endpoint setting. Fixtures and final-state checks use plain SDK calls, never the
 * primitives, so a primitive cannot vouch for itself. Names carry a per-run suffix: moto is shared by the run.
 */
import { randomUUID } from 'node:crypto'
import {
  CreateGroupCommand,
  CreateRoleCommand,
  CreateUserCommand,
  GetGroupPolicyCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListGroupPoliciesCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
  PutGroupPolicyCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam'
import { CreateFunctionCommand, GetFunctionConcurrencyCommand, LambdaClient, PutFunctionConcurrencyCommand } from '@aws-sdk/client-lambda'
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Primitive, Target, TargetState } from '../../../src/core/primitive.js'
import { DENY_ALL_POLICY, createDenyAllPrimitive } from '../../../src/primitives/aws/iam.js'
import { getCallerIdentity } from '../../../src/primitives/aws/identity.js'
import { createLambdaConcurrencyPrimitive } from '../../../src/primitives/aws/lambda.js'
import { createSnsNotifier } from '../../../src/primitives/aws/notify.js'
import type { PrimitiveConfig } from '../../../src/primitives/registry.js'
import { recordingContext } from './fake-context.js'
import { storedZip } from '../../support/zip.js'

const MOTO_ACCOUNT = '123456789012'
const REGION = 'us-east-1'
const run = randomUUID().slice(0, 8)
const config: PrimitiveConfig = { credentials: { aws: { region: REGION } }, env: process.env }

let lambda: LambdaClient
let iam: IAMClient

beforeAll(() => {
  process.env.AWS_ENDPOINT_URL = inject('motoUrl')
  process.env.AWS_ACCESS_KEY_ID = 'AKIDMOTOTESTONLY'
  process.env.AWS_SECRET_ACCESS_KEY = 'moto-test-only-secret'
  process.env.AWS_REGION = REGION
  delete process.env.AWS_PROFILE
  lambda = new LambdaClient({ region: REGION })
  iam = new IAMClient({ region: REGION })
})

afterAll(() => {
  lambda.destroy()
  iam.destroy()
})

/** Halts and restores every target the way the engine does: snapshot, apply, verify, restore, verify restored. */
async function haltAndRestore<Spec>(
  primitive: Primitive<Spec>,
  targets: Target[],
  whileHalted: () => Promise<void>,
): Promise<TargetState[]> {
  const { ctx } = recordingContext()
  const snapshots = await Promise.all(targets.map((target) => primitive.read(target, ctx)))
  await Promise.all(targets.map((target, index) => primitive.apply(target, snapshots[index]!, ctx)))
  await Promise.all(targets.map((target) => primitive.verifyHalted(target, ctx)))
  // Applying again changes nothing (a resumed halt does this).
  await Promise.all(targets.map((target, index) => primitive.apply(target, snapshots[index]!, ctx)))
  await whileHalted()
  await Promise.all(targets.map((target, index) => primitive.restore(target, snapshots[index]!, ctx)))
  await Promise.all(targets.map((target, index) => primitive.verifyRestored(target, snapshots[index]!, ctx)))
  return snapshots
}

describe('Lambda reserved concurrency against moto', () => {
  const tag = `refund-${run}`
  const functions: Record<string, { reserved: number | null; tags: Record<string, string> }> = {
    [`refund-a-${run}`]: { reserved: 5, tags: { 'agent-class': tag } },
    [`refund-b-${run}`]: { reserved: null, tags: { 'agent-class': tag } },
    [`refund-c-${run}`]: { reserved: 7, tags: { 'agent-class': tag } },
    [`named-${run}`]: { reserved: 3, tags: {} },
    [`unnamed-${run}`]: { reserved: null, tags: {} },
    [`bystander-${run}`]: { reserved: 2, tags: { 'agent-class': `search-${run}` } },
  }

  async function reservations(): Promise<Record<string, number | null>> {
    const entries = await Promise.all(
      Object.keys(functions).map(async (name) => {
        const out = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name }))
        return [name, out.ReservedConcurrentExecutions ?? null] as const
      }),
    )
    return Object.fromEntries(entries)
  }

  beforeAll(async () => {
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: `lambda-exec-${run}`,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    )
    const zip = storedZip('index.py', 'def handler(event, context):\n    return "ok"\n')
    for (const [name, { reserved, tags }] of Object.entries(functions)) {
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'python3.12',
          Handler: 'index.handler',
          Role: role.Role!.Arn!,
          Code: { ZipFile: zip },
          Tags: tags,
        }),
      )
      if (reserved !== null) {
        await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: reserved }))
      }
    }
  })

  it('resolves by tags and names, halts to 0, and restores every function exactly', async () => {
    const original = await reservations()
    expect(original).toEqual(Object.fromEntries(Object.entries(functions).map(([name, f]) => [name, f.reserved])))
    const primitive = createLambdaConcurrencyPrimitive(config)
    const { ctx } = recordingContext()

    const targets = await primitive.resolve({ functions: { tags: { 'agent-class': tag }, names: [`named-${run}`] } }, ctx)
    expect(targets.map((target) => target.id).sort()).toEqual(
      [`named-${run}`, `refund-a-${run}`, `refund-b-${run}`, `refund-c-${run}`].map((name) => `lambda:${MOTO_ACCOUNT}:${REGION}:${name}`),
    )

    const snapshots = await haltAndRestore(primitive, targets, async () => {
      expect(await reservations()).toEqual({ ...original, ...Object.fromEntries(targets.map((target) => [target.label, 0])) })
    })

    expect(Object.fromEntries(targets.map((target, index) => [target.label, snapshots[index]]))).toEqual(
      Object.fromEntries(targets.map((target) => [target.label, { reservedConcurrency: original[target.label] }])),
    )
    expect(await reservations()).toEqual(original)
    await primitive.close?.()
  })

  it('returns a function that does not exist as a missing target', async () => {
    const primitive = createLambdaConcurrencyPrimitive(config)
    const { ctx } = recordingContext()
    const [target] = await primitive.resolve({ functions: { names: [`ghost-${run}`] } }, ctx)
    expect(target!.missing).toMatchObject({
      code: 'FunctionNotFound',
      message: `Lambda function ghost-${run} was not found in ${MOTO_ACCOUNT}/${REGION}.`,
    })
    await primitive.close?.()
  })
})

describe('IAM deny-all against moto', () => {
  const path = `/agents-${run}/`
  const toolPolicy = 'killswitch-deny-all'
  const allowS3 = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] })
  const denyDelete = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:DeleteBucket', Resource: '*' }] })
  const entities = {
    roles: [`agent-a-${run}`, `agent-b-${run}`, `agent-c-${run}`],
    users: [`bot-${run}`],
    groups: [`ops-${run}`],
  }

  const decode = (document: string | undefined) => JSON.parse(decodeURIComponent(document!)) as unknown

  /** Every inline policy of every entity, by entity and policy name. */
  async function inlinePolicies(): Promise<Record<string, Record<string, unknown>>> {
    const all: Record<string, Record<string, unknown>> = {}
    for (const RoleName of entities.roles) {
      const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName }))
      all[`role/${RoleName}`] = {}
      for (const PolicyName of PolicyNames) {
        all[`role/${RoleName}`]![PolicyName] = decode((await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName }))).PolicyDocument)
      }
    }
    for (const UserName of entities.users) {
      const { PolicyNames = [] } = await iam.send(new ListUserPoliciesCommand({ UserName }))
      all[`user/${UserName}`] = {}
      for (const PolicyName of PolicyNames) {
        all[`user/${UserName}`]![PolicyName] = decode((await iam.send(new GetUserPolicyCommand({ UserName, PolicyName }))).PolicyDocument)
      }
    }
    for (const GroupName of entities.groups) {
      const { PolicyNames = [] } = await iam.send(new ListGroupPoliciesCommand({ GroupName }))
      all[`group/${GroupName}`] = {}
      for (const PolicyName of PolicyNames) {
        all[`group/${GroupName}`]![PolicyName] = decode((await iam.send(new GetGroupPolicyCommand({ GroupName, PolicyName }))).PolicyDocument)
      }
    }
    return all
  }

  beforeAll(async () => {
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    })
    const [roleA, roleB, roleC] = entities.roles as [string, string, string]
    await iam.send(new CreateRoleCommand({ RoleName: roleA, Path: path, AssumeRolePolicyDocument: trust, Tags: [{ Key: 'class', Value: `refund-${run}` }] }))
    await iam.send(new CreateRoleCommand({ RoleName: roleB, Path: path, AssumeRolePolicyDocument: trust }))
    await iam.send(new CreateRoleCommand({ RoleName: roleC, Path: path, AssumeRolePolicyDocument: trust, Tags: [{ Key: 'class', Value: `search-${run}` }] }))
    await iam.send(new PutRolePolicyCommand({ RoleName: roleA, PolicyName: 'app-policy', PolicyDocument: allowS3 }))
    await iam.send(new PutRolePolicyCommand({ RoleName: roleB, PolicyName: 'app-policy', PolicyDocument: allowS3 }))
    // A policy under the tool's name that predates the halt: restore must put it back, not delete it.
    await iam.send(new PutRolePolicyCommand({ RoleName: roleB, PolicyName: toolPolicy, PolicyDocument: denyDelete }))
    await iam.send(new CreateUserCommand({ UserName: entities.users[0]! }))
    await iam.send(new PutUserPolicyCommand({ UserName: entities.users[0]!, PolicyName: 'app-policy', PolicyDocument: allowS3 }))
    await iam.send(new CreateGroupCommand({ GroupName: entities.groups[0]!, Path: path }))
    await iam.send(new PutGroupPolicyCommand({ GroupName: entities.groups[0]!, PolicyName: 'app-policy', PolicyDocument: allowS3 }))
  })

  it('resolves roles by tags', async () => {
    const primitive = createDenyAllPrimitive(config)
    const { ctx } = recordingContext()
    const targets = await primitive.resolve({ roles: { tags: { class: `refund-${run}` } }, policyName: toolPolicy }, ctx)
    expect(targets.map((target) => target.id)).toEqual([`iam:${MOTO_ACCOUNT}:role/agent-a-${run}`])
    await primitive.close?.()
  })

  it('denies roles, users and groups and restores every inline policy exactly', async () => {
    const original = await inlinePolicies()
    const primitive = createDenyAllPrimitive(config)
    const { ctx } = recordingContext()

    const targets = await primitive.resolve(
      { roles: { pathPrefix: path }, users: { names: entities.users }, groups: { pathPrefix: path }, policyName: toolPolicy },
      ctx,
    )
    expect(targets.map((target) => target.label).sort()).toEqual(
      [...entities.roles.map((name) => `role/${name}`), `user/bot-${run}`, `group/ops-${run}`].sort(),
    )

    const snapshots = await haltAndRestore(primitive, targets, async () => {
      const halted = await inlinePolicies()
      const expected = Object.fromEntries(
        Object.entries(original).map(([entity, policies]) => [entity, { ...policies, [toolPolicy]: DENY_ALL_POLICY }]),
      )
      expect(halted).toEqual(expected)
    })

    const snapshotOf = (label: string) => snapshots[targets.findIndex((target) => target.label === label)]!
    expect(snapshotOf(`role/agent-a-${run}`)).toEqual({ policy: null })
    expect(JSON.parse(snapshotOf(`role/agent-b-${run}`).policy as string)).toEqual(JSON.parse(denyDelete))
    expect(await inlinePolicies()).toEqual(original)
    await primitive.close?.()
  })

  it('names a role that does not exist', async () => {
    const primitive = createDenyAllPrimitive(config)
    const { ctx } = recordingContext()
    await expect(primitive.resolve({ roles: { names: [`ghost-${run}`] }, policyName: toolPolicy }, ctx)).rejects.toMatchObject({
      code: 'IamEntityNotFound',
    })
    await primitive.close?.()
  })
})

describe('identity and notifications against moto', () => {
  it('reads the caller identity of the base credentials', async () => {
    const identity = await getCallerIdentity(config)
    expect(identity.account).toBe(MOTO_ACCOUNT)
    expect(identity.arn).toMatch(/^arn:aws:(iam|sts)::123456789012:/)
  })

  it('publishes to an existing topic and reports a missing one', async () => {
    const sns = new SNSClient({ region: REGION })
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `killswitch-events-${run}` }))
    sns.destroy()
    const notifier = createSnsNotifier(config)

    await notifier.publish({ topicArn: TopicArn!, subject: 'killswitch halt', message: '{"event":"halt"}', attributes: { event: 'halt' } })
    await expect(
      notifier.publish({ topicArn: `arn:aws:sns:${REGION}:${MOTO_ACCOUNT}:missing-${run}`, subject: 's', message: 'm' }),
    ).rejects.toMatchObject({ name: 'NotFoundException' })
    await notifier.close()
  })
})
