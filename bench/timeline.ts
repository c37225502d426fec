/**
 * One halt, seen from the sandbox: spawns `bin/run.js halt --scope global` (through its shebang, as operators run it)
 * against a fresh sandbox with the benchmark's fleet, and prints each request's time since spawn, then the report's
 * status and breakdown. For looking at start-up (what leaves first, and when) and for A/B runs of the launcher:
 *
 *   npx tsx bench/timeline.ts [--agents 10] [--profile instant|realistic|faulty] [--match REGEX] [--limit 40]
 *                             ["--node-options=--cpu-prof --cpu-prof-dir=/tmp/prof"] ["--node-args=--expose-gc"]
 *                             ["--halt-args=--verify-timeout 20s"] [--report FILE] [--knob lambda.throttleRate=0.5 ...]
 *
 * `--match` keeps the requests whose "METHOD action-or-path" matches (e.g. '^(PATCH|PUT|POST Put)' for mutations
 * only; the first line is then the start-up to the first mutation). `--node-args` runs `node ARGS bin/run.js` instead
 * of the executable, for V8 flags that NODE_OPTIONS refuses (the shebang's own flags then apply only if repeated):
 * A/B runs of launcher flags. `--halt-args` adds flags to the halt. After the requests, per target kind: the targets'
 * statuses, the last apply and verification (ms since the halt's start) and the longest wait between the two, and the
 * first error; last, the CLI process's peak RSS and CPU time. `--report FILE` keeps the halt's JSON output. `--knob`
 * sets the sandbox's knobs on top of the profile (as `killswitch sandbox --knob`), e.g. injected throttles. Listens on
 * and talks to 127.0.0.1 only.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { PROFILES } from '../src/sandbox/realism.js'
import type { RequestLogEntry } from '../src/sandbox/server.js'
import { writeBenchFleet } from './fleet.js'

const ROOT = resolve(import.meta.dirname, '..')
const { values: flags } = parseArgs({
  options: {
    agents: { type: 'string', default: '10' },
    profile: { type: 'string', default: 'instant' },
    match: { type: 'string' },
    limit: { type: 'string', default: '40' },
    'node-options': { type: 'string' },
    'node-args': { type: 'string' },
    'halt-args': { type: 'string', default: '' },
    report: { type: 'string' },
    knob: { type: 'string', multiple: true, default: [] },
  },
})
if (!(flags.profile! in PROFILES)) throw new Error(`--profile must be one of ${Object.keys(PROFILES).join(', ')}`)

const dir = await mkdtemp(join(tmpdir(), 'killswitch-timeline-'))
const fleet = await writeBenchFleet(dir, Number(flags.agents))
const sandbox = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'bench/sandbox-process.ts'), fleet.runbookPath, fleet.seedPath, flags.profile!, ...flags.knob!], {
  stdio: ['pipe', 'pipe', 'inherit'],
})
try {
  const line = await new Promise<string>((done, fail) => {
    let buffered = ''
    sandbox.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      if (buffered.includes('\n')) done(buffered.slice(0, buffered.indexOf('\n')))
    })
    sandbox.once('exit', (code) => fail(new Error(`the sandbox exited with ${code}`)))
  })
  const { url, env } = JSON.parse(line) as { url: string; env: Record<string, string> }
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(AWS_|KILLSWITCH_|LD_|KUBECONFIG$|NODE_OPTIONS$)/i.test(key)))
  const usageFile = join(dir, 'usage')
  const spawnedAt = performance.timeOrigin + performance.now()
  const launcher = flags['node-args'] === undefined ? [join(ROOT, 'bin/run.js')] : [process.execPath, ...flags['node-args'].split(/\s+/).filter(Boolean), join(ROOT, 'bin/run.js')]
  const cli = spawn(launcher[0]!, [...launcher.slice(1), 'halt', '--runbook', fleet.runbookPath, '--scope', 'global', '--yes', '--json', '--state-dir', join(dir, 'state'), '--reason', 'timeline', ...flags['halt-args']!.split(/\s+/).filter(Boolean)], {
    env: {
      ...inherited,
      ...env,
      NO_COLOR: '1',
      KILLSWITCH_BENCH_RSS_FILE: usageFile,
      NODE_OPTIONS: [`--import=${join(ROOT, 'bench/record-max-rss.mjs')}`, flags['node-options'] ?? ''].join(' ').trim(),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  cli.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
  await new Promise((done) => cli.once('exit', done))
  const requests = ((await (await fetch(`${url}/_sandbox/requests`)).json()) as RequestLogEntry[]).sort((a, b) => a.at - b.at)
  const match = flags.match ? new RegExp(flags.match) : undefined
  for (const r of requests.filter((r) => !match || match.test(`${r.method} ${r.action ?? r.path}`)).slice(0, Number(flags.limit))) {
    const answer = r.status !== undefined && (r.status < 200 || r.status > 299) ? `  → ${r.status}` : ''
    console.log(`${String(Math.round(r.at - spawnedAt)).padStart(7)} ms  ${r.method} ${r.action ?? r.path}${answer}`)
  }
  if (flags.report) await writeFile(flags.report, out)
  const report = JSON.parse(out) as {
    exitCode: number
    result?: {
      status: string
      timeToHaltMs: number | null
      breakdown: unknown
      targets?: { kind: string; status: string; error?: string; timings: { appliedMs?: number; verifiedMs?: number } }[]
    }
  }
  const byKind = new Map<string, { statuses: Map<string, number>; error?: string; lastApplied: number; lastVerified: number; maxLag: number }>()
  for (const t of report.result?.targets ?? []) {
    const kind = byKind.get(t.kind) ?? { statuses: new Map<string, number>(), lastApplied: 0, lastVerified: 0, maxLag: 0 }
    kind.statuses.set(t.status, (kind.statuses.get(t.status) ?? 0) + 1)
    kind.error ??= t.error
    const { appliedMs, verifiedMs } = t.timings
    kind.lastApplied = Math.max(kind.lastApplied, appliedMs ?? 0)
    kind.lastVerified = Math.max(kind.lastVerified, verifiedMs ?? 0)
    if (appliedMs !== undefined && verifiedMs !== undefined) kind.maxLag = Math.max(kind.maxLag, verifiedMs - appliedMs)
    byKind.set(t.kind, kind)
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  for (const [kind, { statuses, error, lastApplied, lastVerified, maxLag }] of byKind) {
    const counts = [...statuses].map(([status, n]) => `${n} ${status}`).join(', ')
    console.log(`${kind}: ${counts}; last applied ${s(lastApplied)}, last verified ${s(lastVerified)}, longest apply→verified ${s(maxLag)}${error ? ` (first error: ${error})` : ''}`)
  }
  console.log(`exit ${report.exitCode}, ${report.result?.status}, time-to-halt ${report.result?.timeToHaltMs} ms, breakdown ${JSON.stringify(report.result?.breakdown)}`)
  // Written by bench/record-max-rss.mjs as the process exits: "<peak RSS KiB> <CPU seconds>".
  const usage = await readFile(usageFile, 'utf8').catch(() => undefined)
  const [rssKiB, cpuSeconds] = usage === undefined ? [] : usage.split(' ').map(Number)
  console.log(`CLI process: peak RSS ${rssKiB === undefined ? '?' : (rssKiB / 1024).toFixed(0)} MB, CPU ${cpuSeconds === undefined ? '?' : cpuSeconds.toFixed(1)} s`)
} finally {
  sandbox.kill('SIGTERM')
  await rm(dir, { recursive: true, force: true })
}
