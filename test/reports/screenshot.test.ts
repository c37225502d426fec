import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { deflateSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import type { HistorySummary } from '../../src/reports/history.js'
import { renderHtml } from '../../src/reports/html.js'
import { checkRenderedDom, checkScreenshot, measurePngInk } from '../../src/reports/screenshot-check.js'
import { largeReport, partialFailureReport } from './fixtures.js'

const history: HistorySummary = { count: 2, p50Ms: 3900, p95Ms: 4100, trend: [3900, 4100], slower: false }
const CHROMIUM = '/usr/bin/chromium'
const REPO = join(import.meta.dirname, '../..')

/** An 8-bit RGB PNG of a white image with `marks` black pixels, every row with the Up filter. */
function png(width: number, height: number, marks: [number, number][]): Buffer {
  const raw = Buffer.alloc(height * width * 3, 0xff)
  for (const [x, y] of marks) raw.fill(0, (y * width + x) * 3, (y * width + x) * 3 + 3)
  const rows = Array.from({ length: height }, (_, y) => {
    const row = Buffer.alloc(width * 3 + 1)
    row[0] = 2
    for (let i = 0; i < width * 3; i++) row[i + 1] = (raw[y * width * 3 + i]! - (y > 0 ? raw[(y - 1) * width * 3 + i]! : 0)) & 0xff
    return row
  })
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    return Buffer.concat([length, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)])
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(width, 0)
  ihdr.writeUInt32BE(height, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))])
}

describe('screenshot checks', () => {
  it('measures the ink on a PNG and calls a blank one blank', () => {
    expect(measurePngInk(png(20, 10, []))).toEqual({ width: 20, height: 10, inkShare: 0 })
    expect(measurePngInk(png(20, 10, [[3, 4], [19, 9]])).inkShare).toBeCloseTo(2 / 200)
    expect(checkScreenshot(png(20, 10, []), { width: 20, height: 10 })).toEqual(['the screenshot is blank (0.00% of it differs from the background)'])
    expect(checkScreenshot(png(20, 10, [[1, 1], [2, 2]]), { width: 20, height: 10 })).toEqual([])
    expect(checkScreenshot(png(20, 10, [[1, 1]]), { width: 40, height: 10 })).toEqual(['the screenshot is 20x10, expected 40x10'])
    expect(checkScreenshot(Buffer.from('not a png at all, clearly not one'), { width: 1, height: 1 })[0]).toMatch(/not a readable PNG/)
  })

  it('finds the timeline whole in a report, and says what is missing otherwise', () => {
    const html = renderHtml(partialFailureReport(), history, { redact: false })
    expect(checkRenderedDom(html)).toEqual([])
    expect(checkRenderedDom(html.replace(/<rect [^>]*>.*?<\/rect>/, ''))).toEqual(['the timeline has 7 bar(s) for 8 target(s)'])
    expect(checkRenderedDom(html.replace('<line class="slo"', '<line class="other"'))).toEqual(['the timeline has no SLO line (line.slo)'])
    expect(checkRenderedDom('<html><body>nothing</body></html>')).toEqual(['the DOM has no timeline SVG (svg.timeline)'])
  })
})

const screenshot = (html: string, out: string) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/screenshot-report.ts'), html, out], { cwd: REPO, timeout: 180_000 })

const chromiumAbsent = !existsSync(CHROMIUM)
describe.skipIf(chromiumAbsent)(`screenshot-report.ts in Chromium${chromiumAbsent ? ` (SKIPPED: ${CHROMIUM} is absent; apt-get install -y chromium)` : ''}`, () => {
  it('renders a report with a failure and one with 1,000 targets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drill-screenshot-'))
    for (const [name, report] of [['partial', partialFailureReport()], ['large', largeReport(1000)]] as const) {
      const html = join(dir, `${name}.html`)
      const out = join(dir, `${name}.png`)
      await writeFile(html, renderHtml(report, history, { redact: name === 'large' }))
      const { stdout } = await screenshot(html, out)
      expect(stdout.trim()).toBe(out)
      expect((await stat(out)).size).toBeGreaterThan(10_000)
      const ink = measurePngInk(await readFile(out))
      expect(ink).toMatchObject({ width: 1400, height: 1000 })
      expect(ink.inkShare).toBeGreaterThan(0.05)
    }
  })

  it('fails on a page without the timeline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'drill-screenshot-'))
    await writeFile(join(dir, 'blank.html'), '<!DOCTYPE html><html><body></body></html>')
    const failure = await screenshot(join(dir, 'blank.html'), join(dir, 'blank.png')).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    )
    expect(failure?.code).toBe(1)
    expect(failure?.stderr).toContain('the screenshot is blank')
    expect(failure?.stderr).toContain('the DOM has no timeline SVG')
  })
})
