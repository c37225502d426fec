/** The machine-readable drill report: the DrillReport as the core returned it, plus the history summary. */
import type { DrillReport } from '../core/drill.js'
import { reportToRender, type RenderOptions } from './format.js'
import type { HistorySummary } from './history.js'

/** Bumped on any incompatible change to the file's shape (the embedded drill keeps its own schemaVersion). */
export const DRILL_REPORT_FILE_VERSION = 1

export interface DrillReportFile {
  reportVersion: typeof DRILL_REPORT_FILE_VERSION
  /** Whether resource names were replaced by pseudonyms. */
  redacted: boolean
  drill: DrillReport
  history: HistorySummary
}

export function renderJson(report: DrillReport, history: HistorySummary, options: RenderOptions): string {
  const file: DrillReportFile = {
    reportVersion: DRILL_REPORT_FILE_VERSION,
    redacted: options.redact,
    drill: reportToRender(report, options),
    history,
  }
  return JSON.stringify(file, null, 2) + '\n'
}
