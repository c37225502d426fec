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
import { loadRunbook } from '../../src/core/runbook/load.js'
import { sandboxEnvironment } from '../../src/sandbox/attach.js'
import { ADMIN_TOKEN } from '../../src/sandbox/kubernetes/rbac.js'
import { parseSeed } from '../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js'
import { BIN, cliEnv, observable, ROOT, startHarness, type Harness } from './harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.sandbox.stop()
})

/** Polls `check` every 20 ms until it holds; fails naming `what` after 10 s. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

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
function expectClassHalted(name: string, sandbox: Sandbox = h.sandbox): void {
  const after = observable(sandbox)
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
    // The CLI, like kubectl, hands credentials only to an https:// server, so the plugin must face the sandbox's TLS
    // endpoint, which the sandbox starts when its seed has an RBAC user (the `killswitch-sandbox-tls` cluster).
    const seed = parseSeed({ ...h.seed, kubernetes: { ...h.seed.kubernetes, rbac: { users: [{ name: 'oncall' }] } } })
    const sandbox = await startSandbox({ seed })
    try {
      const written = await readFile(sandbox.kubeconfigPath, 'utf8')
      const server = /- name: killswitch-sandbox-tls\n {2}cluster:\n {4}server: (https:\/\/\S+)\n/.exec(written)?.[1]
      expect(server).toBeDefined()
      const dir = await mkdtemp(join(tmpdir(), 'killswitch-hangup-'))
      const marker = join(dir, 'plugin-ran')
      const plugin = join(dir, 'plugin.sh')
      // Each run appends `started`, then (unless killed during its second of sleep) `finished` and the admin token,
      // which the sandbox accepts on TLS as kubernetes-admin (system:masters).
      await writeFile(
        plugin,
        `#!/bin/sh\necho started >> '${marker}'\nsleep 1\necho finished >> '${marker}'\nprintf '%s' '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${ADMIN_TOKEN}"}}'\n`,
        { mode: 0o755 },
      )
      const kubeconfig = join(dir, 'kubeconfig')
      await writeFile(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          'clusters:',
          '- name: sandbox-tls',
          '  cluster:',
          `    server: ${server}`,
          '    insecure-skip-tls-verify: true',
          'users:',
          '- name: plugin',
          '  user:',
          '    exec:',
          '      apiVersion: client.authentication.k8s.io/v1',
          `      command: ${plugin}`,
          '      interactiveMode: Never',
          'contexts:',
          '- name: sandbox-tls',
          '  context:',
          '    cluster: sandbox-tls',
          '    user: plugin',
          'current-context: sandbox-tls',
          '',
        ].join('\n'),
      )
      const env = { ...sandboxEnvironment(sandbox, (await loadRunbook(h.runbook)).runbook, seed), KILLSWITCH_STATE_DIR: join(dir, 'state'), KUBECONFIG: kubeconfig }
      const run = spawnCli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'hangup during the plugin', '--yes'], env, true)
      // The hang-up comes while the plugin runs: after it started, before its second of sleep is over.
      await waitFor('the exec plugin has started', async () => (await readFile(marker, 'utf8').catch(() => '')).includes('started'))
      process.kill(-run.child.pid!, 'SIGHUP')
      run.closeOutput()
      expect(await run.exited).toEqual({ code: 0, signal: null })
      // The plugin ran to its end despite the hang-up; without it the CLI would have had no credential to send.
      expect((await readFile(marker, 'utf8')).split('\n')).toContain('finished')
      expectClassHalted('refund', sandbox)
    } finally {
      await sandbox.stop()
    }
  })
})
