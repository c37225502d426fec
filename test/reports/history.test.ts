import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { DrillReport } from '../../src/core/drill.js'
import { appendHistory, historyFile, percentile, readHistory, summarize, type DrillHistoryEntry } from '../../src/reports/history.js'
import { breachedReport, partialFailureReport, passingReport } from './fixtures.js'

const past = (times: (number | null)[], verdict: DrillHistoryEntry['verdict'] = 'pass'): DrillHistoryEntry[] =>
  times.map((timeToHaltMs, i) => ({
    drillId: `d-past-${i}`,
    at: `2024-12-${String(i + 1).padStart(2, '0')}T00:00:00.000Z`,
    scope: 'class=refund',
    runbook: 'agents-prod',
    verdict,
    timeToHaltMs,
    sloMs: 30_000,
    targets: 8,
  }))

const current = (timeToHaltMs: number): DrillReport => ({ ...passingReport(), timeToHaltMs })

describe('percentile (nearest rank)', () => {
  it('picks the value at the rank, whatever the order', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10)
    expect(percentile(Array.from({ length: 20 }, (_, i) => i + 1), 95)).toBe(19)
    expect(percentile([7], 95)).toBe(7)
  })
})

describe('summarize', () => {
  it('gives p50, p95 and the trend of the past drills, excluding the current one', () => {
    const times = Array.from({ length: 20 }, (_, i) => 1000 + i * 100)
    const history = [...past(times), { ...past([99_999])[0]!, drillId: passingReport().drillId }]
    const summary = summarize(history, current(2000))
    expect(summary.count).toBe(20)
    expect(summary.p50Ms).toBe(1900)
    expect(summary.p95Ms).toBe(2800)
    expect(summary.trend).toEqual(times.slice(-10))
    expect(summary.slower).toBe(false)
  })

  it('is slower above the p95 of the last 10 when there are 10 or more', () => {
    // Old slow drills do not count: only the last 10 (1000..1900, p95 = 1900).
    const history = past([9000, 9000, 1000, 1100, 1200, 1300, 1400, 1500, 1600, 1700, 1800, 1900])
    expect(summarize(history, current(1950)).slower).toBe(true)
    expect(summarize(history, current(1900)).slower).toBe(false)
    expect(summarize(history, current(1500)).slower).toBe(false)
  })

  it('with fewer than 10, is slower only than every one of the last 3', () => {
    const history = past([5000, 1000, 1200, 1100])
    expect(summarize(history, current(1300)).slower).toBe(true)
    expect(summarize(history, current(1150)).slower).toBe(false)
    expect(summarize(past([1000]), current(1001)).slower).toBe(true)
  })

  it('counts only drills whose halt completed, and is never slower without a past', () => {
    const history = [...past([100, 200], 'error'), ...past([null], 'refused'), ...past([3000], 'slo-breached'), ...past([2000], 'restore-mismatch')]
    const summary = summarize(history, current(2500))
    expect(summary.count).toBe(2)
    expect(summary.trend).toEqual([3000, 2000])
    expect(summarize([], current(99_999))).toEqual({ count: 0, p50Ms: null, p95Ms: null, trend: [], slower: false })
    expect(summarize(past([1000, 1000, 1000]), { ...passingReport(), timeToHaltMs: null }).slower).toBe(false)
  })
})

describe('history file', () => {
  it('appends one line per drill, once, and reads back by runbook and scope', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'drill-history-'))
    expect(await readHistory(stateDir, { scope: 'class=refund', runbook: 'agents-prod' })).toEqual([])
    const other = { ...passingReport('d-other'), scope: 'class=support' }
    for (const report of [passingReport(), breachedReport(), partialFailureReport(), other, passingReport()]) await appendHistory(stateDir, report)
    const lines = (await readFile(historyFile(stateDir), 'utf8')).trimEnd().split('\n')
    expect(lines).toHaveLength(4)
    expect(JSON.parse(lines[1]!)).toEqual({
      drillId: 'd-20250102T000000Z-bbbbbb',
      at: '2025-01-01T00:00:00.000Z',
      scope: 'class=refund',
      runbook: 'agents-prod',
      verdict: 'slo-breached',
      timeToHaltMs: 45_000,
      sloMs: 30_000,
      targets: 8,
    })
    const refund = await readHistory(stateDir, { scope: 'class=refund', runbook: 'agents-prod' })
    expect(refund.map((e) => e.verdict)).toEqual(['pass', 'slo-breached', 'error'])
    expect(await readHistory(stateDir, { scope: 'class=refund', runbook: 'agents-staging' })).toEqual([])
  })

  it('skips a line cut short by a crash', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'drill-history-'))
    await appendHistory(stateDir, passingReport())
    await writeFile(historyFile(stateDir), (await readFile(historyFile(stateDir), 'utf8')) + '{"drillId":"d-cut","sco', 'utf8')
    await appendHistory(stateDir, breachedReport())
    const entries = await readHistory(stateDir, { scope: 'class=refund', runbook: 'agents-prod' })
    expect(entries.map((e) => e.drillId)).toEqual(['d-20250101T000000Z-aaaaaa', 'd-20250102T000000Z-bbbbbb'])
  })
})
