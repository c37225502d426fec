// Renders an HTML drill report in headless Chromium, saves a screenshot, and checks the rendering: the PNG is not
// blank and the DOM holds the timeline with one bar per target and the SLO line. Exit 0 when it renders, 1 when
// it does not, 2 on bad usage or a missing browser.
// Run: npx tsx scripts/screenshot-report.ts <report.html> <out.png>   (browser: $CHROMIUM_PATH or /usr/bin/chromium)
import { execFile } from 'node:child_process'
import { access, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { checkRenderedDom, checkScreenshot } from '../src/reports/screenshot-check.js'

const WINDOW = { width: 1400, height: 1000 }
const BROWSER_TIMEOUT_MS = 90_000
/** Headless, offline, and with a throw-away profile: the browser reaches nothing and keeps nothing. */
const BROWSER_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  `--window-size=${WINDOW.width},${WINDOW.height}`,
]

const run = promisify(execFile)

async function chromium(browser: string, args: string[]): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'killswitch-chromium-'))
  try {
    const { stdout } = await run(browser, [...BROWSER_FLAGS, `--user-data-dir=${profile}`, ...args], {
      timeout: BROWSER_TIMEOUT_MS,
      maxBuffer: 256 * 1024 * 1024,
    })
    return stdout
  } finally {
    await rm(profile, { recursive: true, force: true })
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!
}

async function main(argv: string[]): Promise<number> {
  const [htmlArg, outArg] = argv
  if (!htmlArg || !outArg) {
    process.stderr.write('usage: npx tsx scripts/screenshot-report.ts <report.html> <out.png>\n')
    return 2
  }
  const browser = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
  try {
    await access(browser)
  } catch {
    process.stderr.write(`no browser at ${browser}: install it (apt-get install -y chromium) or set CHROMIUM_PATH\n`)
    return 2
  }
  const page = pathToFileURL(resolve(htmlArg)).href
  const out = resolve(outArg)

  const problems: string[] = []
  // A screenshot left by an earlier run must not pass for this one.
  await rm(out, { force: true })
  try {
    await chromium(browser, [`--screenshot=${out}`, page])
    problems.push(...checkScreenshot(await readFile(out), WINDOW))
  } catch (error) {
    problems.push(`no screenshot of ${page}: ${firstLine(error)}`)
  }
  try {
    problems.push(...checkRenderedDom(await chromium(browser, ['--dump-dom', page])))
  } catch (error) {
    problems.push(`no DOM of ${page}: ${firstLine(error)}`)
  }

  if (problems.length > 0) {
    process.stderr.write(`the report did not render:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`)
    return 1
  }
  process.stdout.write(`${out}\n`)
  return 0
}

process.exitCode = await main(process.argv.slice(2))
