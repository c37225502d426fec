import { describe, expect, it } from 'vitest'
import type { HistorySummary } from '../../src/reports/history.js'
import { renderHtml } from '../../src/reports/html.js'
import { renderJson, type DrillReportFile } from '../../src/reports/json.js'
import { renderJunit } from '../../src/reports/junit.js'
import { renderMarkdown } from '../../src/reports/markdown.js'
import { breachedReport, largeReport, mismatchReport, ODD_ERROR, partialFailureReport, passingReport } from './fixtures.js'

const plain = { redact: false }
const noHistory: HistorySummary = { count: 0, p50Ms: null, p95Ms: null, trend: [], slower: false }
const history: HistorySummary = { count: 12, p50Ms: 3900, p95Ms: 4100, trend: [3800, 3950, 4100], slower: true }

const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0

describe('JSON report', () => {
  it('round-trips the drill report and the history summary, versioned', () => {
    for (const report of [passingReport(), breachedReport(), mismatchReport(), partialFailureReport()]) {
      const file = JSON.parse(renderJson(report, history, plain)) as DrillReportFile
      expect(file.reportVersion).toBe(1)
      expect(file.redacted).toBe(false)
      expect(file.drill).toEqual(report)
      expect(file.history).toEqual(history)
    }
  })
})

describe('JUnit report', () => {
  it('has a testcase per step, per target, the SLO and completion, all passing for a passing drill', () => {
    const xml = renderJunit(passingReport(), noHistory, plain)
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')).toBe(true)
    expect(count(xml, /<testsuite /g)).toBe(1)
    // 3 steps + 8 targets + time-to-halt + completed
    expect(count(xml, /<testcase /g)).toBe(13)
    expect(xml).toContain('<testsuite name="killswitch drill class=refund (agents-prod)" tests="13" failures="0" errors="0" skipped="0"')
    expect(xml).toContain('timestamp="2025-01-01T00:00:00"')
    expect(xml).toContain('name="time-to-halt within SLO"')
    expect(count(xml, /<failure /g)).toBe(0)
    expect(count(xml, /<error /g)).toBe(0)
    expect(xml).toMatch(/<testcase classname="killswitch\.drill\.step 3 scale workloads \(scaleToZero\)" name="payments-agents\/deployment\/refund-api" time="\d+\.\d{3}"\/>/)
  })

  it('fails the SLO testcase on a breach, with the figures', () => {
    const xml = renderJunit(breachedReport(), noHistory, plain)
    expect(xml).toContain('failures="1" errors="0"')
    expect(xml).toMatch(/name="time-to-halt within SLO" time="45\.000">\n\s*<failure message="time-to-halt 45\.00 s breached the SLO of 30\.00 s \(15\.00 s over the SLO\)" type="slo-breached">/)
  })

  it('fails the mismatched target with the reason', () => {
    const xml = renderJunit(mismatchReport(), noHistory, plain)
    expect(count(xml, /<failure /g)).toBe(1)
    expect(xml).toMatch(/name="payments-agents\/deployment\/refund-ledger" time="[\d.]+">\n\s*<failure message="restore mismatch: now replicas=1, snapshot replicas=3 \(payments-agents\/deployment\/refund-ledger\)" type="restore-mismatch">/)
    expect(xml).toContain('live: {&quot;replicas&quot;:1}')
  })

  it('fails the failed target and its step, errors the drill, and escapes every markup character', () => {
    const xml = renderJunit(partialFailureReport(), noHistory, plain)
    expect(xml).toContain('tests="13" failures="2" errors="1"')
    expect(xml).toContain('<failure message="halt failed: AccessDenied: &lt;User&gt; &amp; &quot;refund-planner-role&quot; can&apos;t PutRolePolicy" type="halt-failed">')
    expect(xml).toContain('<failure message="1 of 2 target(s) not halted" type="step-partial">')
    expect(xml).toMatch(/name="drill completed" time="0\.000">\n\s*<error message="the halt was partial: [^"]+" type="error">/)
    expect(xml).not.toContain(ODD_ERROR)
    expect(xml).toContain('warning: could not verify role/refund-planner-role &lt;in time&gt;')
    // No raw markup character left inside an attribute value.
    for (const value of xml.match(/="[^"]*"/g) ?? []) expect(value.slice(2, -1)).not.toMatch(/[<&](?!(amp|lt|gt|quot|apos);)/)
  })

  it('drops characters XML cannot carry', () => {
    const report = partialFailureReport()
    report.error = 'red \u001b[31mfailed\u001b[0m'
    const xml = renderJunit(report, noHistory, plain)
    expect(xml).toContain('message="red [31mfailed[0m"')
    expect(xml).not.toContain('\u001b')
  })
})

describe('Markdown report', () => {
  it('states the verdict, the figures, the history and a table per step', () => {
    const md = renderMarkdown(passingReport(), history, plain)
    expect(md).toContain('## ✅ killswitch drill: PASS, class=refund')
    expect(md).toContain('| Time-to-halt | **3.94 s** (SLO 30.00 s, 26.06 s under the SLO) |')
    expect(md).toContain('| Past drills | **slower than usual**; 12 drill(s): p50 3.90 s, p95 4.10 s; trend 3.80 s → 3.95 s → 4.10 s → 3.94 s (this drill)')
    expect(count(md, /^### Step \d/gm)).toBe(3)
    expect(md).toContain('### Step 2: deny roles (denyAll), halted, verified at 2.92 s')
    expect(md).toContain('| role/refund-worker-role | no killswitch policy | halted | 2.30 s | 2.92 s | restored |')
    expect(md).not.toContain('### Mismatches')
  })

  it('names the breach, the mismatches and the failures', () => {
    expect(renderMarkdown(breachedReport(), noHistory, plain)).toContain('**SLO BREACHED**: every target halted and came back, but later than the SLO.')
    const mismatch = renderMarkdown(mismatchReport(), noHistory, plain)
    expect(mismatch).toContain('### Mismatches')
    expect(mismatch).toContain('| payments-agents/deployment/refund-ledger | now replicas=1, snapshot replicas=3 (payments-agents/deployment/refund-ledger) | {"replicas":3} | {"replicas":1} |')
    const failure = renderMarkdown(partialFailureReport(), noHistory, plain)
    expect(failure).toContain('### Failures')
    expect(failure).toContain('| role/refund-planner-role | 2 | halt | AccessDenied: &lt;User&gt; &amp; "refund-planner-role" can\'t PutRolePolicy |')
  })

  it('keeps a table whole when a name holds a pipe', () => {
    const report = mismatchReport()
    report.mismatches[0]!.reason = 'a | b'
    const row = renderMarkdown(report, noHistory, plain).split('\n').find((l) => l.startsWith('| payments-agents/deployment/refund-ledger | a'))!
    expect(row).toContain('a \\| b')
    expect(count(row.replace(/\\\|/g, ''), /\|/g)).toBe(5)
  })
})

describe('HTML report', () => {
  it('is self-contained: no URL, no script, no external resource', () => {
    for (const report of [passingReport(), breachedReport(), mismatchReport(), partialFailureReport()]) {
      const html = renderHtml(report, history, plain)
      expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
      for (const banned of ['http://', 'https://', 'src=', '<script', '<link', '@import', 'url(']) expect(html).not.toContain(banned)
    }
  })

  it('draws one bar per target, grouped by step, with the SLO line and the time-to-halt', () => {
    const report = passingReport()
    const html = renderHtml(report, history, plain)
    expect(count(html, /<rect /g)).toBe(8)
    expect(count(html, /<rect class="bar bar-halted"/g)).toBe(8)
    expect(html).toContain('<svg class="timeline" data-targets="8"')
    expect(count(html, /<line class="slo" /g)).toBe(1)
    expect(html).toContain('SLO 30.00 s')
    expect(html).toContain('halted 3.94 s')
    expect(count(html, /<text class="step-label"/g)).toBe(3)
    expect(html).toContain('Step 3: scale workloads (scaleToZero), 4 target(s), halted')
    expect(html).toContain('<h2>Restore</h2>')
    expect(html).toContain('Every target is back at its snapshot.')
  })

  it('places each bar from its apply start to its verification on the seconds axis', () => {
    const report = passingReport()
    const html = renderHtml(report, history, plain)
    // Axis 0..33 s (SLO 30 s + 5 %, in 5 s ticks → 35 s) over x 280..1176.
    const scale = (ms: number) => 280 + (ms / 35_000) * (1176 - 280)
    const first = report.halt!.targets[0]!
    const bar = /<rect class="bar bar-halted" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/.exec(html)!
    expect(Number(bar[1])).toBeCloseTo(scale(first.timings.journaledMs!), 0)
    expect(Number(bar[2])).toBeCloseTo(scale(first.timings.verifiedMs!) - scale(first.timings.journaledMs!), 0)
    expect(html).toContain('<text class="tick" x="1176" y="46">35 s</text>')
    expect(html).toMatch(new RegExp(`<line class="slo" x1="${Math.round(scale(30_000) * 10) / 10}"`))
  })

  it('marks failures and mismatches, and escapes names', () => {
    const failed = renderHtml(partialFailureReport(), noHistory, plain)
    expect(count(failed, /<rect class="bar bar-failed"/g)).toBe(1)
    expect(failed).toContain('AccessDenied: &lt;User&gt; &amp; &quot;refund-planner-role&quot; can&#39;t PutRolePolicy')
    expect(failed).not.toContain('<User>')
    const mismatch = renderHtml(mismatchReport(), noHistory, plain)
    expect(mismatch).toContain('<h2>Mismatches</h2>')
    expect(mismatch).toContain('<td>payments-agents/deployment/refund-ledger</td><td>now replicas=1, snapshot replicas=3')
  })

  it('still renders 1,000 targets as plain rects', () => {
    const html = renderHtml(largeReport(1000), noHistory, plain)
    expect(count(html, /<rect /g)).toBe(1000)
    expect(html).toContain('data-targets="1000"')
    expect(count(html, /<text class="target-label"/g)).toBe(0)
    expect(html.length).toBeLessThan(2_000_000)
  })

  it('renders a refused drill without a timeline bar', () => {
    const report = { ...passingReport(), verdict: 'refused' as const, halt: null, restore: null, timeToHaltMs: null, withinSlo: false, error: 'targets are halted for real' }
    const html = renderHtml(report, noHistory, plain)
    expect(html).toContain('data-targets="0"')
    expect(count(html, /<rect /g)).toBe(0)
    expect(html).toContain('The drill did not get to the restore.')
    expect(renderJunit(report, noHistory, plain)).toContain('<skipped message="no time-to-halt was measured"/>')
  })
})
