/**
 * The drill's timeline as one inline SVG: a horizontal bar per target from the moment its halt started (the
 * snapshot journaled) to the moment its halt was verified, grouped under a label per step, on an x-axis in
 * seconds since the killswitch process started, with a vertical line at the SLO and one at the time-to-halt.
 * Invariants the screenshot check and the tests rely on: the only `<rect>` elements are the target bars (class
 * `bar`), exactly one per target of the halt; the SLO line has class `slo`; the root carries `data-targets`.
 * Plain shapes only, so that 1,000 targets still render in any browser.
 */
import type { DrillReport } from '../core/drill.js'
import type { TargetReport } from '../core/report.js'
import { escapeHtml } from './escape.js'
import { seconds, stepsWithTargets, stepTitle } from './format.js'

const WIDTH = 1200
const LABEL_GUTTER = 280
const RIGHT_MARGIN = 24
/** Three header rows: the SLO and time-to-halt labels, the axis title, the tick labels. */
const AXIS_HEIGHT = 56
const STEP_HEADER = 22
const PLOT_LEFT = LABEL_GUTTER
const PLOT_RIGHT = WIDTH - RIGHT_MARGIN
/** Candidate tick spacings, in seconds. */
const TICK_STEPS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600]
const MAX_TICKS = 12

/** Row height by target count: labelled rows for small drills, thin bars so that 1,000 targets stay readable. */
function rowHeight(targets: number): number {
  if (targets <= 60) return 18
  if (targets <= 250) return 6
  return 2
}

/** Where a bar starts and ends (ms): from the apply start (journaled) to the verification, falling back to what was measured. */
function barSpan(target: TargetReport, stepStartedMs: number): { startMs: number; endMs: number } {
  const t = target.timings
  const startMs = t.journaledMs ?? t.appliedMs ?? t.readMs ?? stepStartedMs
  return { startMs, endMs: Math.max(startMs, t.verifiedMs ?? t.appliedMs ?? startMs) }
}

export function renderTimeline(report: DrillReport): string {
  const groups = stepsWithTargets(report)
  const targetCount = report.halt?.targets.length ?? 0
  const row = rowHeight(targetCount)
  const ends = groups.flatMap(({ step, targets }) => targets.map((t) => barSpan(t, step.startedMs).endMs))
  const maxMs = Math.max(report.sloMs, report.timeToHaltMs ?? 0, 1000, ...ends) * 1.05
  const tick = TICK_STEPS.find((s) => maxMs / 1000 / s <= MAX_TICKS) ?? TICK_STEPS[TICK_STEPS.length - 1]!
  const axisMaxMs = Math.ceil(maxMs / 1000 / tick) * tick * 1000
  const x = (ms: number) => PLOT_LEFT + (Math.max(0, ms) / axisMaxMs) * (PLOT_RIGHT - PLOT_LEFT)

  const bands: string[] = []
  const body: string[] = []
  let y = AXIS_HEIGHT
  groups.forEach(({ step, targets }, i) => {
    const groupHeight = STEP_HEADER + targets.length * row + 6
    if (i % 2 === 0) bands.push(`<path class="band" d="M0 ${y}H${WIDTH}V${y + groupHeight}H0Z"/>`)
    const title = `${stepTitle(step)}, ${step.targets} target(s), ${step.status}, verified at ${seconds(step.verifiedMs)}`
    body.push(`<text class="step-label" x="8" y="${y + 15}">${escapeHtml(title)}</text>`)
    y += STEP_HEADER
    for (const target of targets) {
      const { startMs, endMs } = barSpan(target, step.startedMs)
      const width = Math.max(1.5, x(endMs) - x(startMs))
      const tip = `${target.label} (${target.kind}): ${target.status}, ${seconds(startMs)} → ${seconds(target.timings.verifiedMs)}${target.error ? `: ${target.error}` : ''}`
      body.push(
        `<rect class="bar bar-${target.status}" x="${num(x(startMs))}" y="${num(y + row * 0.15)}" width="${num(width)}" height="${num(Math.max(1, row * 0.7))}"><title>${escapeHtml(tip)}</title></rect>`,
      )
      if (row >= 14) body.push(`<text class="target-label" x="${LABEL_GUTTER - 8}" y="${y + row - 5}">${escapeHtml(clip(target.label, 40))}</text>`)
      y += row
    }
    y += 6
  })
  if (targetCount === 0) {
    body.push(`<text class="step-label" x="8" y="${y + 16}">No target was halted: the drill has no timeline.</text>`)
    y += 24
  }
  const height = y + 8

  const axis: string[] = []
  for (let i = 0; i * tick * 1000 <= axisMaxMs + 1e-6; i++) {
    const s = i * tick
    const tx = num(x(s * 1000))
    axis.push(`<line class="grid" x1="${tx}" y1="${AXIS_HEIGHT - 6}" x2="${tx}" y2="${height}"/>`)
    axis.push(`<text class="tick" x="${tx}" y="${AXIS_HEIGHT - 10}">${formatTick(s)}</text>`)
  }
  axis.push(`<text class="axis-title" x="8" y="${AXIS_HEIGHT - 10}">seconds since the killswitch process started</text>`)

  // The two marker labels share the top row, each on the side away from the other line, so they never overlap.
  const haltMs = report.timeToHaltMs
  const sloFirst = haltMs !== null && haltMs > report.sloMs
  const markers: string[] = []
  const sloX = num(x(report.sloMs))
  markers.push(`<line class="slo" x1="${sloX}" y1="${AXIS_HEIGHT - 6}" x2="${sloX}" y2="${height}"/>`)
  markers.push(`<text class="slo-label" x="${sloX}" y="14" text-anchor="${sloFirst ? 'end' : 'start'}">&#160;SLO ${seconds(report.sloMs)}&#160;</text>`)
  if (haltMs !== null) {
    const haltX = num(x(haltMs))
    markers.push(`<line class="time-to-halt" x1="${haltX}" y1="${AXIS_HEIGHT - 6}" x2="${haltX}" y2="${height}"/>`)
    markers.push(`<text class="time-to-halt-label" x="${haltX}" y="14" text-anchor="${sloFirst ? 'start' : 'end'}">&#160;halted ${seconds(haltMs)}&#160;</text>`)
  }

  return [
    `<svg class="timeline" data-targets="${targetCount}" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="Timeline of ${targetCount} target(s) against the SLO">`,
    ...bands,
    ...axis,
    ...body,
    ...markers,
    '</svg>',
  ].join('\n')
}

function formatTick(s: number): string {
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`
}

function num(value: number): string {
  return String(Math.round(value * 10) / 10)
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}
