/**
 * The benchmark's fleet: a runbook whose global scope halts every agent on all four platforms, and the sandbox seed
 * that matches it, for a given number of agents.
 *
 * One class, one AWS account, one region: the platforms' rate limits are per account and region (Lambda) and per
 * account (IAM), so one of each is the hardest case for a fleet of a given size and the one whose lower bound is
 * plainest to compute; spreading the fleet over accounts would multiply the allowed rate. Flags are listed one per
 * agent in a single flagOff step, the way a fleet with a kill flag per agent is halted globally; roles are selected
 * by path prefix, workloads by label selector, functions by tag: the selectors a production runbook would use.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseRunbook } from '../src/core/runbook/load.js'
import { agentIds, seedFromRunbook } from '../src/sandbox/fleet.js'
import type { SeedInput } from '../src/sandbox/seed.js'

export const BENCH_CLASS = 'agent'
export const BENCH_ACCOUNT = '111122223333'
export const BENCH_REGION = 'us-east-1'
export const BENCH_NAMESPACE = 'agents'
export const BENCH_PROJECT = 'agents'
export const BENCH_ENVIRONMENT = 'production'
export const BENCH_POLICY_NAME = 'killswitch-deny-all'
/** Pod terminationGracePeriodSeconds: a few seconds, so the grace period shows in the bound without dominating it. */
export const BENCH_POD_GRACE_SECONDS = 3

export function flagKey(agent: string): string {
  return `${agent}-enabled`
}

/** The agent ids the seed generator gives one class of `agents` agents. */
export function benchAgentIds(agents: number): string[] {
  const ids = Array.from({ length: agents }, (_, i) => `${BENCH_CLASS}-${String(i + 1).padStart(String(agents).length, '0')}`)
  return ids
}

export function benchRunbookYaml(agents: number): string {
  const flags = benchAgentIds(agents).map((id) => `          - ${flagKey(id)}`)
  return [
    'apiVersion: killswitch/v1',
    'kind: Runbook',
    'metadata:',
    `  name: bench-${agents}`,
    `  description: Time-to-halt benchmark fleet of ${agents} agents`,
    'authority:',
    `  principals: [arn:aws:iam::${BENCH_ACCOUNT}:role/killswitch-oncall]`,
    'credentials:',
    '  aws:',
    `    region: ${BENCH_REGION}`,
    '  launchdarkly:',
    '    apiTokenEnv: LD_API_TOKEN',
    '    sdkKeyEnv: LD_SDK_KEY_PRODUCTION',
    'slo: { agent: 10s, class: 60s, global: 600s }',
    `classes: [${BENCH_CLASS}]`,
    'scopes:',
    '  global:',
    '    steps:',
    '      - flagOff:',
    `          project: ${BENCH_PROJECT}`,
    `          environment: ${BENCH_ENVIRONMENT}`,
    '          flags:',
    ...flags,
    '      - denyAll: { roles: { pathPrefix: /agents/ } }',
    `      - scaleToZero: { namespace: ${BENCH_NAMESPACE}, selector: "agents.example.com/managed=true" }`,
    '      - lambdaConcurrencyZero:',
    '          functions:',
    '            tags: { managed-by: agents }',
    `            accounts: ["${BENCH_ACCOUNT}"]`,
    `            regions: [${BENCH_REGION}]`,
    '',
  ].join('\n')
}

export interface BenchFleet {
  agents: number
  runbookPath: string
  seedPath: string
  seed: SeedInput
}

/**
 * Writes `runbook.yaml` and `seed.json` for `agents` agents under `dir`. The runbook's selectors give every agent
 * a function tagged managed-by=agents, a role under /agents/, a workload labelled managed=true and its own flag.
 */
export async function writeBenchFleet(dir: string, agents: number): Promise<BenchFleet> {
  await mkdir(dir, { recursive: true })
  const runbookPath = join(dir, 'runbook.yaml')
  const yaml = benchRunbookYaml(agents)
  const runbook = parseRunbook(yaml, runbookPath)
  const generated = agentIds(runbook, agents).get(BENCH_CLASS) ?? []
  if (generated.join() !== benchAgentIds(agents).join()) throw new Error('bench agent ids differ from the seed generator\'s')
  const seed = seedFromRunbook(runbook, { agentsPerClass: agents, replicas: 1, podGraceSeconds: BENCH_POD_GRACE_SECONDS })
  const seedPath = join(dir, 'seed.json')
  await writeFile(runbookPath, yaml)
  await writeFile(seedPath, JSON.stringify(seed))
  return { agents, runbookPath, seedPath, seed }
}
