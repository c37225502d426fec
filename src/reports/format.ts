/** What every drill-report renderer shares: its options, the verdict words, figures in seconds, targets by step. */
import type { DrillReport, DrillVerdict } from '../core/drill.js'
import type { StepReport, TargetReport } from '../core/report.js'
import type { HistorySummary } from './history.js'
import { redactReport } from './redact.js'

export interface RenderOptions {
  /** Replace every resource name by a pseudonym, so that the report can be posted outside the team. */
  redact: boolean
}

/** The report a renderer shows: redacted when asked, never the caller's object changed. */
export function reportToRender(report: DrillReport, options: RenderOptions): DrillReport {
  return options.redact ? redactReport(report) : report
}

export const VERDICT_TITLE: Record<DrillVerdict, string> = {
  pass: 'PASS',
  'slo-breached': 'SLO BREACHED',
  'restore-mismatch': 'RESTORE MISMATCH',
  error: 'ERROR',
  refused: 'REFUSED',
}

export const VERDICT_MEANING: Record<DrillVerdict, string> = {
  pass: 'halted within the SLO and every target came back exactly to its snapshot',
  'slo-breached': 'every target halted and came back, but later than the SLO',
  'restore-mismatch': 'at least one target did not come back exactly to its snapshot',
  error: 'the drill could not halt or restore every target',
  refused: 'the drill did not run',
}

/** `3.97 s`; `—` when there is no figure. */
export function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`
}

/** `+1.20 s` over the SLO or `-26.03 s` under it. */
export function marginToSlo(report: DrillReport): string {
  if (report.timeToHaltMs === null) return '—'
  const margin = report.timeToHaltMs - report.sloMs
  return `${seconds(Math.abs(margin))} ${margin > 0 ? 'over' : 'under'} the SLO`
}

/** `Step 2: deny roles (denyAll)`, or `Step 2: denyAll` when the step has no name of its own. */
export function stepTitle(step: { index: number; name: string; kind: string }): string {
  return `Step ${step.index + 1}: ${step.name === step.kind ? step.kind : `${step.name} (${step.kind})`}`
}

export interface StepWithTargets {
  step: StepReport
  targets: TargetReport[]
}

/** The halt's steps in order, each with its targets in the order the halt lists them. */
export function stepsWithTargets(report: DrillReport): StepWithTargets[] {
  const halt = report.halt
  if (!halt) return []
  return halt.steps.map((step) => ({ step, targets: halt.targets.filter((t) => t.step === step.index) }))
}

export function failedTargets(report: DrillReport): TargetReport[] {
  return report.halt?.targets.filter((t) => t.status === 'failed' || t.status === 'pending') ?? []
}

/** `3.8 s → 4.0 s → 4.2 s (this drill)`. */
export function trendText(history: HistorySummary, current: number | null): string {
  const past = history.trend.map((ms) => seconds(ms))
  return [...past, `${seconds(current)} (this drill)`].join(' → ')
}
