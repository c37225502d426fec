/**
 * A reader that goes away: `killswitch status | head`, a `tee` or log shipper that dies while a halt runs. The
 * command must finish what it started — a halt that stopped half-way because its terminal closed would leave
 * agents running — and exit with its own code, not crash on EPIPE or hang on output it can no longer write.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { observable, ROOT, startHarness, type Harness } from './harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.sandbox.stop()
})

/** Runs the CLI with stdout and stderr on pipes whose reading ends are closed at once; resolves with the exit. */
function runWithClosedOutput(args: string[], env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/run.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.destroy()
  child.stderr!.destroy()
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    }),
  )
}

describe('output whose reader is gone', () => {
  it('--help exits 0', async () => {
    expect(await runWithClosedOutput(['--help'], {})).toEqual({ code: 0, signal: null })
  })

  it('a halt still halts every target, records its end, and exits with its own code', async () => {
    const refund = (key: string) => key.includes('refund')
    // Human output: progress lines on stderr from the first step on, so writes fail while targets are in flight.
    const exit = await runWithClosedOutput(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'reader gone', '--yes'], h.env)
    expect(exit).toEqual({ code: 0, signal: null })

    const after = observable(h.sandbox)
    const functions = Object.keys(after.lambda).filter(refund)
    expect(functions.length).toBeGreaterThan(0)
    for (const k of functions) expect(after.lambda[k]).toBe(0)
    const workloads = Object.keys(after.workloads).filter(refund)
    expect(workloads.length).toBeGreaterThan(0)
    for (const k of workloads) expect(after.workloads[k]!.replicas).toBe(0)
    expect(after.flags['agents/production/refund-agents-enabled']).toBe(false)

    // The journal closed the halt: status sees the scope halted, and restore puts everything back.
    const status = await h.cli(['status', '--json'])
    expect(status.code).toBe(0)
    expect(JSON.stringify(status.json.result)).toContain('class=refund')
    const restore = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'reader back', '--yes', '--json'])
    expect(restore.code).toBe(0)
    expect(observable(h.sandbox).flags['agents/production/refund-agents-enabled']).toBe(true)
  })
})
