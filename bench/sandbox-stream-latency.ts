/**
 * How long a LaunchDarkly flag change takes to reach a streaming server SDK through the sandbox: the sandbox runs
 * on the instant profile, one flag is flipped FLIPS times with REST semantic patches, and each sample is the time
 * from sending the PATCH to the SDK's `update:<key>` event. Prints p50 / p95 / max and PASS when every sample
 * (the max) is within TARGET_MS, FAIL otherwise; exits 1 on FAIL.
 *
 * Run: node bench/sandbox-stream-latency.ts
 *
 * Node runs this file by stripping its types, but the sandbox sources use `.js` import specifiers and TypeScript
 * parameter properties, which plain type stripping cannot load; the module hooks below map the specifiers to the
 * `.ts` files and transform them, so the benchmark runs the sources without a build.
 */
import { existsSync, readFileSync } from 'node:fs'
import { registerHooks, stripTypeScriptTypes } from 'node:module'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const FLIPS = 50
const TARGET_MS = 100
const PROJECT = 'agents'
const FLAG = 'refund-agent-enabled'
const API_TOKEN = 'api-bench-token'

function isProjectSource(url: string): boolean {
  return url.startsWith('file:') && url.endsWith('.ts') && !url.includes('/node_modules/')
}

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL && isProjectSource(context.parentURL)) {
      const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL)
      if (!existsSync(new URL(specifier, context.parentURL)) && existsSync(candidate)) {
        return { url: candidate.href, format: 'module', shortCircuit: true }
      }
    }
    return nextResolve(specifier, context)
  },
  load(url, context, nextLoad) {
    if (!isProjectSource(url)) return nextLoad(url, context)
    const source = readFileSync(fileURLToPath(url), 'utf8')
    return { format: 'module', source: stripTypeScriptTypes(source, { mode: 'transform', sourceUrl: url }), shortCircuit: true }
  },
})

const { startSandbox } = await import('../src/sandbox/server.js')
const { init, basicLogger } = await import('@launchdarkly/node-server-sdk')

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const sandbox = await startSandbox({
  profile: 'instant',
  seed: {
    launchdarkly: {
      apiTokens: [API_TOKEN],
      projects: { [PROJECT]: { environments: { production: { sdkKey: 'sdk-bench-production' } }, flags: [{ key: FLAG, on: { production: true } }] } },
    },
  },
})
const client = init(sandbox.env.LD_SDK_KEY_PRODUCTION!, {
  baseUri: sandbox.env.KILLSWITCH_LAUNCHDARKLY_BASE_URI,
  streamUri: sandbox.env.KILLSWITCH_LAUNCHDARKLY_STREAM_URI,
  eventsUri: sandbox.env.KILLSWITCH_LAUNCHDARKLY_EVENTS_URI,
  stream: true,
  sendEvents: false,
  diagnosticOptOut: true,
  logger: basicLogger({ level: 'none' }),
})

const samples: number[] = []
try {
  await client.waitForInitialization({ timeout: 10 })
  for (let flip = 0; flip < FLIPS; flip++) {
    const kind = flip % 2 === 0 ? 'turnFlagOff' : 'turnFlagOn'
    const updateSeen = once(client, `update:${FLAG}`)
    const sentAt = performance.now()
    const response = fetch(`${sandbox.url}/api/v2/flags/${PROJECT}/${FLAG}`, {
      method: 'PATCH',
      headers: { Authorization: API_TOKEN, 'Content-Type': 'application/json; domain-model=launchdarkly.semanticpatch' },
      body: JSON.stringify({ environmentKey: 'production', comment: `bench flip ${flip}`, instructions: [{ kind }] }),
    })
    await updateSeen
    samples.push(performance.now() - sentAt)
    const { status } = await response
    if (status !== 200) throw new Error(`PATCH ${kind} answered ${status}`)
  }
} finally {
  client.close()
  await sandbox.stop()
}

const sorted = [...samples].sort((a, b) => a - b)
const p50 = percentile(sorted, 50)
const p95 = percentile(sorted, 95)
const max = sorted[sorted.length - 1]!
const verdict = max <= TARGET_MS ? 'PASS' : 'FAIL'
console.log(`sandbox LaunchDarkly stream latency (REST patch sent -> SDK update), profile instant, ${FLIPS} flips`)
console.log(`p50 ${p50.toFixed(2)} ms  p95 ${p95.toFixed(2)} ms  max ${max.toFixed(2)} ms  target max <= ${TARGET_MS} ms: ${verdict}`)
process.exitCode = verdict === 'PASS' ? 0 : 1
