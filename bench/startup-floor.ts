/**
 * What no halt can start faster than, on this machine: the medians (fresh processes, compile cache warm, as
 * bin/run.js runs) of Node's own start, and of loading what must be loaded before the first change may leave —
 * the AWS SDK's STS client and credential chain (no change before the caller's identity is checked against the
 * runbook's authority) and the runbook loader (YAML and its schema: no change before the runbook is known valid) —
 * plus the CLI framework, and the sandbox's latency for the reads that precede the first change. Prints a table;
 * the sum is the floor that the start-up target (150 ms) is compared with in the note of issue 5.
 *
 *   npx tsx bench/startup-floor.ts [--runs 9]
 */
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { PROFILES } from '../src/sandbox/realism.js'

const ROOT = resolve(import.meta.dirname, '..')
const { values: flags } = parseArgs({ options: { runs: { type: 'string', default: '9' } } })
const runs = Number(flags.runs)

/** Milliseconds from the process's start until `imports` have loaded, in a fresh `node` with the compile cache on. */
function timeTo(imports: string[]): number {
  const script = [
    "const { enableCompileCache } = await import('node:module'); enableCompileCache?.()",
    ...imports.map((m) => `await import(${JSON.stringify(m)})`),
    'process.stdout.write(String(performance.now()))',
  ].join('\n')
  return Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' }))
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

function measure(imports: string[]): number {
  timeTo(imports) // fills the compile cache
  return median(Array.from({ length: runs }, () => timeTo(imports)))
}

const boot = measure([])
const identity = measure(['@aws-sdk/client-sts', '@aws-sdk/credential-providers']) - boot
const runbook = measure([resolve(ROOT, 'dist/core/runbook/load.js')]) - boot
const framework = measure(['@oclif/core/execute']) - boot
const realistic = PROFILES.realistic.apis
// The first change of a flagOff step follows a flag list (LaunchDarkly) and the STS call, sent side by side.
const reads = Math.max(realistic.launchdarkly.latencyMs - realistic.launchdarkly.jitterMs, realistic.sts.latencyMs - realistic.sts.jitterMs)

const rows: [string, number][] = [
  ['Node start (process start → first line of user code)', boot],
  ['STS client + credential chain (identity before any change)', identity],
  ['runbook loader: YAML + schema (validity before any change)', runbook],
  ['CLI framework (@oclif/core)', framework],
  ['fastest reads before the first change, realistic profile (LaunchDarkly list ‖ STS)', reads],
]
console.log(`node ${process.version}, median of ${runs} fresh processes each\n`)
for (const [what, ms] of rows) console.log(`${ms.toFixed(0).padStart(6)} ms  ${what}`)
const floorInstant = boot + identity + runbook
console.log(`\nfloor without the CLI framework: ${floorInstant.toFixed(0)} ms (instant), ${(floorInstant + reads).toFixed(0)} ms (realistic)`)
console.log(`floor with it:                   ${(floorInstant + framework).toFixed(0)} ms (instant), ${(floorInstant + framework + reads).toFixed(0)} ms (realistic)`)
