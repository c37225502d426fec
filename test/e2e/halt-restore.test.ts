/**
 * The CLI end to end against the sandbox: a class halt over Lambda functions in two accounts (some unreserved,
 * some reserved at a positive value), IAM roles that already carry inline policies, Deployments and a
 * StatefulSet, and flags (one already off); then restore. Asserted on the platform's final state, the JSON
 * output and the exit code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { observable, startHarness, type Harness } from './harness.js'

let h: Harness
let before: ReturnType<typeof observable>

beforeAll(async () => {
  h = await startHarness('runbooks/sandbox.yaml', { principals: { AKIAOUTSIDER00000001: 'arn:aws:iam::111122223333:user/intern' } })
  before = observable(h.sandbox)
})
afterAll(async () => {
  await h?.sandbox.stop()
})

const refund = (key: string) => key.includes('refund')

describe('halt and restore a class, end to end', () => {
  it('halts class=refund across all four platforms and reports it as JSON', async () => {
    expect(Object.values(before.lambda).filter((v) => v === null).length).toBeGreaterThan(0)
    expect(Object.values(before.lambda).filter((v) => typeof v === 'number' && v > 0).length).toBeGreaterThan(0)
    const r = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'INC-1 refund loop', '--yes', '--json'])
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    expect(r.code).toBe(0)
    const result = r.json.result
    expect(r.json).toMatchObject({ schemaVersion: 1, command: 'halt', exitCode: 0, error: null })
    expect(result).toMatchObject({ kind: 'halt', status: 'halted', withinSlo: true, sloMs: 30_000, scope: 'class=refund' })
    expect(result.haltId).toMatch(/^h-/)
    expect(result.timeToHaltMs).toBeGreaterThan(0)
    expect(result.steps.map((s: any) => s.kind)).toEqual(['flagOff', 'denyAll', 'scaleToZero', 'lambdaConcurrencyZero'])
    for (const t of result.targets) {
      expect(t.status === 'halted' || t.status === 'already-halted').toBe(true)
      expect(t.timings.verifiedMs).toBeGreaterThanOrEqual(t.timings.appliedMs)
    }

    const after = observable(h.sandbox)
    const refundFns = Object.keys(after.lambda).filter(refund)
    expect(refundFns.some((k) => k.startsWith('444455556666/'))).toBe(true)
    for (const k of refundFns) expect(after.lambda[k]).toBe(0)
    for (const k of Object.keys(after.lambda).filter((k) => !refund(k))) expect(after.lambda[k]).toBe(before.lambda[k])
    for (const [k, policies] of Object.entries(after.iam).filter(([k]) => refund(k) && k.includes('-role'))) {
      expect((policies as any)['killswitch-deny-all']).toEqual({ Version: '2012-10-17', Statement: [expect.objectContaining({ Effect: 'Deny', Action: '*', Resource: '*' })] })
      for (const [name, doc] of Object.entries(before.iam[k] as object)) expect((policies as any)[name]).toEqual(doc)
    }
    const refundWorkloads = Object.keys(after.workloads).filter(refund)
    expect(refundWorkloads.some((k) => k.includes('/statefulsets/'))).toBe(true)
    for (const k of refundWorkloads) {
      expect(after.workloads[k]!.replicas).toBe(0)
      expect(after.workloads[k]!.annotations['killswitch.dev/replicas-before']).toBe(String(before.workloads[k]!.replicas))
    }
    expect(Object.keys(after.pods).filter(refund)).toEqual([])
    expect(after.flags['agents/production/refund-agents-enabled']).toBe(false)
    expect(before.flags['agents/production/refund-tools-enabled']).toBe(false)
    expect(after.flags['agents/production/refund-tools-enabled']).toBe(false)
    expect(result.targets.find((t: any) => t.id === 'flag:agents:production:refund-tools-enabled')).toMatchObject({ status: 'already-halted', before: { on: false } })
  })

  it('announces the halt on SNS without any secret', async () => {
    const messages = (h.sandbox.state() as any).aws.accounts['111122223333'].sns.messages
    const halt = messages.find((m: any) => m.subject?.includes('halt class=refund: halted'))
    expect(halt).toBeDefined()
    expect(JSON.parse(halt.message)).toMatchObject({ event: 'halt', status: 'halted', scope: 'class=refund' })
    const everything = JSON.stringify(messages)
    for (const secret of [h.env.AWS_SECRET_ACCESS_KEY!, h.env.LD_API_TOKEN!, h.env.LD_SDK_KEY_PRODUCTION!]) expect(everything).not.toContain(secret)
  })

  it('shows the halt in status, with live state', async () => {
    const r = await h.cli(['status', '--runbook', h.runbook, '--json'])
    expect(r.code).toBe(0)
    expect(r.json.result.scopes).toEqual(['class=refund'])
    expect(r.json.result.targets.every((t: any) => t.live.halted === true)).toBe(true)
  })

  it('refuses a restore without --yes when there is no terminal', async () => {
    const r = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'fixed'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('pass --yes')
  })

  it('refuses a restore from a caller outside the authority', async () => {
    const r = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'fixed', '--yes', '--json'], { AWS_ACCESS_KEY_ID: 'AKIAOUTSIDER00000001' })
    expect(r.code).toBe(4)
    expect(r.json.result.status).toBe('refused')
    expect(r.json.result.refusal).toContain('arn:aws:iam::111122223333:user/intern')
    expect(observable(h.sandbox).flags['agents/production/refund-agents-enabled']).toBe(false)
  })

  it('restores every resource exactly as it was', async () => {
    const r = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'fixed in v2.3.1', '--yes', '--json'])
    expect(r.code).toBe(0)
    expect(r.json.result.status).toBe('restored')
    const after = observable(h.sandbox)
    expect(after.lambda).toEqual(before.lambda)
    expect(after.iam).toEqual(before.iam)
    expect(after.workloads).toEqual(before.workloads)
    expect(after.flags).toEqual(before.flags)
    // The flag that was already off was never turned on: LaunchDarkly's change log has no turnFlagOn for it.
    const changes = (h.sandbox.state() as any).launchdarkly.changes
    expect(changes.filter((c: any) => c.flag === 'refund-tools-enabled' && c.instruction === 'turnFlagOn')).toEqual([])
  })

  it('leaves an audit trail that verifies', async () => {
    const r = await h.cli(['audit', 'verify', '--json'])
    expect(r.code).toBe(0)
    expect(r.json.result).toMatchObject({ ok: true, problems: [] })
    expect(r.json.result.records).toBeGreaterThanOrEqual(4)
  })
})

describe('refusals and drift', () => {
  it('refuses a halt from outside the authority; --override-authority halts and says so', async () => {
    const outsider = { AWS_ACCESS_KEY_ID: 'AKIAOUTSIDER00000001' }
    const refused = await h.cli(['halt', '-r', h.runbook, '-s', 'class=support', '--yes', '--json'], outsider)
    expect(refused.code).toBe(4)
    expect(observable(h.sandbox).flags['agents/production/support-agents-enabled']).toBe(before.flags['agents/production/support-agents-enabled'])
    const forced = await h.cli(['halt', '-r', h.runbook, '-s', 'class=support', '--yes', '--json', '--override-authority'], outsider)
    expect(forced.code).toBe(0)
    expect(forced.json.result.authority).toEqual({ allowed: false, overridden: true })
    const messages = (h.sandbox.state() as any).aws.accounts['111122223333'].sns.messages
    expect(messages.some((m: any) => m.subject.includes('AUTHORITY OVERRIDDEN'))).toBe(true)
  })

  it('refuses to restore a target that drifted, naming it, and --force restores', async () => {
    const { LambdaClient, PutFunctionConcurrencyCommand } = await import('@aws-sdk/client-lambda')
    const fn = Object.keys(observable(h.sandbox).lambda).find((k) => k.startsWith('111122223333/') && k.includes('support'))!
    const name = fn.split('/')[2]!
    const lambda = new LambdaClient({ region: 'us-east-1', endpoint: h.sandbox.url, credentials: { accessKeyId: 'AKIASOMEONEELSE00001', secretAccessKey: 'x' } })
    await lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 3 }))
    const refused = await h.cli(['restore', '-r', h.runbook, '-s', 'class=support', '--reason', 'r', '--yes', '--json'])
    expect(refused.code).toBe(4)
    expect(refused.json.result.refusal).toContain(`lambda:111122223333:us-east-1:${name}`)
    expect(observable(h.sandbox).lambda[fn]).toBe(3)
    const forced = await h.cli(['restore', '-r', h.runbook, '-s', 'class=support', '--reason', 'r', '--yes', '--force', '--json'])
    expect(forced.code).toBe(0)
    expect(observable(h.sandbox)).toMatchObject({ lambda: before.lambda, flags: before.flags, workloads: before.workloads })
  })

  it('rejects an unknown class before touching anything, listing the valid ones', async () => {
    const r = await h.cli(['halt', '-r', h.runbook, '-s', 'class=refunds', '--yes'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('unknown class "refunds"; classes in runbook "agents-sandbox": refund, support, research')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
