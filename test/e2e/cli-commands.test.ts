/** The smaller commands end to end: validate, plan, sandbox's lifecycle, and --help. */
import { spawn } from 'node:child_process'
import { mkdtemp, writeFile, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROOT, runCli, startHarness, type Harness } from './harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.sandbox.stop()
})

describe('validate', () => {
  it('accepts the example runbooks', async () => {
    const r = await runCli(['validate', '--runbook', 'runbooks/agents-prod.yaml', '--json'], {})
    expect(r.code).toBe(0)
    expect(r.json.result).toMatchObject({ valid: true, scopes: ['agent', 'class', 'global'] })
  })

  it('lists every problem with file, line and path, exit 3, no stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'validate-'))
    const file = join(dir, 'bad.yaml')
    const text = (await readFile(join(ROOT, 'runbooks/agents-prod.yaml'), 'utf8'))
      .replace('slo: { agent: 10s, class: 30s, global: 60s }', 'slo: { agent: 10s, class: 30 seconds, global: 60s }')
      .replace('flags: [agents-enabled]', 'flags: ["${agent}-enabled"]')
    await writeFile(file, text)
    const r = await runCli(['validate', '--runbook', file], {})
    expect(r.code).toBe(3)
    const line = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1
    expect(r.stdout).toContain(`${file}:${line('30 seconds')}:`)
    expect(r.stdout).toContain('slo.class: a duration is a number with ms, s or m, like 30s; got "30 seconds"')
    expect(r.stdout).toContain(`${file}:${line('${agent}-enabled')}:`)
    expect(r.stdout).toContain('${agent} cannot be resolved in the global scope')
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at /)
  })

  it('an unknown flag is a usage error with exit 3', async () => {
    const r = await runCli(['halt', '--runbook', 'runbooks/sandbox.yaml', '--scope', 'global', '--bogus'], {})
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('--bogus')
  })
})

describe('plan', () => {
  it('shows targets, live state and a prediction, and changes nothing', async () => {
    const before = JSON.stringify(h.sandbox.state())
    const r = await h.cli(['plan', '-r', h.runbook, '-s', 'class=support', '--json'])
    expect(r.code).toBe(0)
    const plan = r.json.result
    expect(plan.steps.map((s: { kind: string }) => s.kind)).toEqual(['flagOff', 'denyAll', 'scaleToZero', 'lambdaConcurrencyZero'])
    expect(plan.steps[3].targets.map((t: { currentText: string }) => t.currentText)).toContain('unreserved')
    expect(plan.prediction.timeToHaltMs).toBeGreaterThan(0)
    expect(plan.prediction.withinSlo).toBe(true)
    const after = JSON.parse(JSON.stringify(h.sandbox.state()))
    const strip = (s: any) => JSON.stringify({ ...s, launchdarkly: { ...s.launchdarkly, openStreams: 0 } })
    expect(strip(after)).toBe(strip(JSON.parse(before)))
  })
})

describe('sandbox command', () => {
  it('prints the client settings, serves the emulated planes, and stops cleanly on Ctrl-C', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), 'sandbox', '--runbook', 'runbooks/sandbox.yaml', '--json'], { cwd: ROOT })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (c) => (stderr += c))
    const settings = await new Promise<any>((resolve, reject) => {
      child.stdout.on('data', (c) => {
        stdout += c
        try {
          resolve(JSON.parse(stdout))
        } catch {
          // more to come
        }
      })
      child.once('exit', () => reject(new Error(`sandbox exited early: ${stderr}`)))
    })
    expect(settings.env).toMatchObject({ AWS_ENDPOINT_URL_LAMBDA: settings.url, KILLSWITCH_LAUNCHDARKLY_STREAM_URI: settings.url })
    expect(settings.env.KUBECONFIG).toMatch(/kubeconfig$/)
    const state = (await (await fetch(`${settings.url}/_sandbox/state`)).json()) as { aws: { accounts: object } }
    expect(Object.keys(state.aws.accounts)).toEqual(expect.arrayContaining(['111122223333', '444455556666']))
    const unknown = await fetch(`${settings.url}/no/such/api`)
    expect(unknown.status).toBe(404)
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    child.kill('SIGINT')
    expect(await exited).toBe(0)
    expect(stderr).toContain('killswitch sandbox stopped')
  })
})

describe('help', () => {
  it('documents the exit codes and the environment variables', async () => {
    const r = await runCli(['halt', '--help'], {})
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('EXIT CODES')
    expect(r.stdout).toContain('KILLSWITCH_RUNBOOK')
    expect(r.stdout).toContain('--override-authority')
  })
})
