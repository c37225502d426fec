/**
 * End-to-end harness: a sandbox seeded from a runbook, and the real CLI (bin/run.js over dist/) run as a child
 * process with the sandbox's settings in its environment — the production code path, reaching the sandbox only
 * through the standard endpoint variables and a kubeconfig.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadRunbook } from '../../src/core/runbook/load.js'
import { sandboxEnvironment } from '../../src/sandbox/attach.js'
import { seedFromRunbook } from '../../src/sandbox/fleet.js'
import type { ProfileOverrides } from '../../src/sandbox/realism.js'
import { parseSeed, type Seed } from '../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js'

export const ROOT = new URL('../..', import.meta.url).pathname
export const BIN = join(ROOT, 'bin/run.js')

/** The CLI child's environment: PATH and HOME from this process, nothing else of it, then `env`. */
export function cliEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env }
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The parsed --json envelope, when stdout is one. */
  json: any
}

export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  if (!existsSync(join(ROOT, 'dist/commands/halt.js'))) throw new Error('dist/ is missing: run `npm run build` (npm test does)')
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env), timeout: 120_000 }, (error, stdout, stderr) => {
      let json: unknown
      try {
        json = JSON.parse(stdout)
      } catch {
        json = undefined
      }
      resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr, json })
    })
    if (input !== undefined) child.stdin?.end(input)
    else child.stdin?.end()
  })
}

export interface Harness {
  sandbox: Sandbox
  seed: Seed
  env: Record<string, string>
  stateDir: string
  runbook: string
  cli(args: string[], extraEnv?: Record<string, string>): Promise<CliResult>
}

export async function startHarness(
  runbookPath = 'runbooks/sandbox.yaml',
  options: { agentsPerClass?: number; principals?: Record<string, string>; overrides?: ProfileOverrides; recordRequests?: boolean; random?: () => number } = {},
): Promise<Harness> {
  const runbook = join(ROOT, runbookPath)
  const loaded = await loadRunbook(runbook)
  const generated = seedFromRunbook(loaded.runbook, { agentsPerClass: options.agentsPerClass ?? 3, podGraceSeconds: 1 })
  const seed = parseSeed({ ...generated, aws: { ...generated.aws, principals: options.principals ?? {} } })
  const sandbox = await startSandbox({ seed, overrides: options.overrides, recordRequests: options.recordRequests, random: options.random })
  const stateDir = await mkdtemp(join(tmpdir(), 'killswitch-e2e-'))
  const env = { ...sandboxEnvironment(sandbox, loaded.runbook, seed), KILLSWITCH_STATE_DIR: stateDir }
  return {
    sandbox,
    seed,
    env,
    stateDir,
    runbook,
    cli: (args, extraEnv = {}) => runCli(args, { ...env, ...extraEnv }),
  }
}

/** What a halt changes and a restore must put back, read from the sandbox's inspection state. */
export function observable(sandbox: Sandbox) {
  const state = sandbox.state() as any
  const lambda: Record<string, number | null> = {}
  const iam: Record<string, unknown> = {}
  for (const [account, a] of Object.entries<any>(state.aws.accounts)) {
    for (const [region, fns] of Object.entries<any>(a.lambda)) {
      for (const [name, fn] of Object.entries<any>(fns)) lambda[`${account}/${region}/${name}`] = fn.reservedConcurrency
    }
    for (const [name, role] of Object.entries<any>(a.iam.roles)) iam[`${account}/${name}`] = role.inlinePolicies
  }
  const workloads: Record<string, { replicas: number; annotations: Record<string, string> }> = {}
  const pods: Record<string, number> = {}
  for (const [ns, n] of Object.entries<any>(state.kubernetes)) {
    for (const kind of ['deployments', 'statefulsets']) {
      for (const [name, w] of Object.entries<any>(n[kind] ?? {})) workloads[`${ns}/${kind}/${name}`] = { replicas: w.replicas, annotations: w.annotations }
    }
    for (const pod of n.pods ?? []) pods[`${ns}/${pod.owner}`] = (pods[`${ns}/${pod.owner}`] ?? 0) + 1
  }
  const flags: Record<string, boolean> = {}
  for (const [project, p] of Object.entries<any>(state.launchdarkly.projects)) {
    for (const [env, e] of Object.entries<any>(p.environments)) {
      for (const [key, f] of Object.entries<any>(e.flags)) flags[`${project}/${env}/${key}`] = f.on
    }
  }
  return { lambda, iam, workloads, pods, flags }
}
