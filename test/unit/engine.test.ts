import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyTrail } from '../../src/audit/trail.js'
import { halt, type HaltInput, type HaltSummary } from '../../src/core/halt.js'
import { restore } from '../../src/core/restore.js'
import { parseScope } from '../../src/core/scope.js'
import { readStatus } from '../../src/core/status.js'
import { Journal } from '../../src/journal/journal.js'
import { FakePlatform, fakePorts, fakeRunbook } from '../support/fakes.js'

const loaded = fakeRunbook({
  class: `      - flagOff: { project: p, environment: e, flags: ["\${class}-flag"] }
      - lambdaConcurrencyZero: { functions: { names: ["\${class}-fn-1", "\${class}-fn-2"] } }`,
  global: `      - flagOff: { project: p, environment: e, flags: [refund-flag, support-flag] }
      - lambdaConcurrencyZero: { functions: { names: [refund-fn-1, refund-fn-2, support-fn-1, support-fn-2] } }`,
})

const initial = { 'refund-flag': 1, 'refund-fn-1': 5, 'refund-fn-2': 7, 'support-flag': 1, 'support-fn-1': 3, 'support-fn-2': 0 }

function haltInput(scope: string, extra: Partial<HaltInput> = {}): HaltInput {
  return { loaded, scope: parseScope(scope, loaded.runbook), reason: 'test', trigger: 'automated', overrideAuthority: false, verifyTimeoutMs: 2000, ...extra }
}

function restoreInput(scope: string, force = false) {
  return { loaded, scope: parseScope(scope, loaded.runbook), reason: 'fixed', trigger: 'automated' as const, force, verifyTimeoutMs: 2000 }
}

describe('halt', () => {
  it('halts every target of the scope, journals snapshots first, and reports per target', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform)
    const report = await halt(haltInput('class=refund'), ports)
    expect(report.status).toBe('halted')
    expect(report.withinSlo).toBe(true)
    expect(report.sloMs).toBe(30_000)
    expect(report.timeToHaltMs).toBeGreaterThan(0)
    expect(report.targets.map((t) => [t.id, t.status, t.before])).toEqual([
      ['flagOff:refund-flag', 'halted', { value: 1 }],
      ['lambdaConcurrencyZero:refund-fn-1', 'halted', { value: 5 }],
      ['lambdaConcurrencyZero:refund-fn-2', 'halted', { value: 7 }],
    ])
    expect(platform.values.get('refund-fn-1')).toBe(0)
    expect(platform.values.get('support-fn-1')).toBe(3)
    // Step order: every mutation of step 1 before any of step 2.
    expect(platform.mutations[0]).toBe('halt refund-flag')
    for (const t of report.targets) expect(t.timings.journaledMs!).toBeLessThanOrEqual(t.timings.appliedMs!)
    const journal = await Journal.read(ports.stateDir)
    expect([...journal.entries.keys()].sort()).toEqual(report.targets.map((t) => t.id).sort())
    expect(journal.unfinished).toEqual([])
  })

  it('refuses a caller outside the authority, changes nothing, audits and announces it', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform, { caller: 'arn:aws:sts::111122223333:assumed-role/agent-role/x' })
    const report = await halt(haltInput('class=refund'), ports)
    expect(report.status).toBe('refused')
    expect(report.refusal).toContain('--override-authority')
    expect(platform.mutations).toEqual([])
    const trail = (await readFile(join(ports.stateDir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(trail.map((r) => r.event)).toEqual(['refused'])
    expect(ports.notifications[0]!.subject).toContain('REFUSED')
  })

  it('halts under --override-authority, and says so in the trail and the notifications', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform, { caller: 'arn:aws:iam::999999999999:user/mallory' })
    const report = await halt(haltInput('class=refund', { overrideAuthority: true }), ports)
    expect(report.status).toBe('halted')
    expect(report.authority).toEqual({ allowed: false, overridden: true })
    const trail = (await readFile(join(ports.stateDir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
    expect(trail.at(-1).outcome.overrideAuthority).toBe(true)
    expect(ports.notifications.some((n) => n.subject.includes('AUTHORITY OVERRIDDEN'))).toBe(true)
  })

  it('reports a partial halt when a target fails, and still halts the rest', async () => {
    const platform = new FakePlatform(initial)
    platform.failApply.add('refund-fn-2')
    const report = await halt(haltInput('class=refund'), fakePorts(platform))
    expect(report.status).toBe('partial')
    expect(report.timeToHaltMs).toBeNull()
    expect(report.targets.find((t) => t.id.endsWith('refund-fn-2'))).toMatchObject({ status: 'failed', error: 'apply refused for refund-fn-2' })
    expect(platform.values.get('refund-fn-1')).toBe(0)
  })

  it('fails a target whose halt is never observed, after the verify timeout', async () => {
    const platform = new FakePlatform(initial)
    platform.neverSettles.add('refund-flag')
    const report = await halt(haltInput('class=refund', { verifyTimeoutMs: 100 }), fakePorts(platform))
    expect(report.status).toBe('partial')
    expect(report.targets[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('not observed halted within 100 ms') })
  })

  it('does not count against --verify-timeout the time a read-back waits for its turn behind the mutations of its bucket', async () => {
    // 40 targets whose puts and read-backs share a 40/s bucket: the puts leave first and take ~1 s, five times the
    // verify timeout, so the first targets' read-backs wait ~1 s for their turn.
    const names = Array.from({ length: 40 }, (_, i) => `fn-${i}`)
    const many = fakeRunbook({ class: `      - lambdaConcurrencyZero: { functions: { names: [${names.join(', ')}] } }` })
    const platform = new FakePlatform(Object.fromEntries(names.map((n) => [n, 5])))
    platform.sharedBucket = { key: 'fake:shared', ratePerSecond: 40 }
    const ports = fakePorts(platform)
    const report = await halt({ ...haltInput('class=refund', { verifyTimeoutMs: 200 }), loaded: many, scope: parseScope('class=refund', many.runbook) }, ports)
    expect(report.targets.filter((t) => t.status !== 'halted').map((t) => `${t.label}: ${t.error}`)).toEqual([])
    expect(report.status).toBe('halted')
    const first = report.targets.find((t) => t.label === 'fn-0')!
    expect(first.timings.verifiedMs! - first.timings.appliedMs!).toBeGreaterThan(500)
    expect(names.every((n) => platform.values.get(n) === 0)).toBe(true)
  })

  it('never lets a failing notification block the halt; it becomes a warning', async () => {
    const platform = new FakePlatform(initial)
    const report = await halt(haltInput('class=refund'), fakePorts(platform, { notifyFails: true }))
    expect(report.status).toBe('halted')
    expect(report.warnings.some((w) => w.includes('SNS notification') && w.includes('SNS is down'))).toBe(true)
  })

  it('a declined confirmation changes nothing and is a refusal', async () => {
    const platform = new FakePlatform(initial)
    const report = await halt(haltInput('class=refund', { confirm: async () => false }), fakePorts(platform))
    expect(report.status).toBe('refused')
    expect(platform.mutations).toEqual([])
  })

  it('halts the steps that resolve when another cannot be, and reports that step as failed', async () => {
    const platform = new FakePlatform({ 'refund-flag': 1 })
    const report = await halt(haltInput('class=refund'), fakePorts(platform))
    expect(report.status).toBe('partial')
    expect(report.steps[1]).toMatchObject({ status: 'failed', error: expect.stringContaining('no such target: refund-fn-1, refund-fn-2') })
    expect(platform.values.get('refund-flag')).toBe(0)
  })

  it('changes nothing when no step of the scope resolves', async () => {
    const platform = new FakePlatform({ 'support-flag': 1 })
    await expect(halt(haltInput('class=refund'), fakePorts(platform))).rejects.toThrow(/no such target: refund-flag/)
    expect(platform.mutations).toEqual([])
  })

  it('with a confirmation, resolves everything first, shows the step that cannot be resolved, and halts the rest once confirmed', async () => {
    const platform = new FakePlatform({ 'refund-flag': 1 })
    let summary: HaltSummary | undefined
    const confirm = async (s: HaltSummary) => ((summary = s), true)
    const report = await halt(haltInput('class=refund', { confirm }), fakePorts(platform))
    expect(summary!.unresolved).toEqual([expect.objectContaining({ error: expect.stringMatching(/no such target: refund-fn-1/) })])
    expect(summary!.steps.flatMap((s) => s.targets)).toContain('refund-flag')
    expect(report.status).toBe('partial')
    expect(platform.mutations).toEqual(['halt refund-flag'])
  })

  it('with a confirmation, changes nothing when no step can be resolved', async () => {
    const platform = new FakePlatform({})
    let asked = false
    const confirm = async () => (asked = true)
    await expect(halt(haltInput('class=refund', { confirm }), fakePorts(platform))).rejects.toThrow(/no such target/)
    expect(asked).toBe(false)
    expect(platform.mutations).toEqual([])
  })
})

describe('restore', () => {
  it('puts every target back exactly, in reverse step order', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform)
    await halt(haltInput('class=refund'), ports)
    platform.mutations.length = 0
    const report = await restore(restoreInput('class=refund'), ports)
    expect(report.status).toBe('restored')
    expect(Object.fromEntries(platform.values)).toEqual(initial)
    expect(platform.mutations.at(-1)).toBe('restore refund-flag')
    expect((await Journal.read(ports.stateDir)).entries.size).toBe(0)
  })

  it('refuses when a target drifted since the halt, naming it; --force restores anyway', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform)
    await halt(haltInput('class=refund'), ports)
    platform.values.set('refund-fn-2', 42)
    const refused = await restore(restoreInput('class=refund'), ports)
    expect(refused.status).toBe('refused')
    expect(refused.refusal).toContain('lambdaConcurrencyZero:refund-fn-2 (now value=42, snapshot value=7)')
    expect(platform.values.get('refund-fn-1')).toBe(0)
    const forced = await restore(restoreInput('class=refund', true), ports)
    expect(forced.status).toBe('restored')
    expect(Object.fromEntries(platform.values)).toEqual(initial)
  })

  it('keeps the first snapshot when a second scope halts the same targets, and restores only when the last scope is released', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform)
    await halt(haltInput('class=refund'), ports)
    const global = await halt(haltInput('global'), ports)
    expect(global.targets.find((t) => t.id === 'lambdaConcurrencyZero:refund-fn-1')).toMatchObject({ status: 'already-halted', before: { value: 5 } })
    const first = await restore(restoreInput('class=refund'), ports)
    expect(first.targets.every((t) => t.status === 'kept')).toBe(true)
    expect(platform.values.get('refund-fn-1')).toBe(0)
    const status = await readStatus(ports, true)
    expect(status.scopes).toEqual(['global'])
    await restore(restoreInput('global'), ports)
    expect(Object.fromEntries(platform.values)).toEqual(initial)
  })

  it('says there is nothing to restore for a scope that is not halted', async () => {
    const report = await restore(restoreInput('class=support'), fakePorts(new FakePlatform(initial)))
    expect(report.status).toBe('nothing-to-restore')
  })

  it('refuses a restore from outside the authority, with no override', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform)
    await halt(haltInput('class=refund'), ports)
    const outsider = { ...ports, callerIdentity: async () => ({ arn: 'arn:aws:iam::111122223333:user/intern', account: '111122223333' }) }
    const report = await restore(restoreInput('class=refund'), outsider)
    expect(report.status).toBe('refused')
    expect(platform.values.get('refund-fn-1')).toBe(0)
  })

  it('leaves a verifiable audit trail of every invocation', async () => {
    const platform = new FakePlatform(initial)
    const ports = fakePorts(platform)
    await halt(haltInput('class=refund'), ports)
    await restore(restoreInput('class=refund'), ports)
    const verdict = await verifyTrail(ports.stateDir)
    expect(verdict).toMatchObject({ ok: true, records: 3, problems: [] })
  })
})
