/**
 * Credential values never reach an output: every credential the CLI holds (a canary AWS secret key, the sandbox's
 * LaunchDarkly API token and SDK key, the Kubernetes tokens of its kubeconfig) is looked for in stdout, stderr, every file of
 * the state directory (journal, audit trail, drill history), every drill report and every notification the
 * sandbox received — after a drill that succeeds and after failures. A credential with a line ending is refused by
 * the name of its variable.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from './harness.js'

let h: Harness
const canary = (what: string) => `${what}-CANARY-${randomUUID().replace(/-/g, '')}`
const AWS_SECRET = canary('awssecret')

beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.sandbox.stop()
})

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])
  return Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), 'utf8')))
}

/** Every place a credential could leak to, as one text. */
async function everything(outputs: string[], reportDir?: string): Promise<string> {
  return [...outputs, ...(await filesUnder(h.stateDir)), ...(reportDir ? await filesUnder(reportDir) : []), JSON.stringify(h.sandbox.state())].join('\n')
}

/** The credentials this run holds: the canaries, and the sandbox's SDK key and Kubernetes token. */
async function secrets(): Promise<string[]> {
  const kubeconfig = await readFile(h.env.KUBECONFIG!, 'utf8')
  const kubeTokens = [...kubeconfig.matchAll(/token: (\S+)/g)].map((m) => m[1]!)
  // The sandbox accepts only its own LaunchDarkly token: that value is the planted one.
  return [h.env.LD_API_TOKEN!, AWS_SECRET, h.env.LD_SDK_KEY_PRODUCTION!, ...kubeTokens].filter((s) => s.length >= 8)
}

describe('credentials in outputs', () => {
  it('a drill that succeeds leaves no credential in any output, record, report or notification', async () => {
    const reportDir = await mkdtemp(join(tmpdir(), 'secrets-reports-'))
    const r = await h.cli(['drill', '--runbook', h.runbook, '--scope', 'class=refund', '--report-dir', reportDir, '--json'], { AWS_SECRET_ACCESS_KEY: AWS_SECRET })
    expect(r.json.error, r.stderr).toBeNull()
    expect(r.code, JSON.stringify({ error: r.json.result.error, warnings: r.json.result.halt?.warnings, mism: r.json.result.mismatches })).toBe(0)
    const text = await everything([r.stdout, r.stderr], reportDir)
    for (const secret of await secrets()) expect(text.includes(secret), `${secret.slice(0, 12)}… found`).toBe(false)
  })

  it('a token with a line ending is refused by its variable name, and its value appears nowhere', async () => {
    const pasted = `${canary('pasted')}\n`
    const r = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'class=support', '--reason', 'pasted token', '--yes', '--json'], { LD_API_TOKEN: pasted, AWS_SECRET_ACCESS_KEY: AWS_SECRET })
    expect(r.code).toBe(2)
    const step = r.json.result.steps.find((s: { kind: string }) => s.kind === 'flagOff')
    expect(step.error).toContain('the LaunchDarkly API access token in environment variable LD_API_TOKEN contains whitespace or a control character')
    const text = await everything([r.stdout, r.stderr])
    for (const secret of [pasted.trim(), ...(await secrets())]) expect(text.includes(secret), `${secret.slice(0, 12)}… found`).toBe(false)
  })
})
