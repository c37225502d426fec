/**
 * The drill as JUnit XML, for CI systems' test views: one testsuite per drill; a testcase per step and per target
 * (failing when the target failed to halt or did not come back to its snapshot), one `time-to-halt within SLO`
 * (failing on a breach) and one `drill completed` (an error when the drill ended in error or was refused).
 * Follows the common JUnit schema (testsuites > testsuite > properties, testcase, system-out, system-err) that
 * Jenkins, GitLab, GitHub reporters and Azure read. Testcase names are stable across runs so CI can track them.
 */
import type { DrillMismatch, DrillReport } from '../core/drill.js'
import type { TargetReport } from '../core/report.js'
import { marginToSlo, reportToRender, seconds, stepsWithTargets, trendText, VERDICT_TITLE, type RenderOptions } from './format.js'
import type { HistorySummary } from './history.js'

interface Problem {
  /** `failure` is an assertion the drill checks; `error` means the drill itself could not finish. */
  element: 'failure' | 'error'
  type: string
  message: string
  detail: string
}

interface TestCase {
  classname: string
  name: string
  timeMs: number
  problem?: Problem
  skipped?: string
}

/** Characters XML 1.0 cannot carry at all, even escaped (ANSI escapes in an error message, for one). */
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

function xmlEscape(value: string): string {
  return value
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

export function renderJunit(original: DrillReport, history: HistorySummary, options: RenderOptions): string {
  const report = reportToRender(original, options)
  const cases = testCases(report)
  const count = (what: (c: TestCase) => boolean) => cases.filter(what).length
  const failures = count((c) => c.problem?.element === 'failure')
  const errors = count((c) => c.problem?.element === 'error')
  const skipped = count((c) => c.skipped !== undefined)
  const totalMs = (report.timeToHaltMs ?? 0) + (report.restore?.durationMs ?? 0)
  const suiteName = `killswitch drill ${report.scope} (${report.runbook.name})`
  const counts = `tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${junitSeconds(totalMs)}"`
  const properties: [string, string][] = [
    ['drillId', report.drillId],
    ['verdict', report.verdict],
    ['scope', report.scope],
    ['runbook', report.runbook.name],
    ['runbookDigest', report.runbook.digest],
    ['trigger', report.trigger],
    ['timeToHaltMs', String(report.timeToHaltMs ?? '')],
    ['sloMs', String(report.sloMs)],
    ['pastDrills', String(history.count)],
    ['p50Ms', String(history.p50Ms ?? '')],
    ['p95Ms', String(history.p95Ms ?? '')],
    ['slowerThanUsual', String(history.slower)],
  ]
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="killswitch drill" ${counts}>`,
    `  <testsuite name="${xmlEscape(suiteName)}" ${counts} timestamp="${junitTimestamp(report.startedAt)}" hostname="${xmlEscape(report.halt?.invoker.host ?? 'unknown')}" id="0" package="killswitch.drill">`,
    '    <properties>',
    ...properties.map(([name, value]) => `      <property name="${xmlEscape(name)}" value="${xmlEscape(value)}"/>`),
    '    </properties>',
    ...cases.map(renderCase),
    `    <system-out>${xmlEscape(summaryText(report, history))}</system-out>`,
    '    <system-err></system-err>',
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}

function renderCase(c: TestCase): string {
  const open = `    <testcase classname="${xmlEscape(c.classname)}" name="${xmlEscape(c.name)}" time="${junitSeconds(c.timeMs)}"`
  if (c.skipped !== undefined) return `${open}>\n      <skipped message="${xmlEscape(c.skipped)}"/>\n    </testcase>`
  if (!c.problem) return `${open}/>`
  const p = c.problem
  return `${open}>\n      <${p.element} message="${xmlEscape(p.message)}" type="${xmlEscape(p.type)}">${xmlEscape(p.detail)}</${p.element}>\n    </testcase>`
}

function testCases(report: DrillReport): TestCase[] {
  const mismatchOf = new Map(report.mismatches.map((m) => [m.id, m]))
  const haltedIds = new Set(report.halt?.targets.map((t) => t.id))
  const cases: TestCase[] = []
  for (const { step, targets } of stepsWithTargets(report)) {
    const stepLabel = `step ${step.index + 1} ${step.name} (${step.kind})`
    const failed = targets.filter((t) => t.status === 'failed' || t.status === 'pending').length
    cases.push({
      classname: 'killswitch.drill.steps',
      name: stepLabel,
      timeMs: (step.verifiedMs ?? step.appliedMs ?? step.startedMs) - step.startedMs,
      ...(step.status === 'halted'
        ? {}
        : { problem: { element: 'failure', type: `step-${step.status}`, message: `${failed} of ${targets.length} target(s) not halted`, detail: `step ${step.status}` } }),
    })
    for (const target of targets) cases.push(targetCase(`killswitch.drill.${stepLabel}`, target, mismatchOf.get(target.id)))
  }
  for (const m of report.mismatches.filter((x) => !haltedIds.has(x.id))) {
    cases.push({ classname: 'killswitch.drill.restore', name: m.label, timeMs: 0, problem: mismatchProblem(m) })
  }
  cases.push(sloCase(report))
  cases.push(completedCase(report))
  return cases
}

function targetCase(classname: string, target: TargetReport, mismatch: DrillMismatch | undefined): TestCase {
  const { journaledMs, verifiedMs } = target.timings
  const timeMs = journaledMs !== undefined && verifiedMs !== undefined ? verifiedMs - journaledMs : 0
  const haltFailed = target.status === 'failed' || target.status === 'pending'
  const context = `target ${target.id} (${target.kind}), before: ${target.beforeText}, status: ${target.status}`
  let problem: Problem | undefined
  if (haltFailed) {
    const message = [`halt ${target.status}: ${target.error ?? 'not verified'}`, ...(mismatch ? [`restore mismatch: ${mismatch.reason}`] : [])].join('; ')
    problem = { element: 'failure', type: 'halt-failed', message, detail: context }
  } else if (mismatch) {
    problem = { ...mismatchProblem(mismatch), detail: `${context}\n${mismatchDetail(mismatch)}` }
  }
  return { classname, name: target.label, timeMs, ...(problem ? { problem } : {}) }
}

function mismatchProblem(m: DrillMismatch): Problem {
  return { element: 'failure', type: 'restore-mismatch', message: `restore mismatch: ${m.reason}`, detail: mismatchDetail(m) }
}

function mismatchDetail(m: DrillMismatch): string {
  return `snapshot: ${JSON.stringify(m.snapshot)}\nlive: ${JSON.stringify(m.live)}`
}

function sloCase(report: DrillReport): TestCase {
  const base = { classname: 'killswitch.drill', name: 'time-to-halt within SLO', timeMs: report.timeToHaltMs ?? 0 }
  if (report.timeToHaltMs === null) return { ...base, skipped: 'no time-to-halt was measured' }
  if (report.withinSlo) return base
  const message = `time-to-halt ${seconds(report.timeToHaltMs)} breached the SLO of ${seconds(report.sloMs)} (${marginToSlo(report)})`
  return { ...base, problem: { element: 'failure', type: 'slo-breached', message, detail: message } }
}

function completedCase(report: DrillReport): TestCase {
  const base = { classname: 'killswitch.drill', name: 'drill completed', timeMs: 0 }
  if (report.verdict !== 'error' && report.verdict !== 'refused') return base
  const message = report.error ?? `drill ${report.verdict}`
  return { ...base, problem: { element: 'error', type: report.verdict, message, detail: message } }
}

function summaryText(report: DrillReport, history: HistorySummary): string {
  return [
    `verdict: ${VERDICT_TITLE[report.verdict]}`,
    `time-to-halt: ${seconds(report.timeToHaltMs)} (SLO ${seconds(report.sloMs)}, ${marginToSlo(report)})`,
    history.count > 0
      ? `past drills: ${history.count}, p50 ${seconds(history.p50Ms)}, p95 ${seconds(history.p95Ms)}${history.slower ? ', SLOWER than usual' : ''}; trend ${trendText(history, report.timeToHaltMs)}`
      : 'past drills: none',
    ...report.warnings.map((w) => `warning: ${w}`),
  ].join('\n')
}

/** JUnit times are seconds with a decimal point. */
function junitSeconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3)
}

/** The schema's timestamp is an ISO 8601 date-time without fraction or zone (UTC here). */
function junitTimestamp(iso: string): string {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? '1970-01-01T00:00:00' : date.toISOString().slice(0, 19)
}
