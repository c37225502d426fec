/**
 * The time-to-halt benchmark: for each fleet size, a fresh sandbox in its own process, one `killswitch halt
 * --scope global` measured from outside (spawn → first mutation in the sandbox's log, peak RSS, requests per
 * rate-limit bucket) and from inside (the report's timeToHaltMs and breakdown), compared with the lower bound the
 * platforms allow; repeated small halts for the start-up median; and the shell runbook an on-call engineer would
 * write, sequential and 16 at a time. Prints a table, writes bench/results.json and bench/RESULTS.md.
 *
 *   npm run bench -- [--sizes 10,100,1000] [--instant-sizes 10000] [--skip-shell] [--runs 7]
 *                    [--shell-sizes 10,100] [--instant-timeout-s 150]
 *
 * Everything listens on and talks to 127.0.0.1 only. Every child has a time-out and is ended by its own pid, so the
 * run stops by itself.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { PROFILES, type ProfileName } from '../src/sandbox/realism.js'
import type { RequestLogEntry } from '../src/sandbox/server.js'
import { benchAgentIds, flagKey, writeBenchFleet, type BenchFleet } from './fleet.js'
import { countFleet, lowerBound, type LowerBound } from './lower-bound.js'
import { countByBucket, firstMutationAt, type BucketName } from './request-log.js'

const ROOT = resolve(import.meta.dirname, '..')
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx')
const SANDBOX_START_TIMEOUT_MS = 60_000

const { values: flags } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10,100,1000' },
    'instant-sizes': { type: 'string', default: '10000' },
    'shell-sizes': { type: 'string', default: '10,100' },
    'skip-shell': { type: 'boolean', default: false },
    runs: { type: 'string', default: '7' },
    'instant-timeout-s': { type: 'string', default: '150' },
  },
})
const sizesOf = (list: string) => list.split(',').map((s) => s.trim()).filter(Boolean).map(Number)
const realisticSizes = sizesOf(flags.sizes)
const instantSizes = sizesOf(flags['instant-sizes'])
const shellSizes = flags['skip-shell'] ? [] : sizesOf(flags['shell-sizes'])
const startupRuns = Math.max(1, Number(flags.runs))
const instantTimeoutMs = Number(flags['instant-timeout-s']) * 1000

const epochNow = () => performance.timeOrigin + performance.now()
const log = (line: string) => process.stderr.write(`${line}\n`)

interface SandboxProcess {
  url: string
  env: Record<string, string>
  child: ChildProcess
  requests(): Promise<RequestLogEntry[]>
  stop(): Promise<void>
}

async function startSandboxProcess(fleet: BenchFleet, profile: ProfileName): Promise<SandboxProcess> {
  const child = spawn(TSX, [join(ROOT, 'bench', 'sandbox-process.ts'), fleet.runbookPath, fleet.seedPath, profile], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const line = await new Promise<string>((resolveLine, reject) => {
    let buffered = ''
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      reject(new Error(`the sandbox did not start within ${SANDBOX_START_TIMEOUT_MS / 1000} s`))
    }, SANDBOX_START_TIMEOUT_MS)
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const end = buffered.indexOf('\n')
      if (end >= 0) {
        clearTimeout(timer)
        resolveLine(buffered.slice(0, end))
      }
    })
    child.once('exit', (code) => reject(new Error(`the sandbox exited with ${code} before it started`)))
  })
  const { url, env } = JSON.parse(line) as { url: string; env: Record<string, string> }
  if (!url.startsWith('http://127.0.0.1:')) throw new Error(`the sandbox is not on loopback: ${url}`)
  return {
    url,
    env,
    child,
    requests: async () => (await (await fetch(`${url}/_sandbox/requests`)).json()) as RequestLogEntry[],
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done()
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        child.once('exit', () => {
          clearTimeout(timer)
          done()
        })
        child.kill('SIGTERM')
      }),
  }
}

/** The environment a child gets: PATH and HOME from here, nothing that could point a client elsewhere. */
function childEnv(sandboxEnv: Record<string, string>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(AWS_|KILLSWITCH_|LD_|KUBECONFIG$|HTTPS?_PROXY$|NO_PROXY$)/i.test(key)),
  )
  return { ...inherited, ...sandboxEnv, NO_COLOR: '1', ...extra }
}

/** Peak RSS in KiB of a live process, from /proc (used when a run is cut off before its exit hook runs). */
function liveMaxRssKiB(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) : undefined
  } catch {
    return undefined
  }
}

interface HaltReportView {
  status: string
  timeToHaltMs: number | null
  breakdown: { startupMs: number; resolveMs: number; confirmMs: number; applyMs: number; verifyMs: number }
  steps: { name: string; kind: string; targets: number; status: string; appliedMs: number | null; verifiedMs: number | null }[]
  targets: { status: string; error?: string }[]
}

interface HaltRun {
  profile: ProfileName
  agents: number
  exitCode: number | null
  timedOut: boolean
  wallMs: number
  report?: HaltReportView
  /** Spawn → first mutating request at the sandbox. */
  firstMutationMs?: number
  peakRssMb?: number
  requests: Record<BucketName, number>
  targetStatuses: Record<string, number>
  /** Distinct errors of failed targets (at most five), with how many targets had each. */
  failures: { error: string; targets: number }[]
  bound: LowerBound
}

async function runHalt(fleet: BenchFleet, profile: ProfileName, timeoutMs: number): Promise<HaltRun> {
  const sandbox = await startSandboxProcess(fleet, profile)
  const workDir = await mkdtemp(join(tmpdir(), 'killswitch-bench-halt-'))
  const rssFile = join(workDir, 'max-rss')
  try {
    // The CLI as an operator runs it: the executable, so its shebang's node flags apply; the probe rides NODE_OPTIONS.
    const args = ['halt']
    args.push('--runbook', fleet.runbookPath, '--scope', 'global', '--yes', '--json', '--state-dir', join(workDir, 'state'), '--reason', 'benchmark')
    // stdout goes to a file, not a pipe: the CLI ends with process.exit on a non-zero exit code, which cuts a large
    // --json result short on a pipe (see RESULTS.md); a file is written synchronously.
    const stdoutFile = join(workDir, 'stdout.json')
    const stdoutFd = openSync(stdoutFile, 'w')
    const spawnedAt = epochNow()
    const child = spawn(join(ROOT, 'bin', 'run.js'), args, {
      cwd: ROOT,
      env: childEnv(sandbox.env, { KILLSWITCH_BENCH_RSS_FILE: rssFile, NODE_OPTIONS: `--import=${join(ROOT, 'bench', 'record-max-rss.mjs')}` }),
      stdio: ['ignore', stdoutFd, 'pipe'],
    })
    closeSync(stdoutFd)
    let stderr = ''
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
    let timedOut = false
    let cutOffRssKiB: number | undefined
    const timer = setTimeout(() => {
      timedOut = true
      cutOffRssKiB = liveMaxRssKiB(child.pid!)
      child.kill('SIGKILL')
    }, timeoutMs)
    const exitCode = await new Promise<number | null>((done) => child.once('exit', (code) => done(code)))
    const wallMs = epochNow() - spawnedAt
    clearTimeout(timer)
    const stdout = await readFile(stdoutFile, 'utf8')
    const entries = await sandbox.requests()
    const first = firstMutationAt(entries)
    let report: HaltReportView | undefined
    try {
      report = (JSON.parse(stdout) as { result: HaltReportView }).result
    } catch {
      if (!timedOut) log(`halt output was not JSON (exit ${exitCode}): ${stderr.slice(-1000)}`)
    }
    const rssKiB = timedOut ? cutOffRssKiB : Number((await readFile(rssFile, 'utf8').catch(() => 'NaN')).split(' ')[0])
    const targetStatuses: Record<string, number> = {}
    const failures = new Map<string, number>()
    for (const t of report?.targets ?? []) {
      targetStatuses[t.status] = (targetStatuses[t.status] ?? 0) + 1
      if (t.error) failures.set(t.error, (failures.get(t.error) ?? 0) + 1)
    }
    return {
      profile,
      agents: fleet.agents,
      exitCode,
      timedOut,
      wallMs,
      ...(report ? { report } : {}),
      ...(first !== undefined ? { firstMutationMs: first - spawnedAt } : {}),
      ...(rssKiB !== undefined && Number.isFinite(rssKiB) ? { peakRssMb: rssKiB / 1024 } : {}),
      requests: countByBucket(entries),
      targetStatuses,
      failures: [...failures].slice(0, 5).map(([error, targets]) => ({ error, targets })),
      bound: lowerBound(countFleet(fleet.seed), PROFILES[profile]),
    }
  } finally {
    await sandbox.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

interface ShellRun {
  agents: number
  parallelism: number
  wallMs: number
  failedCalls: number
  calls: number
  timedOut: boolean
}

/** The targets the on-call engineer is handed, one "KIND NAME" line each, as the seed generated them. */
function shellTargets(fleet: BenchFleet): string[] {
  const lines: string[] = []
  for (const account of Object.values(fleet.seed.aws?.accounts ?? {})) {
    for (const fn of Object.values(account.lambda ?? {}).flat()) lines.push(`lambda ${fn.name}`)
    for (const role of account.iam?.roles ?? []) if (role.path === '/agents/') lines.push(`role ${role.name}`)
  }
  for (const ns of Object.values(fleet.seed.kubernetes?.namespaces ?? {})) {
    for (const d of ns.deployments ?? []) lines.push(`deployment ${d.name}`)
    for (const s of ns.statefulsets ?? []) lines.push(`statefulset ${s.name}`)
  }
  for (const id of benchAgentIds(fleet.agents)) lines.push(`flag ${flagKey(id)}`)
  return lines
}

async function runShell(fleet: BenchFleet, parallelism: number, timeoutMs: number): Promise<ShellRun> {
  const sandbox = await startSandboxProcess(fleet, 'realistic')
  const workDir = await mkdtemp(join(tmpdir(), 'killswitch-bench-shell-'))
  try {
    const targets = shellTargets(fleet)
    const targetsFile = join(workDir, 'targets')
    await writeFile(targetsFile, targets.join('\n') + '\n')
    const started = epochNow()
    const child = spawn('bash', [join(ROOT, 'bench', 'shell-runbook.sh'), targetsFile, String(parallelism)], {
      cwd: workDir,
      env: childEnv(sandbox.env, { SANDBOX_URL: sandbox.url, HOME: workDir, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      process.kill(-child.pid!, 'SIGKILL')
    }, timeoutMs)
    await new Promise<void>((done) => child.once('exit', () => done()))
    clearTimeout(timer)
    const wallMs = epochNow() - started
    const failedCalls = Number(stdout.trim())
    if (failedCalls > 0) log(`shell runbook: ${failedCalls} failed call(s); last stderr: ${stderr.slice(-600)}`)
    return { agents: fleet.agents, parallelism, wallMs, failedCalls, calls: targets.length, timedOut }
  } finally {
    await sandbox.stop()
    await rm(workDir, { recursive: true, force: true })
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const fixed = (n: number | undefined, digits = 1) => (n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits))
const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? '—' : (ms / 1000).toFixed(1))

function machine() {
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8' }).trim()
    } catch {
      return 'unknown'
    }
  }
  return {
    nproc: Number(run('nproc', [])),
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    awsCli: run('aws', ['--version']),
    kubectl: run('kubectl', ['version', '--client']).split('\n')[0],
    commit: run('git', ['rev-parse', 'HEAD']),
    dirty: run('git', ['status', '--porcelain', '--', 'src', 'bin']) !== '',
    date: new Date().toISOString(),
  }
}

// ---- the run ----

// Read before the runs: `npm run bench` built dist/ from the tree as it is now, so that is what was measured.
const env = machine()
const benchDir = await mkdtemp(join(tmpdir(), 'killswitch-bench-'))
const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim()
const halts: HaltRun[] = []
const startup: { profile: ProfileName; runs: HaltRun[] }[] = []
const shells: ShellRun[] = []
const smallest = Math.min(10, ...realisticSizes)
try {
  for (const [profile, sizes] of [['realistic', realisticSizes], ['instant', instantSizes]] as const) {
    for (const agents of sizes) {
      const fleet = await writeBenchFleet(join(benchDir, `${profile}-${agents}`), agents)
      const bound = lowerBound(countFleet(fleet.seed), PROFILES[profile])
      const timeoutMs = profile === 'instant' ? instantTimeoutMs : Math.min(1_200_000, 120_000 + 3 * bound.boundMs)
      log(`halt: ${agents} agents on ${profile} (bound ${seconds(bound.boundMs)} s, time-out ${seconds(timeoutMs)} s)`)
      const run = await runHalt(fleet, profile, timeoutMs).catch((error: Error) => {
        log(`  → not measured: ${error.message}`)
        return undefined
      })
      if (!run) continue
      log(`  → ${run.report?.status ?? (run.timedOut ? 'cut off' : 'no report')}, time-to-halt ${seconds(run.report?.timeToHaltMs)} s, peak ${fixed(run.peakRssMb)} MB`)
      halts.push(run)
    }
  }
  for (const profile of ['realistic', 'instant'] as const) {
    const fleet = await writeBenchFleet(join(benchDir, `startup-${smallest}`), smallest)
    const runs: HaltRun[] = []
    for (let i = 0; i < startupRuns; i++) runs.push(await runHalt(fleet, profile, 120_000))
    log(`start-up on ${profile}: median ${fixed(median(runs.map((r) => r.firstMutationMs ?? NaN)), 0)} ms to the first mutation`)
    startup.push({ profile, runs })
  }
  for (const agents of shellSizes) {
    const fleet = await writeBenchFleet(join(benchDir, `shell-${agents}`), agents)
    for (const parallelism of [1, 16]) {
      log(`shell runbook: ${agents} agents, ${parallelism === 1 ? 'sequential' : `${parallelism} at a time`}`)
      const run = await runShell(fleet, parallelism, 1_200_000)
      log(`  → ${seconds(run.wallMs)} s, ${run.failedCalls} failed call(s)`)
      shells.push(run)
    }
  }
} finally {
  await rm(benchDir, { recursive: true, force: true })
}

// ---- figures and verdicts ----

const at = (profile: ProfileName, agents: number) => halts.find((h) => h.profile === profile && h.agents === agents)
const ratio = (h: HaltRun | undefined) => (h?.report?.timeToHaltMs ? h.report.timeToHaltMs / h.bound.boundMs : undefined)
const startupMedian = (profile: ProfileName) => {
  const runs = startup.find((s) => s.profile === profile)?.runs ?? []
  return runs.length ? { firstMutationMs: median(runs.map((r) => r.firstMutationMs ?? NaN)), cliStartupMs: median(runs.map((r) => r.report?.breakdown.startupMs ?? NaN)), samples: runs.map((r) => Math.round(r.firstMutationMs ?? NaN)) } : undefined
}
const shellAt = (agents: number, parallelism: number) => shells.find((s) => s.agents === agents && s.parallelism === parallelism)

type Verdict = { target: string; measured: string; verdict: 'PASS' | 'FAIL' | 'NOT MEASURED' }
const verdicts: Verdict[] = []
const judge = (target: string, measured: number | undefined, pass: (m: number) => boolean, text: (m: number) => string) =>
  verdicts.push(measured === undefined || !Number.isFinite(measured) ? { target, measured: '—', verdict: 'NOT MEASURED' } : { target, measured: text(measured), verdict: pass(measured) ? 'PASS' : 'FAIL' })

judge('time-to-halt ≤ 1.10 × lower bound, 1,000 agents, realistic', ratio(at('realistic', 1000)), (r) => r <= 1.1, (r) => `${r.toFixed(2)} × (${seconds(at('realistic', 1000)!.report!.timeToHaltMs)} s vs ${seconds(at('realistic', 1000)!.bound.boundMs)} s)`)
judge('start-up to first mutating request ≤ 150 ms (median), realistic', startupMedian('realistic')?.firstMutationMs, (m) => m <= 150, (m) => `${m.toFixed(0)} ms`)
judge('start-up to first mutating request ≤ 150 ms (median), instant', startupMedian('instant')?.firstMutationMs, (m) => m <= 150, (m) => `${m.toFixed(0)} ms`)
judge('peak memory ≤ 150 MB at 1,000 agents', at('realistic', 1000)?.peakRssMb ?? at('instant', 1000)?.peakRssMb, (m) => m <= 150, (m) => `${m.toFixed(0)} MB`)
const memoryPoints = [100, 1000, 10000].map((n) => ({ n, mb: (at('realistic', n) ?? at('instant', n))?.peakRssMb })).filter((p): p is { n: number; mb: number } => p.mb !== undefined)
const growth = memoryPoints.slice(1).map((p, i) => ({ from: memoryPoints[i]!.n, to: p.n, fleetRatio: p.n / memoryPoints[i]!.n, memoryRatio: p.mb / memoryPoints[i]!.mb }))
judge('memory grows no faster than linearly to 10,000', growth.length && memoryPoints.at(-1)!.n === 10000 ? Math.max(...growth.map((g) => g.memoryRatio / g.fleetRatio)) : undefined, (r) => r <= 1, (r) => growth.map((g) => `${g.from}→${g.to}: ×${g.memoryRatio.toFixed(2)} for ×${g.fleetRatio}`).join('; '))
const speedup = (parallelism: number) => {
  const shell = shellAt(100, parallelism)
  const halt = at('realistic', 100)
  return shell && halt?.report?.timeToHaltMs ? shell.wallMs / halt.report.timeToHaltMs : undefined
}
judge('≥ 10× faster than the sequential shell runbook, 100 agents', speedup(1), (s) => s >= 10, (s) => `${s.toFixed(1)}× (${seconds(shellAt(100, 1)!.wallMs)} s vs ${seconds(at('realistic', 100)!.report!.timeToHaltMs)} s)`)
judge('≥ 3× faster than the parallel (16) shell runbook, 100 agents', speedup(16), (s) => s >= 3, (s) => `${s.toFixed(1)}× (${seconds(shellAt(100, 16)!.wallMs)} s vs ${seconds(at('realistic', 100)!.report!.timeToHaltMs)} s)`)

const haltRows = halts.map((h) => {
  const counts = h.bound
  return `| ${h.profile} | ${h.agents} | ${h.report?.status ?? (h.timedOut ? `cut off at ${seconds(h.wallMs)} s` : `exit ${h.exitCode}`)} | ${seconds(h.report?.timeToHaltMs)} | ${seconds(counts.boundMs)} (${counts.boundingBucket}) | ${fixed(ratio(h), 2)} | ${fixed(h.firstMutationMs, 0)} | ${fixed(h.report?.breakdown.startupMs, 0)} | ${fixed(h.report?.breakdown.resolveMs, 0)} | ${fixed(h.peakRssMb, 0)} | ${Object.entries(h.targetStatuses).map(([s, n]) => `${n} ${s}`).join(', ') || '—'} |`
})
const requestRows = halts.map((h) => {
  const cells = h.bound.buckets
    .filter((b) => b.bucket !== 'ld-global')
    .map((b) => `${h.requests[b.bucket as BucketName]} / ${b.minimumRequests}`)
  return `| ${h.profile} | ${h.agents} | ${cells.join(' | ')} | ${h.requests.other} |`
})
const boundRows = halts.map((h) => `| ${h.profile} | ${h.agents} | ${h.bound.buckets.map((b) => seconds(b.boundMs)).join(' | ')} |`)
const stepRows = halts.flatMap((h) => (h.report?.steps ?? []).map((s) => `| ${h.profile} | ${h.agents} | ${s.name} (${s.kind}) | ${s.targets} | ${s.status} | ${seconds(s.appliedMs)} | ${seconds(s.verifiedMs)} |`))
const shellRows = shells.map((s) => {
  const halt = at('realistic', s.agents)
  const k = halt?.report?.timeToHaltMs ? s.wallMs / halt.report.timeToHaltMs : undefined
  return `| ${s.agents} | ${s.parallelism === 1 ? 'sequential' : `xargs -P ${s.parallelism}`} | ${s.calls} | ${s.failedCalls} | ${seconds(s.wallMs)}${s.timedOut ? ' (cut off)' : ''} | ${seconds(halt?.report?.timeToHaltMs)} | ${fixed(k, 1)}× |`
})
const growthRows = (['realistic', 'instant'] as const).flatMap((profile) => {
  const points = halts.filter((h) => h.profile === profile && h.report?.timeToHaltMs)
  return points.slice(1).map((p, i) => {
    const prev = points[i]!
    return `| ${profile} | ${prev.agents} → ${p.agents} | ×${p.agents / prev.agents} | ×${fixed(p.report!.timeToHaltMs! / prev.report!.timeToHaltMs!, 2)} | ×${fixed(p.bound.boundMs / prev.bound.boundMs, 2)} | ×${fixed((p.peakRssMb ?? NaN) / (prev.peakRssMb ?? NaN), 2)} |`
  })
})
const su = (profile: ProfileName) => startupMedian(profile)

const markdown = `# Time-to-halt benchmark

Generated by \`bench/run.ts\`; do not edit by hand (rerun instead).

- Command: \`${command}\` (from the repository root)
- Machine: ${env.nproc} CPUs (${env.cpuModel}), ${env.memoryGiB} GiB; Node ${env.node}; ${env.awsCli}; kubectl ${env.kubectl}
- killswitch commit \`${env.commit}\`${env.dirty ? ' (with uncommitted changes in src/ or bin/)' : ''}; ${env.date}
- Fleet (\`bench/fleet.ts\`): one class, N agents, each with a Lambda function (tag managed-by=agents; a third reserved at 5), an IAM
  role under /agents/ (half with an inline policy already), a workload labelled managed=true (a third are OrderedReady
  StatefulSets; replicas 1, pod grace period 3 s) and its own flag (one in five already off), all in one AWS
  account and region (the rate limits are per account and region, so that is the hardest case for a given N).
  The runbook's global scope halts all four: flagOff (the N flags listed), denyAll (pathPrefix), scaleToZero
  (label selector), lambdaConcurrencyZero (tag). Sandbox in its own process; the CLI is
  \`bin/run.js halt --scope global --yes --json\` (the executable, so its shebang's node flags apply) with
  \`NODE_OPTIONS=--import=bench/record-max-rss.mjs\`, a fresh sandbox per halt.

## Targets

| target | measured | verdict |
|---|---|---|
${verdicts.map((v) => `| ${v.target} | ${v.measured} | ${v.verdict} |`).join('\n')}

## Halts

Times in seconds unless marked. Time-to-halt is the CLI's own (process start → last target verified). First
mutation: spawn → first PUT/PATCH/DELETE or Put*/Delete* at the sandbox (ms); CLI start-up and resolve: the report's
breakdown (ms). Peak: the CLI process's max RSS.

| profile | agents | status | time-to-halt | lower bound (bucket) | ratio | first mutation ms | CLI start-up ms | resolve ms | peak MB | targets |
|---|---|---|---|---|---|---|---|---|---|---|
${haltRows.join('\n')}

Steps (seconds since process start):

| profile | agents | step | targets | status | applied | verified |
|---|---|---|---|---|---|---|
${stepRows.join('\n')}

${halts.some((h) => h.failures.length) ? `Failed targets (distinct errors):\n\n${halts.flatMap((h) => h.failures.map((f) => `- ${h.profile} ${h.agents}: ${f.targets} × ${f.error}`)).join('\n')}\n\n` : ''}### Requests per rate-limit bucket: engine / minimum

| profile | agents | lambda-control | lambda-get | tagging | iam | ld-get | ld-patch | kubernetes | other (STS, SNS, SDK) |
|---|---|---|---|---|---|---|---|---|---|
${requestRows.join('\n')}

### Lower bound per bucket (seconds)

| profile | agents | ${halts[0]?.bound.buckets.map((b) => b.bucket).join(' | ') ?? ''} |
|---|---|${halts[0]?.bound.buckets.map(() => '---').join('|') ?? ''}|
${boundRows.join('\n')}

The formula (\`bench/lower-bound.ts\`), with F functions, R roles, W workloads, G flags of which G_on are on, and
L_api the profile's mean latency of that API:

- Lambda control plane (15 requests/s, burst 15, per account and region): F PutFunctionConcurrency →
  max(0, F − 15) / 15 + L_lambda.
- Lambda GetFunction (100/s, burst 100): 2F (snapshot read, read-back) → max(0, 2F − 100) / 100 + L_lambda.
- Tagging GetResources: ⌈F / 100⌉ pages in sequence, no limit → ⌈F / 100⌉ × L_tagging.
- IAM (20/s per account, burst 20), R roles to deny among R_acct in the account: ⌈R_acct / 1000⌉ GetAccountAuthorizationDetails pages
  (resolution and snapshot: paths, tags and inline policies of every role) + R PutRolePolicy + ⌈R_acct / 1000⌉ pages (read-back) →
  max(0, n − 20) / 20 + L_iam.
- LaunchDarkly REST (fixed 10 s windows: 100 per route, 500 per token): list pages ⌈G / 100⌉ (snapshot) +
  ⌈G_on / 100⌉ (read-back), PATCH G_on, both together on the token → (⌈n / window limit⌉ − 1) × 10 s + L_ld + stream push delay.
- Kubernetes (no limit in the sandbox): L_k8s + controller delay + pod grace period.
- Lower bound = the largest term: buckets proceed in parallel. Start-up is not in the bound: it is the CLI's cost.

## Start-up (${startupRuns} runs, ${smallest} agents, fresh sandbox each)

| profile | median spawn → first mutation | median CLI breakdown.startupMs | samples (ms) |
|---|---|---|---|
${(['realistic', 'instant'] as const).map((p) => `| ${p} | ${fixed(su(p)?.firstMutationMs, 0)} ms | ${fixed(su(p)?.cliStartupMs, 0)} ms | ${su(p)?.samples.join(', ') ?? '—'} |`).join('\n')}

## The shell runbook (realistic profile)

\`bench/shell-runbook.sh\`: one \`aws lambda put-function-concurrency\`, \`aws iam put-role-policy\`, \`kubectl scale\`
or \`curl\` PATCH (semantic patch turnFlagOff) per target, from start to the last command done. It takes no
snapshot, verifies nothing (pods may still be terminating when it ends) and is handed the target lists: all of that
favours it. Run at ${shellSizes.join(' and ') || 'no'} agents only: 1,000 sequential would take well over ten minutes.

| agents | mode | calls | failed | shell s | killswitch time-to-halt s | killswitch faster by |
|---|---|---|---|---|---|---|
${shellRows.join('\n')}

## Growth with the fleet

| profile | agents | fleet | time-to-halt | lower bound | peak memory |
|---|---|---|---|---|---|
${growthRows.join('\n')}
${instantSizes.length ? `\nInstant-profile halts are cut off after ${instantTimeoutMs / 1000} s (\`--instant-timeout-s\`); a cut-off run's peak memory is the process's VmHWM at that moment (from /proc), a lower bound on its peak.\n\nThe instant sandbox answers at once and enforces no rate limit, so its lower bound is the pod grace period alone. The CLI cannot tell a sandbox from a platform and paces every request at the documented rates all the same, so an instant halt takes what those rates allow (at 10,000 agents, 8,000 flag patches at 10/s: 800 s). The instant row is there for memory growth and for correctness at that scale, not for its ratio.\n` : ''}`

// Each halt's report without its per-target list: at 10,000 agents that list alone is 30 MB of JSON; the statuses
// per kind and the distinct failures are kept (targetStatuses, failures).
const withoutTargets = (h: HaltRun) => ({ ...h, report: h.report && { ...h.report, targets: undefined } })
const results = { machine: env, command, halts: halts.map(withoutTargets), startup, shells, verdicts, growth }
await writeFile(join(ROOT, 'bench', 'results.json'), JSON.stringify(results, null, 2) + '\n')
await writeFile(join(ROOT, 'bench', 'RESULTS.md'), markdown)
process.stdout.write(`${verdicts.map((v) => `${v.verdict.padEnd(12)} ${v.target}: ${v.measured}`).join('\n')}\n\n`)
process.stdout.write(haltRows.join('\n') + '\n')
