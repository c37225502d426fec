/**
 * Holding a halt, end to end: the CLI against the sandbox while something outside the runbook (here another AWS
 * principal with the Lambda SDK, as an autoscaler or a colleague's script would) puts a function's concurrency back.
 * Asserted on the JSON output, the exit code, status, the SNS messages and the platform's final state.
 */
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, cliEnv, observable, ROOT, startHarness, type Harness } from './harness.js'

let h: Harness
let before: ReturnType<typeof observable>

beforeAll(async () => {
  h = await startHarness('runbooks/sandbox.yaml')
  before = observable(h.sandbox)
})
afterAll(async () => {
  await h?.sandbox.stop()
})

/** A function of the class in the break-glass account, and a Lambda client of someone else pointed at the sandbox. */
async function outsider(cls: string) {
  const { LambdaClient, PutFunctionConcurrencyCommand } = await import('@aws-sdk/client-lambda')
  const key = Object.keys(before.lambda).find((k) => k.startsWith('111122223333/') && k.includes(cls))!
  const name = key.split('/')[2]!
  const lambda = new LambdaClient({ region: 'us-east-1', endpoint: h.sandbox.url, credentials: { accessKeyId: 'AKIASOMEONEELSE00001', secretAccessKey: 'x' } })
  return {
    key,
    name,
    id: `lambda:111122223333:us-east-1:${name}`,
    putBack: (n: number) => lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: n })),
  }
}

async function until(condition: () => Promise<boolean> | boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const lines = async (file: string): Promise<any[]> =>
  (await readFile(join(h.stateDir, file), 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
const haltEnded = async (scope: string) => {
  const records = await lines('journal.jsonl')
  const halts = new Set(records.filter((r) => r.type === 'begin' && r.action === 'halt' && r.scope === scope).map((r) => r.invocation))
  return records.some((r) => r.type === 'end' && halts.has(r.invocation))
}
const snsSubjects = () => ((h.sandbox.state() as any).aws.accounts['111122223333'].sns.messages as any[]).map((m) => m.subject as string)

/** The CLI as a child we can signal; resolves with its exit code and parsed JSON. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(h.env) })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c) => (stdout += c))
  child.stderr.on('data', (c) => (stderr += c))
  const exited = new Promise<{ code: number | null; json: any; stderr: string }>((resolve) =>
    child.once('exit', (code) => {
      // Let the pipes drain before reading them.
      setImmediate(() => resolve({ code, json: stdout ? JSON.parse(stdout) : undefined, stderr }))
    }),
  )
  return { child, exited }
}

describe('halt --hold', () => {
  it('re-applies a function whose concurrency is put back during the hold, and reports the reversion', async () => {
    const fn = await outsider('refund')
    const running = h.cli(['halt', '-r', h.runbook, '-s', 'class=refund', '--reason', 'INC-7 refund loop', '--yes', '--json', '--hold', '6s', '--hold-interval', '300ms'])
    await until(() => haltEnded('class=refund'), 'the halt to end and the hold to begin')
    expect(observable(h.sandbox).lambda[fn.key]).toBe(0)
    await fn.putBack(4)
    const r = await running

    expect(r.code).toBe(0)
    expect(r.json).toMatchObject({ command: 'halt', exitCode: 0, error: null })
    const result = r.json.result
    expect(result).toMatchObject({ status: 'halted', hold: { requestedMs: 6000, intervalMs: 300, ended: 'elapsed' } })
    expect(result.hold.rounds).toBeGreaterThan(5)
    expect(result.reversions).toEqual([expect.objectContaining({ targetId: fn.id, live: { reservedConcurrency: 4 }, liveText: 'reserved=4', by: null, outcome: 're-halted', attempts: 1 })])
    expect(result.targets.find((t: any) => t.id === fn.id)).toMatchObject({ status: 'halted', reversions: 1 })
    expect(result.targets.filter((t: any) => t.reversions !== undefined)).toHaveLength(1)

    const after = observable(h.sandbox)
    expect(after.lambda[fn.key]).toBe(0)
    for (const k of Object.keys(after.lambda).filter((k) => k.includes('refund'))) expect(after.lambda[k]).toBe(0)
    const label = result.targets.find((t: any) => t.id === fn.id).label
    expect(snsSubjects()).toContain(`killswitch re-halted ${label} (class=refund): it was undone`)
    expect(snsSubjects().some((s) => s.startsWith('killswitch hold class=refund ended (elapsed): 1 reversion(s), halted'))).toBe(true)
    expect((await lines('audit.jsonl')).map((a) => a.event).slice(-3)).toEqual(['halt', 'reversion', 'hold'])
  })

  it('rejects a --hold that is not a duration before changing anything', async () => {
    const r = await h.cli(['halt', '-r', h.runbook, '-s', 'class=support', '--yes', '--hold', '10minutes'])
    expect(r.code).toBe(3)
    expect(r.stderr).toContain('--hold "10minutes" is not a duration: write 30s, 10m, 1h or forever')
    expect(observable(h.sandbox).lambda).toMatchObject(Object.fromEntries(Object.entries(before.lambda).filter(([k]) => k.includes('support'))))
  })
})

describe('status and guard', () => {
  it('status shows a function put back after the halt as NOT HALTED', async () => {
    const halted = await h.cli(['halt', '-r', h.runbook, '-s', 'class=support', '--reason', 'INC-8', '--yes', '--json'])
    expect(halted.code).toBe(0)
    const fn = await outsider('support')
    await fn.putBack(3)
    const json = await h.cli(['status', '--runbook', h.runbook, '--json'])
    expect(json.code).toBe(0)
    expect(json.json.result.targets.find((t: any) => t.id === fn.id).live).toEqual({ state: { reservedConcurrency: 3 }, text: 'reserved=3', halted: false, by: null })
    const text = await h.cli(['status', '--runbook', h.runbook])
    expect(text.stdout).toMatch(new RegExp(`${fn.name} .*reserved=3 \\(NOT HALTED\\)`))
  })

  it('guard re-halts it, keeps the scope halted until a restore, then ends by itself', async () => {
    const fn = await outsider('support')
    const guarding = h.cli(['guard', '-r', h.runbook, '-s', 'class=support', '--reason', 'INC-8: keep support down', '--json', '--hold-interval', '300ms'])
    await until(() => observable(h.sandbox).lambda[fn.key] === 0, 'the guard to re-halt the function')
    const restored = await h.cli(['restore', '-r', h.runbook, '-s', 'class=support', '--reason', 'fixed', '--yes', '--json'])
    expect(restored.code).toBe(0)
    expect(restored.json.result.status).toBe('restored')
    const r = await guarding

    expect(r.code).toBe(0)
    expect(r.json).toMatchObject({ command: 'guard', exitCode: 0 })
    expect(r.json.result).toMatchObject({ kind: 'guard', status: 'held', scope: 'class=support', hold: { ended: 'restored', requestedMs: null, intervalMs: 300 } })
    expect(r.json.result.reversions).toEqual([expect.objectContaining({ targetId: fn.id, liveText: 'reserved=3', by: null, outcome: 're-halted' })])
    expect(r.json.result.targets.every((t: any) => t.status === 'released')).toBe(true)
    expect(r.json.result.targets.find((t: any) => t.id === fn.id).reversions).toBe(1)
    const support = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([k]) => k.includes('support')))
    const after = observable(h.sandbox)
    expect(support(after.lambda)).toEqual(support(before.lambda))
    expect(support(after.flags)).toEqual(support(before.flags))
    expect(snsSubjects()).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^killswitch guard class=support started: holding \d+ target\(s\)$/),
        `killswitch re-halted ${r.json.result.targets.find((t: any) => t.id === fn.id).label} (class=support): it was undone`,
        'killswitch guard class=support ended (restored): 1 reversion(s), held',
      ]),
    )
    const events = (await lines('audit.jsonl')).map((a) => a.event)
    expect(events).toEqual(expect.arrayContaining(['guard-started', 'reversion', 'guard', 'restore']))
    expect((await h.cli(['audit', 'verify', '--json'])).json.result.ok).toBe(true)
  })

  it('guard has nothing to guard in a scope that is not halted (exit 3)', async () => {
    const r = await h.cli(['guard', '-r', h.runbook, '-s', 'class=support', '--json'])
    expect(r.code).toBe(3)
    expect(r.json.result).toMatchObject({ status: 'nothing-to-guard' })
    expect(r.json.result.refusal).toContain('nothing is halted under scope class=support')
  })
})

describe('help', () => {
  it('documents --hold, --hold-interval, their variables and the defaults', async () => {
    const haltHelp = await h.cli(['halt', '--help'])
    expect(haltHelp.stdout).toContain('--hold=<value>')
    expect(haltHelp.stdout).toContain('KILLSWITCH_HOLD')
    expect(haltHelp.stdout).toMatch(/Default:\s+no\s+hold/)
    const guardHelp = await h.cli(['guard', '--help'])
    expect(guardHelp.code).toBe(0)
    expect(guardHelp.stdout).toMatch(/--hold-interval=<value>\s+\[default: 2s, env: KILLSWITCH_HOLD_INTERVAL\]/)
    expect(guardHelp.stdout).toMatch(/--hold=<value>\s+\[default: forever, env: KILLSWITCH_HOLD\]/)
    expect(guardHelp.stdout).toContain('EXIT CODES')
  })
})

describe('interrupting a hold', () => {
  it('Ctrl-C ends halt --hold forever with a truthful report, and SIGTERM ends a guard the same way', async () => {
    const held = startCli(['halt', '-r', h.runbook, '-s', 'class=research', '--reason', 'INC-9', '--yes', '--json', '--hold', 'forever', '--hold-interval', '300ms'])
    await until(() => haltEnded('class=research'), 'the halt to end and the hold to begin')
    held.child.kill('SIGINT')
    const halt = await held.exited
    expect(halt.code).toBe(0)
    expect(halt.json.result).toMatchObject({ status: 'halted', hold: { ended: 'interrupted', requestedMs: null }, reversions: [] })
    for (const [k, v] of Object.entries(observable(h.sandbox).lambda).filter(([k]) => k.includes('research'))) expect([k, v]).toEqual([k, 0])

    const guarded = startCli(['guard', '-r', h.runbook, '-s', 'class=research', '--json', '--hold-interval', '300ms'])
    await until(async () => (await lines('audit.jsonl')).filter((a) => a.event === 'guard-started' && a.scope === 'class=research').length === 1, 'the guard to start')
    guarded.child.kill('SIGTERM')
    const guard = await guarded.exited
    expect(guard.code).toBe(0)
    expect(guard.json.result).toMatchObject({ status: 'held', hold: { ended: 'interrupted' } })
    expect(guard.json.result.targets.every((t: any) => t.status === 'halted')).toBe(true)
    expect((await lines('audit.jsonl')).at(-1)).toMatchObject({ event: 'guard', scope: 'class=research', outcome: { status: 'held', ended: 'interrupted' } })
  })
})
