/**
 * Crash recovery, end to end: the CLI is killed (SIGKILL, no clean-up) between a journal write and its mutation,
 * between two targets, and in the middle of a restore. Running the same command again must finish the job, and
 * the final restore must leave every resource exactly as it was before the first halt.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { observable, startHarness, type Harness } from './harness.js'

let h: Harness
beforeEach(async () => {
  h = await startHarness('runbooks/sandbox.yaml', { agentsPerClass: 3 })
})
afterEach(async () => {
  await h?.sandbox.stop()
})

const halt = (env: Record<string, string> = {}) => h.cli(['halt', '-r', h.runbook, '-s', 'class=research', '--yes', '--json'], env)
const restore = (env: Record<string, string> = {}) => h.cli(['restore', '-r', h.runbook, '-s', 'class=research', '--reason', 'recovered', '--yes', '--json'], env)

describe('crash recovery', () => {
  for (const point of ['journaled:1', 'journaled:5', 'applied:1', 'applied:7']) {
    it(`resumes a halt killed at ${point} and restores exactly`, async () => {
      const before = observable(h.sandbox)
      const crashed = await halt({ KILLSWITCH_CRASH_AT: point })
      expect(crashed.signal).toBe('SIGKILL')
      const status = await h.cli(['status', '--json'])
      expect(status.json.result.unfinished).toEqual([expect.objectContaining({ action: 'halt', scope: 'class=research' })])

      const resumed = await halt()
      expect(resumed.code).toBe(0)
      expect(resumed.json.result.status).toBe('halted')
      expect(resumed.json.result.warnings.join('\n')).toContain('resuming after an unfinished halt class=research')
      // Snapshots written before the crash are kept, not replaced by the halted state read after it.
      for (const t of resumed.json.result.targets) {
        expect(JSON.stringify(t.before)).not.toMatch(/"reservedConcurrency":0|"replicas":0/)
      }

      const restored = await restore()
      expect(restored.code).toBe(0)
      expect(restored.json.result.status).toBe('restored')
      const after = observable(h.sandbox)
      expect(after.lambda).toEqual(before.lambda)
      expect(after.iam).toEqual(before.iam)
      expect(after.workloads).toEqual(before.workloads)
      expect(after.flags).toEqual(before.flags)
    })
  }

  it('finishes a restore killed half-way when run again', async () => {
    const before = observable(h.sandbox)
    expect((await halt()).code).toBe(0)
    const crashed = await restore({ KILLSWITCH_CRASH_AT: 'restored:2' })
    expect(crashed.signal).toBe('SIGKILL')
    const again = await restore()
    expect(again.code).toBe(0)
    expect(again.json.result.targets.some((t: { status: string }) => t.status === 'already')).toBe(true)
    expect(observable(h.sandbox)).toMatchObject({ lambda: before.lambda, iam: before.iam, workloads: before.workloads, flags: before.flags })
    const trail = await h.cli(['audit', 'verify', '--json'])
    expect(trail.json.result.ok).toBe(true)
  })
})
