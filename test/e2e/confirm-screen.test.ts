/**
 * The confirmation prompt as the operator sees it: the CLI on a real terminal (tmux), the screen read back with
 * `tmux capture-pane`. The prompt and the whole list of what will be halted stay on screen while the operator
 * reads them, and a step that cannot be resolved is shown first and does not stop the rest (the same rule as --yes).
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, observable, ROOT, startHarness, type Harness } from './harness.js'

const run = promisify(execFile)
let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h?.sandbox.stop()
})

const screen = async (session: string) => (await run('tmux', ['capture-pane', '-p', '-t', session])).stdout
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs the CLI in a detached tmux session sized like a terminal; its exit code goes to a file. */
async function onScreen(args: string[]) {
  const session = `ks-${randomUUID().slice(0, 8)}`
  const dir = await mkdtemp(join(tmpdir(), 'confirm-screen-'))
  const codeFile = join(dir, 'code')
  const env = Object.entries({ ...h.env, PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', TERM: 'xterm-256color' }).flatMap(([k, v]) => ['-e', `${k}=${v}`])
  const command = `cd ${ROOT} && ${process.execPath} ${BIN} ${args.map((a) => `'${a}'`).join(' ')}; echo $? > ${codeFile}; sleep 30`
  await run('tmux', ['new-session', '-d', '-s', session, '-x', '220', '-y', '60', ...env, command])
  const waitFor = async (text: string) => {
    for (let i = 0; i < 200; i++) {
      const shown = await screen(session)
      if (shown.includes(text)) return shown
      await sleep(100)
    }
    throw new Error(`"${text}" never appeared on screen:\n${await screen(session)}`)
  }
  const exitCode = async () => {
    for (let i = 0; i < 300; i++) {
      const text = await readFile(codeFile, 'utf8').catch(() => '')
      if (text.trim() !== '') return Number(text.trim())
      await sleep(100)
    }
    throw new Error(`the CLI did not exit:\n${await screen(session)}`)
  }
  return {
    session,
    waitFor,
    exitCode,
    type: (text: string) => run('tmux', ['send-keys', '-t', session, text, 'Enter']),
    interrupt: () => run('tmux', ['send-keys', '-t', session, 'C-c']),
    close: () => run('tmux', ['kill-session', '-t', session]).catch(() => undefined),
  }
}

describe('the confirmation prompt on a terminal', () => {
  it('stays on screen, with every step and its targets, while the operator reads it', async () => {
    const before = JSON.stringify(observable(h.sandbox))
    const term = await onScreen(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'screen'])
    try {
      await term.waitFor('Type class=refund to halt')
      // Longer than the progress block's redraw (100 ms): a redraw would have moved up over the prompt by now.
      await sleep(800)
      const shown = await screen(term.session)
      expect(shown).toContain('About to HALT class=refund (runbook agents-sandbox):')
      for (const kind of ['flagOff', 'denyAll', 'scaleToZero', 'lambdaConcurrencyZero']) expect(shown).toMatch(new RegExp(`\\(${kind}\\): \\d+ target\\(s\\)`))
      expect(shown).toContain('Type class=refund to halt')
      expect(JSON.stringify(observable(h.sandbox))).toBe(before)
    } finally {
      await term.close()
    }
  })

  it('shows a step that cannot be resolved first, and on confirmation halts the others (exit 2), as --yes does', async () => {
    const text = await readFile(join(ROOT, 'runbooks/sandbox.yaml'), 'utf8')
    const file = join(await mkdtemp(join(tmpdir(), 'confirm-unresolved-')), 'runbook.yaml')
    await writeFile(file, text.replace('denyAll: { roles: { tags: { agent-class: "${class}" } } }', 'denyAll: { roles: { tags: { agent-class: "nobody-${class}" } } }'))
    const term = await onScreen(['halt', '--runbook', file, '--scope', 'class=support', '--reason', 'screen unresolved'])
    try {
      const shown = await term.waitFor('Type class=support to halt')
      const lines = shown.split('\n')
      const first = lines.findIndex((l) => l.includes('About to HALT class=support'))
      expect(lines[first + 1]).toMatch(/✗ denyAll \(denyAll\) CANNOT be halted: No IAM role with tags agent-class=nobody-support/)
      await term.type('class=support')
      expect(await term.exitCode()).toBe(2)
      const after = observable(h.sandbox)
      expect(Object.entries(after.lambda).filter(([k]) => k.includes('support')).every(([, v]) => v === 0)).toBe(true)
      expect(after.flags['agents/production/support-agents-enabled']).toBe(false)
    } finally {
      await term.close()
    }
  })

  it('Ctrl-C at the prompt declines: exit 4, nothing changed, no lock and no unfinished halt left behind', async () => {
    const before = JSON.stringify(observable(h.sandbox))
    const term = await onScreen(['halt', '--runbook', h.runbook, '--scope', 'class=research', '--reason', 'ctrl-c at the prompt'])
    try {
      await term.waitFor('Type class=research to halt')
      await term.interrupt()
      expect(await term.exitCode()).toBe(4)
      expect(JSON.stringify(observable(h.sandbox))).toBe(before)
      expect(await readdir(h.stateDir)).not.toContain('lock')
      const status = await h.cli(['status', '--json'])
      expect(status.json.result.unfinished).toEqual([])
    } finally {
      await term.close()
    }
  })
})
