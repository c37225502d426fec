/**
 * A reader that goes away: `killswitch status | head`, a `tee` or log shipper that dies while a halt runs, the
 * operator's SSH session dropping (SIGHUP) half-way through a halt. The command must finish what it started — a halt
 * that stopped half-way because its terminal closed would leave agents running — and exit with its own code, not
 * crash on EPIPE or hang on output it can no longer write.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, cliEnv, observable, ROOT, startHarness, type Harness } from './harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.sandbox.stop()
})

type Exit = { code: number | null; signal: NodeJS.Signals | null }

/** Starts the CLI with stdout and stderr on pipes (`detached`: in a process group of its own, like a shell's job). */
function spawnCli(args: string[], env: Record<string, string>, detached = false) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached })
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal })
    }),
  )
  /** Closes the reading ends of its stdout and stderr, as a reader that goes away does. */
  const closeOutput = () => {
    child.stdout.destroy()
    child.stderr.destroy()
  }
  /** Resolves with its first progress line: the command runs (and ignores SIGHUP from then on). */
  const started = () => new Promise((resolve) => child.stderr.once('data', resolve))
  return { child, exited, closeOutput, started }
}

/** Runs the CLI with stdout and stderr on pipes whose reading ends are closed at once; resolves with the exit. */
function runWithClosedOutput(args: string[], env: Record<string, string>): Promise<Exit> {
  const run = spawnCli(args, env)
  run.closeOutput()
  return run.exited
}

/** Every Lambda function and workload of the class is halted in the sandbox (and there are some of each). */
function expectClassHalted(name: string): void {
  const after = observable(h.sandbox)
  const functions = Object.keys(after.lambda).filter((k) => k.includes(name))
  expect(functions.length).toBeGreaterThan(0)
  for (const k of functions) expect(after.lambda[k]).toBe(0)
  const workloads = Object.keys(after.workloads).filter((k) => k.includes(name))
  expect(workloads.length).toBeGreaterThan(0)
  for (const k of workloads) expect(after.workloads[k]!.replicas).toBe(0)
}

/** No workload of the class is scaled down yet. */
function expectClassRunning(name: string): void {
  expect(Object.entries(observable(h.sandbox).workloads).filter(([k]) => k.includes(name)).every(([, w]) => w!.replicas > 0)).toBe(true)
}

describe('a terminal or reader that goes away', () => {
  it('--help exits 0', async () => {
    expect(await runWithClosedOutput(['--help'], {})).toEqual({ code: 0, signal: null })
  })

  it('a halt still halts every target, records its end, and exits with its own code', async () => {
    // Human output: progress lines on stderr from the first step on, so writes fail while targets are in flight.
    const exit = await runWithClosedOutput(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'reader gone', '--yes'], h.env)
    expect(exit).toEqual({ code: 0, signal: null })
    expectClassHalted('refund')
    expect(observable(h.sandbox).flags['agents/production/refund-agents-enabled']).toBe(false)

    // The journal closed the halt: status sees the scope halted, and restore puts everything back.
    const status = await h.cli(['status', '--json'])
    expect(status.code).toBe(0)
    expect(JSON.stringify(status.json.result)).toContain('class=refund')
    const restore = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'reader back', '--yes', '--json'])
    expect(restore.code).toBe(0)
    expect(observable(h.sandbox).flags['agents/production/refund-agents-enabled']).toBe(true)
  })

  it('a halt goes on when its terminal hangs up (SIGHUP) half-way', async () => {
    const run = spawnCli(['halt', '--runbook', h.runbook, '--scope', 'class=support', '--reason', 'hangup', '--yes'], h.env)
    await run.started()
    expectClassRunning('support')
    run.child.kill('SIGHUP')
    run.closeOutput()
    expect(await run.exited).toEqual({ code: 0, signal: null })
    expectClassHalted('support')
  })

  /** The CLI on a pseudo-terminal (test/support/pty-hangup.py): answers the prompt with `answer`, or hangs up. */
  function onTerminal(args: string[], prompt: string, answer?: string, hangupAfterMs?: number): Promise<{ prompted: boolean; code: number | null; signal: number | null }> {
    return new Promise((resolve, reject) =>
      execFile(
        'python3',
        [join(ROOT, 'test/support/pty-hangup.py'), process.execPath, BIN, ...args],
        {
          cwd: ROOT,
          env: cliEnv({
            ...h.env,
            PROMPT: prompt,
            ...(answer === undefined ? {} : { ANSWER: answer }),
            ...(hangupAfterMs === undefined ? {} : { HANGUP_AFTER_MS: String(hangupAfterMs) }),
          }),
          timeout: 50_000,
        },
        (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))),
      ),
    )
  }

  it('a confirmation prompt whose terminal hangs up declines: nothing changes, exit 4', async () => {
    const before = JSON.stringify(observable(h.sandbox))
    const args = ['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'hangup at the prompt']
    expect(await onTerminal(args, 'Type class=refund to halt')).toEqual({ prompted: true, code: 4, signal: null })
    expect(JSON.stringify(observable(h.sandbox))).toBe(before)
  })

  it('on a terminal, typing something else than the scope declines, and typing the scope halts', async () => {
    const before = JSON.stringify(observable(h.sandbox))
    const args = ['halt', '--runbook', h.runbook, '--scope', 'class=research', '--reason', 'typed at the prompt']
    expect(await onTerminal(args, 'Type class=research to halt', 'class=refund')).toEqual({ prompted: true, code: 4, signal: null })
    expect(JSON.stringify(observable(h.sandbox))).toBe(before)
    expect(await onTerminal(args, 'Type class=research to halt', 'class=research')).toEqual({ prompted: true, code: 0, signal: null })
    expectClassHalted('research')
  })

  it('an SSH session that drops after the operator confirmed: the halt finishes, exit 0', async () => {
    const args = ['halt', '--runbook', h.runbook, '--scope', 'class=support', '--reason', 'confirmed, then the session dropped']
    const restored = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=support', '--reason', 'again', '--yes', '--json'])
    expect(restored.code).toBe(0)
    expectClassRunning('support')
    expect(await onTerminal(args, 'Type class=support to halt', 'class=support', 200)).toEqual({ prompted: true, code: 0, signal: null })
    expectClassHalted('support')
  })

  it('a hang-up of the whole job (as a terminal sends it) spares a Kubernetes exec plugin running at that moment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'killswitch-hangup-'))
    const plugin = join(dir, 'plugin.sh')
    await writeFile(plugin, `#!/bin/sh\nsleep 1\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"sandbox-breakglass-token"}}'\n`, { mode: 0o755 })
    const kubeconfig = join(dir, 'kubeconfig')
    const original = await readFile(h.env.KUBECONFIG!, 'utf8')
    const withPlugin = original.replace(
      '    token: sandbox-breakglass-token',
      ['    exec:', '      apiVersion: client.authentication.k8s.io/v1', `      command: ${plugin}`, '      interactiveMode: Never'].join('\n'),
    )
    expect(withPlugin).not.toBe(original)
    await writeFile(kubeconfig, withPlugin)
    const run = spawnCli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'hangup during the plugin', '--yes'], { ...h.env, KUBECONFIG: kubeconfig }, true)
    await run.started()
    // The plugin runs for a second from the first Kubernetes request, which leaves with the first progress line.
    await new Promise((resolve) => setTimeout(resolve, 300))
    process.kill(-run.child.pid!, 'SIGHUP')
    run.closeOutput()
    expect(await run.exited).toEqual({ code: 0, signal: null })
    expectClassHalted('refund')
  })
})
