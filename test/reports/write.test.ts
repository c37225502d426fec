import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { DrillReport } from '../../src/core/drill.js'
import type { DrillReportFile } from '../../src/reports/json.js'
import { writeDrillReports } from '../../src/reports/write.js'
import { breachedReport, passingReport } from './fixtures.js'

const timed = (drillId: string, timeToHaltMs: number): DrillReport => ({ ...passingReport(drillId), timeToHaltMs })

describe('writeDrillReports', () => {
  it('writes the four reports, with the history of the drills before, and appends the step summary', async () => {
    const root = await mkdtemp(join(tmpdir(), 'drill-reports-'))
    const stateDir = join(root, 'state')
    const dir = join(root, 'out', 'reports')
    const summaryFile = join(root, 'step-summary.md')
    await writeFile(summaryFile, '# earlier step\n')
    for (const [i, ms] of [3000, 3100, 3200].entries()) await writeDrillReports(timed(`d-past-${i}`, ms), { dir, redact: false, stateDir })

    const report = breachedReport()
    const paths = await writeDrillReports(report, { dir, redact: false, stateDir, githubStepSummary: summaryFile })
    expect(paths).toEqual({
      json: join(dir, `drill-${report.drillId}.json`),
      junit: join(dir, `drill-${report.drillId}.junit.xml`),
      markdown: join(dir, `drill-${report.drillId}.md`),
      html: join(dir, `drill-${report.drillId}.html`),
    })
    expect((await readdir(dir)).length).toBe(16)

    const file = JSON.parse(await readFile(paths.json, 'utf8')) as DrillReportFile
    expect(file.drill).toEqual(report)
    expect(file.history).toEqual({ count: 3, p50Ms: 3100, p95Ms: 3200, trend: [3000, 3100, 3200], slower: true })
    expect(await readFile(paths.junit, 'utf8')).toContain('<property name="pastDrills" value="3"/>')
    const markdown = await readFile(paths.markdown, 'utf8')
    expect(markdown).toContain('**slower than usual**; 3 drill(s): p50 3.10 s, p95 3.20 s')
    expect(await readFile(paths.html, 'utf8')).toContain('<span class="slower">slower than usual</span>')
    expect(await readFile(summaryFile, 'utf8')).toBe(`# earlier step\n${markdown}\n`)

    // Writing the same drill again does not count it twice.
    await writeDrillReports(report, { dir, redact: false, stateDir })
    const history = (await readFile(join(stateDir, 'drills', 'history.jsonl'), 'utf8')).trimEnd().split('\n')
    expect(history.map((l) => (JSON.parse(l) as { drillId: string }).drillId)).toEqual(['d-past-0', 'd-past-1', 'd-past-2', report.drillId])
  })

  it('redacts every file when asked, but keeps the real names in the local history', async () => {
    const root = await mkdtemp(join(tmpdir(), 'drill-reports-'))
    const paths = await writeDrillReports(passingReport(), { dir: join(root, 'out'), redact: true, stateDir: join(root, 'state') })
    for (const path of Object.values(paths)) expect(await readFile(path, 'utf8')).not.toContain('refund')
    expect(await readFile(join(root, 'state', 'drills', 'history.jsonl'), 'utf8')).toContain('"scope":"class=refund"')
  })
})
