/**
 * The hold after a halt and the guard, with the in-memory fakes: targets that spring back once, keep springing
 * back, or cannot be halted again; asserted on the report, the journal, the audit trail, status and the exit code.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { guardExitCode, haltExitCode } from '../../src/cli/exit-codes.js'
import { renderHalt, renderStatus } from '../../src/cli/render.js'
import { halt, type HaltInput } from '../../src/core/halt.js'
import { FOREVER, guard, parseHoldDuration, parseHoldInterval, type GuardInput, type HoldOptions } from '../../src/core/hold.js'
import { restore } from '../../src/core/restore.js'
import { parseScope, ScopeError } from '../../src/core/scope.js'
import { readStatus } from '../../src/core/status.js'
import { Journal } from '../../src/journal/journal.js'
import { FakePlatform, fakePorts, fakeRunbook, type RecordingPorts } from '../support/fakes.js'

const loaded = fakeRunbook({
  class: `      - flagOff: { project: p, environment: e, flags: ["\${class}-flag"] }
      - lambdaConcurrencyZero: { functions: { names: ["\${class}-fn-1", "\${class}-fn-2"] } }`,
})
const initial = { 'refund-flag': 1, 'refund-fn-1': 5, 'refund-fn-2': 7, 'support-flag': 1, 'support-fn-1': 3, 'support-fn-2': 0 }

const platforms: FakePlatform[] = []
afterEach(() => {
  for (const p of platforms.splice(0)) p.stop()
})
function platform(): FakePlatform {
  const p = new FakePlatform(initial)
  platforms.push(p)
  return p
}

function haltInput(hold: HoldOptions | undefined, scope = 'class=refund'): HaltInput {
  return { loaded, scope: parseScope(scope, loaded.runbook), reason: 'test', trigger: 'automated', overrideAuthority: false, verifyTimeoutMs: 2000, hold }
}
function guardInput(hold: HoldOptions, scope = 'class=refund'): GuardInput {
  return { loaded, scope: parseScope(scope, loaded.runbook), reason: 'keep it down', trigger: 'automated', verifyTimeoutMs: 2000, hold }
}
const restoreInput = { loaded, scope: parseScope('class=refund', loaded.runbook), reason: 'fixed', trigger: 'automated' as const, force: false, verifyTimeoutMs: 2000 }

async function journalLines(ports: RecordingPorts): Promise<any[]> {
  return (await readFile(join(ports.stateDir, 'journal.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l))
}
async function auditEvents(ports: RecordingPorts): Promise<string[]> {
  return (await readFile(join(ports.stateDir, 'audit.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).event)
}
async function until(condition: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('halt --hold', () => {
  it('re-applies a target that springs back once, names who did it, and stays HALTED', async () => {
    const p = platform()
    p.springBack.set('refund-fn-1', { afterMs: 30, value: 5, by: 'keda-operator', times: 1 })
    const ports = fakePorts(p)
    const report = await halt(haltInput({ durationMs: 300, intervalMs: 20 }), ports)

    expect(report.status).toBe('halted')
    expect(haltExitCode(report)).toBe(0)
    expect(report.hold).toMatchObject({ requestedMs: 300, intervalMs: 20, ended: 'elapsed', targets: 3 })
    expect(report.hold!.rounds).toBeGreaterThan(3)
    expect(report.hold!.endedMs - report.hold!.startedMs).toBeGreaterThanOrEqual(290)
    expect(report.reversions).toEqual([
      expect.objectContaining({ targetId: 'lambdaConcurrencyZero:refund-fn-1', label: 'refund-fn-1', step: 1, live: { value: 5 }, liveText: 'value=5', by: 'keda-operator', outcome: 're-halted', attempts: 1 }),
    ])
    const r = report.reversions![0]!
    expect(r.rehaltedMs).toBeGreaterThanOrEqual(r.atMs)
    expect(r.atMs).toBeGreaterThan(report.timeToHaltMs!)
    expect(report.targets.find((t) => t.label === 'refund-fn-1')).toMatchObject({ status: 'halted', reversions: 1 })
    expect(report.targets.find((t) => t.label === 'refund-fn-2')!.reversions).toBeUndefined()
    expect(p.values.get('refund-fn-1')).toBe(0)
    expect(p.mutations.filter((m) => m === 'halt refund-fn-1')).toHaveLength(2)

    const records = await journalLines(ports)
    expect(records.filter((x) => x.type === 'reverted')).toEqual([
      expect.objectContaining({ invocation: report.haltId, targetId: 'lambdaConcurrencyZero:refund-fn-1', live: { value: 5 }, liveText: 'value=5', by: 'keda-operator' }),
    ])
    const state = await Journal.read(ports.stateDir)
    expect(state.entries.get('lambdaConcurrencyZero:refund-fn-1')).toMatchObject({ verified: true })
    expect(state.entries.get('lambdaConcurrencyZero:refund-fn-1')!.reverted).toBeUndefined()
    expect(await auditEvents(ports)).toEqual(['halt-started', 'halt', 'reversion', 'hold'])
    expect(ports.notifications.map((n) => n.subject)).toContain('killswitch re-halted refund-fn-1 (class=refund): it was undone by keda-operator')
    expect(ports.events.filter((e) => e.type === 'reversion').map((e) => (e as { state: string }).state)).toEqual(['reverted', 're-halted'])
    expect(renderHalt(report)).toMatch(/refund-fn-1\s+\S+ s\s+value=5\s+keda-operator\s+re-halted at/)
  })

  it('re-applies a target that keeps springing back every time, and warns that something fights the halt', async () => {
    const p = platform()
    p.springBack.set('refund-flag', { afterMs: 25, value: 1, by: 'argocd-controller' })
    const ports = fakePorts(p)
    const interrupt = new AbortController()
    const held = halt(haltInput({ durationMs: FOREVER, intervalMs: 20, signal: interrupt.signal }), ports)
    await until(() => ports.events.filter((e) => e.type === 'reversion' && e.state === 're-halted').length >= 3)
    interrupt.abort()
    const report = await held

    const reversions = report.reversions!
    expect(reversions.length).toBeGreaterThanOrEqual(3)
    expect(new Set(reversions.map((r) => r.targetId))).toEqual(new Set(['flagOff:refund-flag']))
    expect(reversions.every((r) => r.outcome === 're-halted' && r.by === 'argocd-controller')).toBe(true)
    expect(report.targets[0]).toMatchObject({ label: 'refund-flag', status: 'halted', reversions: reversions.length })
    expect(report.status).toBe('halted')
    expect(report.warnings.some((w) => w.includes('refund-flag was undone 3 times') && w.includes('argocd-controller'))).toBe(true)
    const reverted = (await journalLines(ports)).filter((x) => x.type === 'reverted')
    expect(reverted).toHaveLength(reversions.length)
  })

  it('fails a target that springs back and cannot be halted again: the halt is partial, status says NOT HALTED and by whom', async () => {
    const p = platform()
    p.springBack.set('refund-fn-2', { afterMs: 30, value: 7, by: 'keda-operator', times: 1 })
    p.failReapply.add('refund-fn-2')
    const ports = fakePorts(p)
    const report = await halt(haltInput({ durationMs: 300, intervalMs: 20 }), ports)

    expect(report.status).toBe('partial')
    expect(haltExitCode(report)).toBe(2)
    expect(report.timeToHaltMs).toBeGreaterThan(0)
    expect(report.steps[1]).toMatchObject({ status: 'partial' })
    const target = report.targets.find((t) => t.label === 'refund-fn-2')!
    expect(target).toMatchObject({ status: 'failed', reversions: 1 })
    expect(target.error).toContain('found value=7, last written by keda-operator')
    expect(target.error).toContain('quota exceeded')
    expect(report.reversions).toHaveLength(1)
    expect(report.reversions![0]).toMatchObject({ outcome: 'not-halted', by: 'keda-operator', error: expect.stringContaining('quota exceeded') })
    // Retried every round, announced once.
    expect(report.reversions![0]!.attempts).toBeGreaterThanOrEqual(2)
    expect(ports.notifications.filter((n) => n.subject.includes('could NOT re-halt refund-fn-2'))).toHaveLength(1)
    expect(p.values.get('refund-fn-2')).toBe(7)

    const state = await Journal.read(ports.stateDir)
    const entry = state.entries.get('lambdaConcurrencyZero:refund-fn-2')!
    expect(entry).toMatchObject({ verified: false, reverted: { by: 'keda-operator', liveText: 'value=7', invocation: report.haltId } })
    expect(entry.lastError).toContain('could not be halted again')

    const fromJournal = await readStatus(ports, false)
    expect(fromJournal.targets.find((t) => t.label === 'refund-fn-2')).toMatchObject({ verified: false, reverted: { by: 'keda-operator', liveText: 'value=7' } })
    expect(renderStatus(fromJournal)).toMatch(/refund-fn-2 .*NOT HALTED: found value=7 at \S+, changed by keda-operator \(journal\)/)
    const live = await readStatus(ports, true)
    expect(live.targets.find((t) => t.label === 'refund-fn-2')!.live).toMatchObject({ halted: false, text: 'value=7', by: 'keda-operator' })
    expect(live.targets.find((t) => t.label === 'refund-fn-1')!.live).toEqual({ state: { value: 0 }, text: 'off', halted: true })
    expect(renderStatus(live)).toMatch(/refund-fn-2 .*value=7 \(NOT HALTED, last changed by keda-operator\)/)
  })

  it('does not block a restore: the hold pauses while it runs, does not count its changes, and ends when it is done', async () => {
    const p = platform()
    const ports = fakePorts(p)
    const held = halt(haltInput({ durationMs: FOREVER, intervalMs: 10 }), ports)
    await until(() => ports.events.some((e) => e.type === 'hold' && e.state === 'started'))
    const restored = await restore(restoreInput, ports)
    expect(restored.status).toBe('restored')
    const report = await held

    expect(report.hold).toMatchObject({ ended: 'restored', requestedMs: null })
    expect(report.reversions).toEqual([])
    expect(report.status).toBe('halted')
    for (const [name, value] of Object.entries(initial)) expect(p.values.get(name)).toBe(value)
    expect((await journalLines(ports)).filter((x) => x.type === 'reverted')).toEqual([])
    expect((await Journal.read(ports.stateDir)).entries.size).toBe(0)
  })

  it('ends at an interrupt with a truthful report: the halt stands', async () => {
    const p = platform()
    const ports = fakePorts(p)
    const interrupt = new AbortController()
    const held = halt(haltInput({ durationMs: FOREVER, intervalMs: 10, signal: interrupt.signal }), ports)
    await until(() => ports.events.some((e) => e.type === 'hold' && e.state === 'started'))
    await new Promise((r) => setTimeout(r, 50))
    interrupt.abort()
    const report = await held
    expect(report.status).toBe('halted')
    expect(report.hold).toMatchObject({ ended: 'interrupted', requestedMs: null })
    expect(report.hold!.rounds).toBeGreaterThan(0)
    expect(p.values.get('refund-fn-1')).toBe(0)
    expect((await auditEvents(ports)).at(-1)).toBe('hold')
  })

  it('returns the halt\'s report with a warning when the hold cannot run', async () => {
    const p = platform()
    const ports = fakePorts(p)
    const load = ports.loadPrimitive
    let loads = 0
    ports.loadPrimitive = async (kind) => {
      if (++loads > 2) throw new Error('LaunchDarkly SDK failed to start')
      return load(kind)
    }
    const report = await halt(haltInput({ durationMs: 100, intervalMs: 10 }), ports)
    expect(report.status).toBe('halted')
    expect(report.hold).toBeUndefined()
    expect(report.warnings).toContain('the hold could not run, the halt stands as reported: LaunchDarkly SDK failed to start')
  })

  it('holds nothing without --hold: the report has no hold and no reversions', async () => {
    const p = platform()
    p.springBack.set('refund-fn-1', { afterMs: 1, value: 5, by: 'keda-operator', times: 1 })
    const report = await halt(haltInput(undefined), fakePorts(p))
    expect(report.hold).toBeUndefined()
    expect(report.reversions).toBeUndefined()
  })
})

describe('guard', () => {
  it('re-halts what was undone after the halt ended, audits and announces it', async () => {
    const p = platform()
    const ports = fakePorts(p)
    await halt(haltInput(undefined), ports)
    p.values.set('refund-fn-1', 5)
    p.writers.set('refund-fn-1', 'kube-controller-manager')
    const report = await guard(guardInput({ durationMs: 100, intervalMs: 20 }), ports)

    expect(report).toMatchObject({ kind: 'guard', status: 'held', scope: 'class=refund', hold: { ended: 'elapsed', requestedMs: 100, targets: 3 } })
    expect(report.guardId).toMatch(/^g-/)
    expect(guardExitCode(report)).toBe(0)
    expect(report.reversions).toEqual([expect.objectContaining({ label: 'refund-fn-1', by: 'kube-controller-manager', liveText: 'value=5', outcome: 're-halted' })])
    expect(report.targets.map((t) => [t.label, t.status, t.reversions])).toEqual([
      ['refund-flag', 'halted', 0],
      ['refund-fn-1', 'halted', 1],
      ['refund-fn-2', 'halted', 0],
    ])
    expect(p.values.get('refund-fn-1')).toBe(0)
    expect(await auditEvents(ports)).toEqual(['halt-started', 'halt', 'guard-started', 'reversion', 'guard'])
    expect(ports.notifications.map((n) => n.subject)).toEqual(
      expect.arrayContaining([
        'killswitch guard class=refund started: holding 3 target(s)',
        'killswitch re-halted refund-fn-1 (class=refund): it was undone by kube-controller-manager',
        'killswitch guard class=refund ended (elapsed): 1 reversion(s), held',
      ]),
    )
  })

  it('keeps the halt in force until a restore of the scope, then ends by itself', async () => {
    const p = platform()
    const ports = fakePorts(p)
    await halt(haltInput(undefined), ports)
    const guarding = guard(guardInput({ durationMs: FOREVER, intervalMs: 10 }), ports)
    await until(() => ports.events.some((e) => e.type === 'hold' && e.state === 'started'))
    p.values.set('refund-fn-2', 7)
    await until(() => ports.events.some((e) => e.type === 'reversion' && e.state === 're-halted'))
    expect((await restore(restoreInput, ports)).status).toBe('restored')
    const report = await guarding
    expect(report.status).toBe('held')
    expect(report.hold!.ended).toBe('restored')
    expect(report.targets.every((t) => t.status === 'released')).toBe(true)
    expect(report.reversions.map((r) => [r.label, r.outcome])).toEqual([['refund-fn-2', 're-halted']])
    for (const [name, value] of Object.entries(initial)) expect(p.values.get(name)).toBe(value)
  })

  it('fails a target it cannot halt again (exit 2)', async () => {
    const p = platform()
    p.failReapply.add('refund-fn-1')
    const ports = fakePorts(p)
    await halt(haltInput(undefined), ports)
    p.values.set('refund-fn-1', 5)
    p.writers.delete('refund-fn-1')
    const report = await guard(guardInput({ durationMs: 60, intervalMs: 20 }), ports)
    expect(report.status).toBe('partial')
    expect(guardExitCode(report)).toBe(2)
    expect(report.targets.find((t) => t.label === 'refund-fn-1')).toMatchObject({ status: 'failed', error: expect.stringContaining('could not be halted again') })
    expect(report.reversions[0]).toMatchObject({ outcome: 'not-halted', by: null })
  })

  it('has nothing to guard for a scope that is not halted (exit 3), and refuses a caller outside the authority (exit 4)', async () => {
    const p = platform()
    const nothing = await guard(guardInput({ durationMs: 50, intervalMs: 10 }, 'class=support'), fakePorts(p))
    expect(nothing.status).toBe('nothing-to-guard')
    expect(nothing.refusal).toContain('halt --scope class=support --hold forever')
    expect(guardExitCode(nothing)).toBe(3)
    const outsider = fakePorts(p, { caller: 'arn:aws:sts::111122223333:assumed-role/agent-role/x' })
    const refused = await guard(guardInput({ durationMs: 50, intervalMs: 10 }), outsider)
    expect(refused.status).toBe('refused')
    expect(guardExitCode(refused)).toBe(4)
    expect(await auditEvents(outsider)).toEqual(['refused'])
  })
})

describe('hold durations', () => {
  it('reads 30s, 10m, 1h, 500ms and forever, and rejects anything else as a usage error', () => {
    expect(parseHoldDuration('30s')).toBe(30_000)
    expect(parseHoldDuration('10m')).toBe(600_000)
    expect(parseHoldDuration('1h')).toBe(3_600_000)
    expect(parseHoldDuration('forever')).toBe(FOREVER)
    expect(() => parseHoldDuration('10 minutes')).toThrow('--hold "10 minutes" is not a duration: write 30s, 10m, 1h or forever')
    expect(parseHoldInterval('500ms')).toBe(500)
    expect(() => parseHoldInterval('forever')).toThrow('--hold-interval "forever" is not a duration above zero')
    expect(() => parseHoldInterval('0s')).toThrow(ScopeError)
  })
})
