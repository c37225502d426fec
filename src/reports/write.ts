/**
 * Writes a drill's four reports (JSON, JUnit XML, Markdown, HTML) into one directory, after recording the drill
 * in the history so that the reports compare it with the drills before it. The only function here that touches
 * the filesystem; the renderers are pure.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DrillReport } from '../core/drill.js'
import { redactDeep } from '../core/secrets.js'
import { appendHistory, readHistory, summarize } from './history.js'
import { renderHtml } from './html.js'
import { renderJson } from './json.js'
import { renderJunit } from './junit.js'
import { renderMarkdown } from './markdown.js'

export interface WriteDrillReportsOptions {
  /** The report directory; created when missing. */
  dir: string
  redact: boolean
  /** The state directory holding `drills/history.jsonl`. */
  stateDir: string
  /** A file to append the Markdown summary to (GitHub Actions' `$GITHUB_STEP_SUMMARY`). */
  githubStepSummary?: string
}

export interface DrillReportPaths {
  json: string
  junit: string
  markdown: string
  html: string
}

export async function writeDrillReports(original: DrillReport, options: WriteDrillReportsOptions): Promise<DrillReportPaths> {
  // Reports travel (CI artifacts, PR comments): no credential value may be in them, whatever text carried it.
  const report = redactDeep(original)
  await appendHistory(options.stateDir, report)
  const history = summarize(await readHistory(options.stateDir, { scope: report.scope, runbook: report.runbook.name }), report)
  const render = { redact: options.redact }
  const base = join(options.dir, `drill-${report.drillId}`)
  const paths: DrillReportPaths = { json: `${base}.json`, junit: `${base}.junit.xml`, markdown: `${base}.md`, html: `${base}.html` }
  const markdown = renderMarkdown(report, history, render)
  await mkdir(options.dir, { recursive: true })
  await Promise.all([
    writeFile(paths.json, renderJson(report, history, render)),
    writeFile(paths.junit, renderJunit(report, history, render)),
    writeFile(paths.markdown, markdown),
    writeFile(paths.html, renderHtml(report, history, render)),
  ])
  if (options.githubStepSummary) await appendFile(options.githubStepSummary, `${markdown}\n`)
  return paths
}
