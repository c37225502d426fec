/**
 * Pointed at the wrong state directory, the commands that read what a halt left say so and exit non-zero: an
 * operator who typo'd --state-dir must not read "nothing is halted" or "trail intact: 0 records" as an all-clear.
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './harness.js'

describe('a state directory without state', () => {
  for (const [what, make] of [
    ['does not exist', async () => join(await mkdtemp(join(tmpdir(), 'no-state-')), 'absent')],
    ['is empty', async () => mkdtemp(join(tmpdir(), 'empty-state-'))],
  ] as const) {
    it(`status, audit verify and restore refuse one that ${what}, exit 3, naming the directory and the flag`, async () => {
      const dir = await make()
      for (const args of [
        ['status'],
        ['audit', 'verify'],
        ['restore', '--runbook', 'runbooks/sandbox.yaml', '--scope', 'class=refund', '--reason', 'wrong dir', '--yes'],
      ]) {
        const r = await runCli([...args, '--state-dir', dir, '--json'], {})
        expect(r.code, args.join(' ')).toBe(3)
        expect(r.json.error.message).toContain(`no killswitch state in ${dir}`)
        expect(r.json.error.hint).toContain('--state-dir DIR or KILLSWITCH_STATE_DIR')
      }
    })
  }
})

describe('hints that print a command', () => {
  it('the restore command a halt prints names the state directory it used, and works as printed', async () => {
    const { startHarness } = await import('./harness.js')
    const h = await startHarness()
    try {
      const stateDir = join(await mkdtemp(join(tmpdir(), 'hint state-')), 'team state')
      const halted = await runCli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'hint', '--yes', '--state-dir', stateDir], h.env)
      expect(halted.code).toBe(0)
      const hint = /restore with: killswitch (restore .*) --reason "\.\.\."/.exec(halted.stdout)
      expect(hint?.[1]).toContain(`--state-dir '${stateDir}'`)
      // Run it as printed (the shell's quoting undone by a shell).
      const { execFile } = await import('node:child_process')
      const { BIN, cliEnv, ROOT } = await import('./harness.js')
      const code = await new Promise<number | null>((resolve) => {
        const child = execFile('sh', ['-c', `node ${BIN} ${hint![1]} --reason "hint done" --yes`], { cwd: ROOT, env: cliEnv(h.env) }, () => resolve(child.exitCode))
      })
      expect(code).toBe(0)
    } finally {
      await h.sandbox.stop()
    }
  })
})
