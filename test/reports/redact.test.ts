import { describe, expect, it } from 'vitest'
import type { DrillReport } from '../../src/core/drill.js'
import type { HistorySummary } from '../../src/reports/history.js'
import { renderHtml } from '../../src/reports/html.js'
import { renderJson, type DrillReportFile } from '../../src/reports/json.js'
import { renderJunit } from '../../src/reports/junit.js'
import { renderMarkdown } from '../../src/reports/markdown.js'
import { redactReport } from '../../src/reports/redact.js'
import { ACCOUNT, largeReport, mismatchReport, partialFailureReport, passingReport, resourceNames } from './fixtures.js'

const history: HistorySummary = { count: 3, p50Ms: 3900, p95Ms: 4100, trend: [3800, 3950, 4100], slower: false }
const renderers = { json: renderJson, junit: renderJunit, markdown: renderMarkdown, html: renderHtml }

/** A report with names hidden in free text too: the reason, a warning, an error, a mismatch, a policy document. */
function reportWithNamesEverywhere(): DrillReport {
  const report = partialFailureReport()
  const mismatch = mismatchReport().mismatches[0]!
  report.mismatches = [mismatch]
  report.warnings.push(`SNS publish to arn:aws:sns:eu-west-1:${ACCOUNT}:killswitch-alerts failed; account ${ACCOUNT}`)
  report.halt!.reason = 'drill: INC-77 refund loop in payments-agents'
  report.halt!.targets[2]!.before = { policy: `{"Resource":"arn:aws:iam::${ACCOUNT}:role/refund-worker-role"}` }
  return report
}

describe('redaction', () => {
  it('leaves no resource name in any format', () => {
    const report = reportWithNamesEverywhere()
    const names = resourceNames(report)
    expect(names.length).toBeGreaterThan(20)
    for (const [format, render] of Object.entries(renderers)) {
      const plain = render(report, history, { redact: false })
      const redacted = render(report, history, { redact: true })
      expect(plain, format).toContain('refund-worker-role')
      for (const name of names) expect(redacted, `${format} shows ${name}`).not.toContain(name)
      expect(redacted, format).not.toMatch(/\d{12}/)
    }
  })

  it('keeps step names, kinds, statuses, figures and the verdict', () => {
    const report = passingReport()
    const redacted = redactReport(report)
    expect(redacted.halt!.steps).toEqual(report.halt!.steps)
    expect(redacted.verdict).toBe('pass')
    expect(redacted.timeToHaltMs).toBe(report.timeToHaltMs)
    expect(redacted.halt!.targets.map((t) => [t.kind, t.status, t.step, t.timings, t.beforeText])).toEqual(
      report.halt!.targets.map((t) => [t.kind, t.status, t.step, t.timings, t.beforeText]),
    )
    const html = renderHtml(report, history, { redact: true })
    for (const kept of ['flags off', 'deny roles', 'scale workloads', 'scaleToZero', 'SLO 30.00 s', 'halted 3.94 s', 'PASS']) expect(html).toContain(kept)
  })

  it('gives stable pseudonyms: by target order, the same in every place and every run', () => {
    const report = reportWithNamesEverywhere()
    const redacted = redactReport(report)
    expect(redacted.halt!.targets.map((t) => t.id)).toEqual(Array.from({ length: 8 }, (_, i) => `target-00${i + 1}`))
    expect(redacted.halt!.targets.map((t) => t.label)).toEqual(redacted.halt!.targets.map((t) => t.id))
    expect(redacted.scope).toBe('class=class-1')
    expect(redacted.runbook).toEqual({ name: 'runbook-1', path: 'runbook-1.yaml', digest: report.runbook.digest })
    expect(redacted.halt!.invoker).toEqual({ arn: 'principal-1', account: 'account-1', osUser: 'user-1', host: 'host-1' })
    expect(redacted.halt!.targets[6]!.locator).toEqual({ context: 'cluster-1', namespace: 'namespace-1', kind: 'deployment', name: 'target-007', podSelector: '[redacted]' })
    expect(redacted.halt!.targets[2]!.locator).toEqual({ account: 'account-1', type: 'role', name: 'target-003', policyName: 'killswitch-deny-all' })
    // Free text uses the same pseudonyms as the fields.
    expect(redacted.mismatches[0]).toMatchObject({ id: 'target-007', label: 'target-007', reason: 'now replicas=1, snapshot replicas=3 (target-007)' })
    expect(redacted.halt!.reason).toBe('drill: INC-77 class-1 loop in namespace-1')
    expect(redacted.halt!.targets[2]!.before).toEqual({ policy: '{"Resource":"arn-1"}' })
    expect(redacted.warnings[1]).toBe('SNS publish to arn-2 failed; account account-1')
    expect(redacted.error).toBe('the halt was partial: target-004: AccessDenied: <User> & "target-004" can\'t PutRolePolicy')
    expect(redactReport(report)).toEqual(redacted)
    const file = JSON.parse(renderJson(report, history, { redact: true })) as DrillReportFile
    expect(file.redacted).toBe(true)
    expect(file.drill).toEqual(redacted)
  })

  it('does not change the report it is given, and numbers 1,000 targets in order, four digits wide', () => {
    const report = passingReport()
    const before = structuredClone(report)
    redactReport(report)
    expect(report).toEqual(before)
    const large = redactReport(largeReport(1000))
    expect(large.halt!.targets[0]!.id).toBe('target-0001')
    expect(large.halt!.targets[999]!.label).toBe('target-1000')
    expect(renderHtml(largeReport(1000), history, { redact: true })).not.toContain('refund-fn-')
  })

  it('replaces a name only as a whole word', () => {
    const report = passingReport()
    report.warnings.push('refund-api-v2 and refund-api are different; so are x-live-eu and live-eu.')
    expect(redactReport(report).warnings[0]).toBe('refund-api-v2 and target-005 are different; so are x-live-eu and environment-1.')
  })
})
