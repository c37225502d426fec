/**
 * A real drill against the sandbox, reported in every format: the environment holds credentials (a LaunchDarkly
 * API token, an SDK key, an AWS secret key) and none of them may reach a report; with redaction, none of the
 * sandbox's resource names either.
 */
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPorts } from '../../src/cli/ports.js'
import { drill, type DrillReport } from '../../src/core/drill.js'
import { loadRunbook } from '../../src/core/runbook/load.js'
import { parseScope } from '../../src/core/scope.js'
import { writeDrillReports, type DrillReportPaths } from '../../src/reports/write.js'
import { seedFromRunbook } from '../../src/sandbox/fleet.js'
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js'

const FAKE_LD_TOKEN = 'api-secret-123'

let sandbox: Sandbox
let report: DrillReport
let stateDir: string
let secrets: string[]
const savedEnv = { ...process.env }

beforeAll(async () => {
  const loaded = await loadRunbook(join(import.meta.dirname, '../../runbooks/sandbox.yaml'))
  const seed = seedFromRunbook(loaded.runbook, { agentsPerClass: 2, podGraceSeconds: 1 })
  sandbox = await startSandbox({ seed: { ...seed, launchdarkly: { projects: {}, ...seed.launchdarkly, apiTokens: [FAKE_LD_TOKEN] } } })
  expect(sandbox.env.LD_API_TOKEN).toBe(FAKE_LD_TOKEN)
  Object.assign(process.env, sandbox.env)
  secrets = [FAKE_LD_TOKEN, sandbox.env.AWS_SECRET_ACCESS_KEY!, ...Object.entries(sandbox.env).filter(([k]) => k.startsWith('LD_SDK_KEY_')).map(([, v]) => v)]
  expect(secrets.length).toBeGreaterThanOrEqual(3)
  stateDir = await mkdtemp(join(tmpdir(), 'drill-state-'))
  const ports = createPorts({ credentials: loaded.runbook.credentials, stateDir, emit: () => undefined })
  report = await drill({ loaded, scope: parseScope('class=refund', loaded.runbook), reason: 'report test', trigger: 'ci', verifyTimeoutMs: 30_000 }, ports)
})

afterAll(async () => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key]
  Object.assign(process.env, savedEnv)
  await sandbox?.stop()
})

async function contents(paths: DrillReportPaths): Promise<string[]> {
  return Promise.all(Object.values(paths).map((p) => readFile(p, 'utf8')))
}

describe('reports of a real sandbox drill', () => {
  it('passed and has targets on every platform', () => {
    expect(report.verdict).toBe('pass')
    expect(new Set(report.halt!.targets.map((t) => t.kind))).toEqual(new Set(['flagOff', 'denyAll', 'scaleToZero', 'lambdaConcurrencyZero']))
  })

  it('holds no secret from the environment, redacted or not', async () => {
    const root = await mkdtemp(join(tmpdir(), 'drill-reports-'))
    const summary = join(root, 'summary.md')
    const written = [
      ...(await contents(await writeDrillReports(report, { dir: join(root, 'plain'), redact: false, stateDir, githubStepSummary: summary }))),
      ...(await contents(await writeDrillReports(report, { dir: join(root, 'redacted'), redact: true, stateDir }))),
      await readFile(summary, 'utf8'),
      await readFile(join(stateDir, 'drills', 'history.jsonl'), 'utf8'),
    ]
    expect(written.join('\n')).toContain(report.drillId)
    for (const text of written) for (const secret of secrets) expect(text).not.toContain(secret)
  })

  it('shows none of the sandbox resource names when redacted', async () => {
    const root = await mkdtemp(join(tmpdir(), 'drill-reports-'))
    const plain = (await contents(await writeDrillReports(report, { dir: join(root, 'plain'), redact: false, stateDir }))).join('\n')
    const redacted = (await contents(await writeDrillReports(report, { dir: join(root, 'redacted'), redact: true, stateDir }))).join('\n')
    const names = new Set<string>()
    for (const t of report.halt!.targets) {
      names.add(t.id)
      names.add(t.label)
      for (const [key, value] of Object.entries(t.locator)) if (['account', 'name', 'key', 'namespace', 'context', 'project', 'environment'].includes(key) && typeof value === 'string') names.add(value)
    }
    names.add(report.runbook.name)
    expect(names.size).toBeGreaterThan(20)
    for (const name of names) {
      const word = new RegExp(`(?<![\\w-])${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![\\w-])`)
      expect(plain).toMatch(word)
      expect(redacted, name).not.toMatch(word)
    }
    expect(redacted).not.toMatch(/(?<![\w-])\d{12}(?![\w-])/)
  })
})
