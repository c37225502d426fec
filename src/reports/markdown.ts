/**
 * The drill for humans, as Markdown: what a reviewer reads in a pull request, a ticket or `$GITHUB_STEP_SUMMARY`.
 * The verdict and the figures come first; then one table per step, the restore, mismatches, failures, warnings.
 * Every value from the report goes through `cell`/`inline`, so no name can break a table or inject markup.
 */
import type { DrillReport } from '../core/drill.js'
import {
  failedTargets,
  marginToSlo,
  reportToRender,
  seconds,
  stepsWithTargets,
  trendText,
  VERDICT_MEANING,
  VERDICT_TITLE,
  type RenderOptions,
  stepTitle,
} from './format.js'
import type { HistorySummary } from './history.js'

const VERDICT_ICON: Record<DrillReport['verdict'], string> = {
  pass: '✅',
  'slo-breached': '⏱️',
  'restore-mismatch': '❌',
  error: '❌',
  refused: '⛔',
}

/** Inline text: Markdown and HTML punctuation escaped, on one line. */
function inline(value: string): string {
  return value
    .replace(/[\r\n]+/g, ' ')
    .replace(/[\\`*_[\]#|~]/g, (c) => `\\${c}`)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
}

/** A table cell; empty cells show a dash so the table keeps its shape. */
function cell(value: string): string {
  return value === '' ? '—' : inline(value)
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)]
}

export function renderMarkdown(original: DrillReport, history: HistorySummary, options: RenderOptions): string {
  const report = reportToRender(original, options)
  const lines: string[] = [
    `## ${VERDICT_ICON[report.verdict]} killswitch drill: ${VERDICT_TITLE[report.verdict]}, ${inline(report.scope)}`,
    '',
    `**${VERDICT_TITLE[report.verdict]}**: ${VERDICT_MEANING[report.verdict]}.${report.error ? ` ${inline(report.error)}` : ''}`,
    '',
    ...table(['Figure', 'Value'], [
      ['Time-to-halt', `**${seconds(report.timeToHaltMs)}** (SLO ${seconds(report.sloMs)}, ${marginToSlo(report)})`],
      ['Past drills', pastDrills(report, history)],
      ['Targets', targetCounts(report)],
      ['Drill', `${inline(report.drillId)}, trigger ${inline(report.trigger)}, started ${inline(report.startedAt)}`],
      ['Runbook', `${inline(report.runbook.name)} (${inline(report.runbook.digest)})`],
      ...(options.redact ? [['Redacted', 'resource names are pseudonyms']] : []),
    ]),
    '',
  ]
  lines.push(...stepSections(report), ...restoreSection(report), ...mismatchSection(report), ...failureSection(report))
  if (report.warnings.length > 0) lines.push('### Warnings', '', ...report.warnings.map((w) => `- ${inline(w)}`), '')
  return lines.join('\n')
}

function pastDrills(report: DrillReport, history: HistorySummary): string {
  if (history.count === 0) return 'none yet (this is the first measured drill of this runbook and scope)'
  const slower = history.slower ? '**slower than usual**; ' : ''
  return `${slower}${history.count} drill(s): p50 ${seconds(history.p50Ms)}, p95 ${seconds(history.p95Ms)}; trend ${trendText(history, report.timeToHaltMs)}`
}

function targetCounts(report: DrillReport): string {
  const targets = report.halt?.targets ?? []
  const by = (status: string) => targets.filter((t) => t.status === status).length
  return `${targets.length} in ${report.halt?.steps.length ?? 0} step(s): ${by('halted')} halted, ${by('already-halted')} already halted, ${by('failed') + by('pending')} failed`
}

function stepSections(report: DrillReport): string[] {
  const restoreOf = new Map(report.restore?.targets.map((t) => [t.id, t]))
  return stepsWithTargets(report).flatMap(({ step, targets }) => [
    `### ${inline(stepTitle(step))}, ${step.status}, verified at ${seconds(step.verifiedMs)}`,
    '',
    ...table(
      ['Target', 'Before', 'Halt', 'Applied', 'Verified', 'Restore'],
      targets.map((t) => [
        cell(t.label),
        cell(t.beforeText),
        cell(t.error ? `${t.status}: ${t.error}` : t.status),
        seconds(t.timings.appliedMs),
        seconds(t.timings.verifiedMs),
        cell(restoreOf.get(t.id)?.status ?? ''),
      ]),
    ),
    '',
  ])
}

function restoreSection(report: DrillReport): string[] {
  const restore = report.restore
  if (!restore) return ['### Restore', '', 'The drill did not get to the restore.', '']
  const by = (status: string) => restore.targets.filter((t) => t.status === status).length
  return [
    '### Restore',
    '',
    `${restore.status} in ${seconds(restore.durationMs)}: ${by('restored')} restored, ${by('already')} already at their snapshot, ${by('kept')} kept (held by another scope), ${by('drifted')} drifted, ${by('failed')} failed.`,
    '',
  ]
}

function mismatchSection(report: DrillReport): string[] {
  if (report.mismatches.length === 0) return []
  return [
    '### Mismatches',
    '',
    ...table(
      ['Target', 'Reason', 'Snapshot', 'Live'],
      report.mismatches.map((m) => [cell(m.label), cell(m.reason), cell(JSON.stringify(m.snapshot) ?? ''), cell(JSON.stringify(m.live) ?? '')]),
    ),
    '',
  ]
}

function failureSection(report: DrillReport): string[] {
  const failed = failedTargets(report)
  const restoreFailed = report.restore?.targets.filter((t) => t.status === 'failed') ?? []
  if (failed.length === 0 && restoreFailed.length === 0) return []
  return [
    '### Failures',
    '',
    ...table(
      ['Target', 'Step', 'Phase', 'Error'],
      [
        ...failed.map((t) => [cell(t.label), String(t.step + 1), 'halt', cell(t.error ?? t.status)]),
        ...restoreFailed.map((t) => [cell(t.label), String(t.step + 1), 'restore', cell(t.error ?? t.status)]),
      ],
    ),
    '',
  ]
}
