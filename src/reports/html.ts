/**
 * The drill as ONE self-contained HTML file: inline CSS and inline SVG only. No script, font, image or any other
 * resource is fetched, and no URL appears in the markup, so the file reads the same offline, attached to a ticket,
 * or opened from a CI artifact. Every value from the report is escaped.
 */
import type { DrillReport } from '../core/drill.js'
import { escapeHtml as h } from './escape.js'
import {
  failedTargets,
  marginToSlo,
  reportToRender,
  seconds,
  trendText,
  VERDICT_MEANING,
  VERDICT_TITLE,
  type RenderOptions,
} from './format.js'
import type { HistorySummary } from './history.js'
import { DRILL_REPORT_FILE_VERSION } from './json.js'
import { renderTimeline } from './timeline.js'

const STYLE = `
  :root { color-scheme: light; --ok: #2e7d32; --bad: #c62828; --warn: #ef6c00; --muted: #6b7280; --line: #e5e7eb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #111827; background: #fff; }
  main { max-width: 1260px; margin: 0 auto; padding: 0 24px 48px; }
  header.verdict { padding: 20px 24px; color: #fff; }
  header.verdict h1 { margin: 0; font-size: 26px; }
  header.verdict p { margin: 4px 0 0; }
  .verdict-pass { background: var(--ok); }
  .verdict-slo-breached { background: var(--warn); }
  .verdict-restore-mismatch, .verdict-error { background: var(--bad); }
  .verdict-refused { background: #4b5563; }
  h2 { margin: 28px 0 8px; font-size: 18px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
  .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; margin-top: 16px; align-items: start; }
  .figure { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
  .figure .name { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .figure .value { font-size: 20px; font-weight: 600; }
  .figure .note { color: var(--muted); font-size: 12px; word-break: break-all; }
  .slower { color: var(--bad); font-weight: 600; }
  table { border-collapse: collapse; width: 100%; margin: 8px 0; }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 12px; color: var(--muted); text-transform: uppercase; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  .status-failed, .status-drifted, .status-pending { color: var(--bad); font-weight: 600; }
  .legend span { display: inline-block; margin-right: 16px; }
  .swatch { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }
  .chart { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
  svg.timeline { display: block; font-size: 11px; }
  svg .band { fill: #f9fafb; }
  svg .grid { stroke: var(--line); }
  svg .tick { fill: var(--muted); text-anchor: middle; }
  svg .axis-title { fill: var(--muted); }
  svg .step-label { fill: #111827; font-weight: 600; }
  svg .target-label { fill: #374151; text-anchor: end; }
  svg .bar-halted, .swatch.bar-halted { fill: var(--ok); background: var(--ok); }
  svg .bar-already-halted, .swatch.bar-already-halted { fill: #9ca3af; background: #9ca3af; }
  svg .bar-failed, .swatch.bar-failed { fill: var(--bad); background: var(--bad); }
  svg .bar-pending, .swatch.bar-pending { fill: var(--warn); background: var(--warn); }
  svg .slo { stroke: var(--bad); stroke-width: 2; stroke-dasharray: 6 4; }
  svg .slo-label { fill: var(--bad); font-weight: 600; }
  svg .time-to-halt { stroke: #1d4ed8; stroke-width: 1.5; }
  svg .time-to-halt-label { fill: #1d4ed8; font-weight: 600; }
  svg.sparkline polyline { fill: none; stroke: #1d4ed8; stroke-width: 1.5; }
  svg.sparkline circle { fill: #1d4ed8; }
  footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`

export function renderHtml(original: DrillReport, history: HistorySummary, options: RenderOptions): string {
  const report = reportToRender(original, options)
  const title = `killswitch drill ${VERDICT_TITLE[report.verdict]}: ${report.scope}`
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<header class="verdict verdict-${report.verdict}">`,
    `<h1>${h(title)}</h1>`,
    `<p>${h(sentence(VERDICT_MEANING[report.verdict]))}${report.error ? ` ${h(report.error)}` : ''}</p>`,
    '</header>',
    '<main>',
    figures(report, history, options),
    '<h2>Timeline</h2>',
    '<p class="legend"><span><i class="swatch bar-halted"></i>halted</span><span><i class="swatch bar-already-halted"></i>already halted</span><span><i class="swatch bar-failed"></i>failed</span><span><i class="swatch bar-pending"></i>not verified</span><span>each bar: from the snapshot journaled to the halt verified; dashed red: the SLO; blue: the time-to-halt</span></p>',
    `<div class="chart">${renderTimeline(report)}</div>`,
    stepsTable(report),
    restoreSection(report),
    mismatchSection(report),
    failureSection(report),
    warningSection(report),
    targetsTable(report),
    `<footer>Drill ${h(report.drillId)}, report version ${DRILL_REPORT_FILE_VERSION}${options.redact ? ', resource names redacted' : ''}. This file is self-contained: it loads nothing.</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n')
}

function sentence(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`
}

function figure(name: string, value: string, note = ''): string {
  return `<div class="figure"><div class="name">${h(name)}</div><div class="value">${value}</div><div class="note">${note}</div></div>`
}

function figures(report: DrillReport, history: HistorySummary, options: RenderOptions): string {
  const targets = report.halt?.targets ?? []
  const past =
    history.count === 0
      ? figure('Past drills', 'none', 'the first measured drill of this runbook and scope')
      : figure(
          'Past drills: p50 / p95',
          `${h(seconds(history.p50Ms))} / ${h(seconds(history.p95Ms))}`,
          `${history.count} drill(s)${history.slower ? ' · <span class="slower">slower than usual</span>' : ''}<br>${sparkline(history.trend, report.timeToHaltMs)}<br>${h(trendText(history, report.timeToHaltMs))}`,
        )
  return [
    '<section class="figures">',
    figure('Time-to-halt', h(seconds(report.timeToHaltMs)), h(marginToSlo(report))),
    figure('SLO', h(seconds(report.sloMs)), report.withinSlo ? 'met' : 'not met'),
    past,
    figure('Targets', String(targets.length), `${report.halt?.steps.length ?? 0} step(s), ${failedTargets(report).length} failed, ${report.mismatches.length} mismatch(es)`),
    figure('Scope', h(report.scope), `runbook ${h(report.runbook.name)}${options.redact ? ' (redacted)' : ''}`),
    figure('Trigger', h(report.trigger), `drill ${h(report.drillId)}, started ${h(report.startedAt)}`),
    '</section>',
  ].join('\n')
}

/** The trend of past time-to-halt values and this drill's as the last point; lines and circles only. */
function sparkline(trend: readonly number[], current: number | null): string {
  const values = current === null ? [...trend] : [...trend, current]
  if (values.length < 2) return ''
  const width = 180
  const height = 32
  const max = Math.max(...values)
  const min = Math.min(...values)
  const span = max - min || 1
  const points = values.map((v, i) => [(i / (values.length - 1)) * (width - 6) + 3, height - 3 - ((v - min) / span) * (height - 6)] as const)
  const last = points[points.length - 1]!
  return `<svg class="sparkline" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" aria-label="time-to-halt trend"><polyline points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/><circle cx="${last[0].toFixed(1)}" cy="${last[1].toFixed(1)}" r="3"/></svg>`
}

function tableOf(header: string[], rows: string[][], numeric: ReadonlySet<number> = new Set()): string {
  const head = `<tr>${header.map((c) => `<th>${h(c)}</th>`).join('')}</tr>`
  const body = rows.map((r) => `<tr>${r.map((c, i) => (numeric.has(i) ? `<td class="num">${c}</td>` : `<td>${c}</td>`)).join('')}</tr>`)
  return `<table>\n${head}\n${body.join('\n')}\n</table>`
}

function statusCell(status: string, error?: string): string {
  return `<span class="status-${h(status)}">${h(status)}</span>${error ? `: ${h(error)}` : ''}`
}

function stepsTable(report: DrillReport): string {
  const steps = report.halt?.steps ?? []
  if (steps.length === 0) return ''
  return [
    '<h2>Steps</h2>',
    tableOf(
      ['#', 'Step', 'Kind', 'Targets', 'Status', 'Started', 'Applied', 'Verified'],
      steps.map((s) => [
        String(s.index + 1),
        h(s.name),
        h(s.kind),
        String(s.targets),
        statusCell(s.status),
        h(seconds(s.startedMs)),
        h(seconds(s.appliedMs)),
        h(seconds(s.verifiedMs)),
      ]),
      new Set([0, 3, 5, 6, 7]),
    ),
  ].join('\n')
}

function restoreSection(report: DrillReport): string {
  const restore = report.restore
  if (!restore) return '<h2>Restore</h2>\n<p>The drill did not get to the restore.</p>'
  const counts = new Map<string, number>()
  for (const t of restore.targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1)
  const notRestored = restore.targets.filter((t) => t.status !== 'restored' && t.status !== 'already')
  return [
    '<h2>Restore</h2>',
    `<p>${statusCell(restore.status)} in ${h(seconds(restore.durationMs))}: ${[...counts].map(([status, n]) => `${n} ${h(status)}`).join(', ') || 'no target'}.</p>`,
    notRestored.length === 0
      ? '<p>Every target is back at its snapshot.</p>'
      : tableOf(
          ['Target', 'Status', 'Snapshot', 'Live', 'Held by'],
          notRestored.map((t) => [h(t.label), statusCell(t.status, t.error), h(t.snapshotText), h(t.liveText ?? '—'), h(t.heldBy?.join(', ') ?? '')]),
        ),
  ].join('\n')
}

function mismatchSection(report: DrillReport): string {
  if (report.mismatches.length === 0) return ''
  return [
    '<h2>Mismatches</h2>',
    tableOf(
      ['Target', 'Reason', 'Snapshot', 'Live'],
      report.mismatches.map((m) => [h(m.label), h(m.reason), `<code>${h(JSON.stringify(m.snapshot) ?? '')}</code>`, `<code>${h(JSON.stringify(m.live) ?? '')}</code>`]),
    ),
  ].join('\n')
}

function failureSection(report: DrillReport): string {
  const failed = failedTargets(report)
  if (failed.length === 0) return ''
  return ['<h2>Failures</h2>', tableOf(['Target', 'Step', 'Error'], failed.map((t) => [h(t.label), String(t.step + 1), statusCell(t.status, t.error)]))].join('\n')
}

function warningSection(report: DrillReport): string {
  if (report.warnings.length === 0) return ''
  return ['<h2>Warnings</h2>', '<ul>', ...report.warnings.map((w) => `<li>${h(w)}</li>`), '</ul>'].join('\n')
}

function targetsTable(report: DrillReport): string {
  const targets = report.halt?.targets ?? []
  if (targets.length === 0) return ''
  const restoreOf = new Map(report.restore?.targets.map((t) => [t.id, t.status]))
  return [
    `<details><summary>All ${targets.length} target(s)</summary>`,
    tableOf(
      ['Target', 'Id', 'Step', 'Before', 'Halt', 'Journaled', 'Applied', 'Verified', 'Restore'],
      targets.map((t) => [
        h(t.label),
        h(t.id),
        String(t.step + 1),
        h(t.beforeText),
        statusCell(t.status, t.error),
        h(seconds(t.timings.journaledMs)),
        h(seconds(t.timings.appliedMs)),
        h(seconds(t.timings.verifiedMs)),
        h(restoreOf.get(t.id) ?? '—'),
      ]),
      new Set([2, 5, 6, 7]),
    ),
    '</details>',
  ].join('\n')
}
