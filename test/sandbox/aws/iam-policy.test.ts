import { describe, expect, it } from 'vitest'
import { countedSize, evaluate, InlinePolicies, validatePolicyDocument } from '../../../src/sandbox/aws/iam-policy.js'
import { startSandbox } from '../../../src/sandbox/server.js'
import { ALLOW_LAMBDA, DENY_ALL } from './fixture.js'

const deny = JSON.stringify(DENY_ALL)
const allow = JSON.stringify(ALLOW_LAMBDA)

describe('InlinePolicies propagation', () => {
  it('shows the data plane each change only once its time is past the cutoff', () => {
    const policies = new InlinePolicies({ base: allow })
    policies.set('deny', deny, 1_000)
    policies.delete('deny', 5_000)
    expect([...policies.visibleAt(999).keys()]).toEqual(['base'])
    expect([...policies.visibleAt(1_000).keys()]).toEqual(['base', 'deny'])
    expect([...policies.visibleAt(4_999).keys()]).toEqual(['base', 'deny'])
    expect([...policies.visibleAt(5_000).keys()]).toEqual(['base'])
    // The control plane sees the latest state regardless.
    expect(policies.names()).toEqual(['base'])
  })

  it('counts the aggregate size without whitespace, replacing a policy of the same name', () => {
    const policies = new InlinePolicies({ a: '{ "x" : 1 }' })
    expect(countedSize('{ "x" : 1 }')).toBe(7)
    expect(policies.sizeWith('b', '{"y":22}')).toBe(15)
    expect(policies.sizeWith('a', '{"y":22}')).toBe(8)
  })
})

describe('evaluate', () => {
  const set = (documents: Record<string, unknown>) => new Map(Object.entries(documents).map(([k, v]) => [k, JSON.stringify(v)]))

  it('lets an explicit deny win over an allow, and reports implicit deny when nothing matches', () => {
    expect(evaluate(set({ allow: ALLOW_LAMBDA }), 'lambda:InvokeFunction', '*').decision).toBe('allowed')
    expect(evaluate(set({ allow: ALLOW_LAMBDA, deny: DENY_ALL }), 'lambda:InvokeFunction', '*')).toMatchObject({ decision: 'explicitDeny', matchedPolicies: ['deny'] })
    expect(evaluate(set({ allow: ALLOW_LAMBDA }), 's3:GetObject', '*').decision).toBe('implicitDeny')
  })

  it('matches actions case-insensitively with * and ?, and resources case-sensitively', () => {
    const policy = set({ p: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'Lambda:Get?unction*', Resource: 'arn:aws:lambda:*:function:Refund-*' }] } })
    expect(evaluate(policy, 'lambda:GetFunctionConcurrency', 'arn:aws:lambda:us-east-1:1:function:Refund-1').decision).toBe('allowed')
    expect(evaluate(policy, 'lambda:GetFunctionConcurrency', 'arn:aws:lambda:us-east-1:1:function:refund-1').decision).toBe('implicitDeny')
    expect(evaluate(policy, 'lambda:GetFunctions', 'arn:aws:lambda:us-east-1:1:function:Refund-1').decision).toBe('allowed')
    expect(evaluate(policy, 'lambda:ListFunctions', 'arn:aws:lambda:us-east-1:1:function:Refund-1').decision).toBe('implicitDeny')
  })

  it('applies NotResource', () => {
    const policy = set({ p: { Statement: { Effect: 'Deny', Action: '*', NotResource: 'arn:aws:s3:::logs/*' } } })
    expect(evaluate(policy, 's3:PutObject', 'arn:aws:s3:::logs/a').decision).toBe('implicitDeny')
    expect(evaluate(policy, 's3:PutObject', 'arn:aws:s3:::data/a').decision).toBe('explicitDeny')
  })
})

describe('validatePolicyDocument', () => {
  it('accepts a single statement object and either policy version', () => {
    expect(validatePolicyDocument('{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}')).toHaveLength(1)
  })

  it('rejects unknown elements and versions as syntax errors', () => {
    expect(() => validatePolicyDocument('{"Version":"2020-01-01","Statement":[]}')).toThrow('Syntax errors in policy.')
    expect(() => validatePolicyDocument('{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}]}')).toThrow('Syntax errors in policy.')
    expect(() => validatePolicyDocument('{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}]}')).toThrow('Syntax errors in policy.')
  })
})

describe('seeding', () => {
  it('refuses a seeded inline policy that IAM would refuse, naming it', async () => {
    await expect(startSandbox({ seed: { aws: { accounts: { '111122223333': { iam: { roles: [{ name: 'r', inlinePolicies: { broken: '{oops' } }] } } } } } })).rejects.toThrow(
      'seed: inline policy broken of role r is not a valid IAM policy: Syntax errors in policy.',
    )
  })
})
