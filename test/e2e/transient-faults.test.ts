/**
 * A halt and a restore against control planes that fail now and then: the Kubernetes and LaunchDarkly APIs answer
 * 500 to 8% of requests and drop the connection on 4% (sandbox knobs). Every such request is safe to repeat, so
 * the CLI retries it and both commands still end exactly as on a healthy platform. The AWS SDK retries AWS's own
 * transient failures; these are the two clients killswitch writes itself.
 *
 * The sandbox's dice are seeded (4 or 5 faults per run with this seed): with Math.random, a run could draw no fault
 * at all over the few dozen requests of a class=refund halt and restore, prove nothing, and fail the last check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseKnobs } from '../../src/sandbox/realism.js'
import { observable, startHarness, type Harness } from './harness.js'

let h: Harness
let before: ReturnType<typeof observable>

beforeAll(async () => {
  const overrides = parseKnobs(['kubernetes.errorRate=0.08', 'kubernetes.resetRate=0.04', 'launchdarkly.errorRate=0.08', 'launchdarkly.resetRate=0.04'])
  h = await startHarness('runbooks/sandbox.yaml', { overrides, random: seeded(20261202) })
  before = observable(h.sandbox)
})
afterAll(async () => {
  await h?.sandbox.stop()
})

const refund = (key: string) => key.includes('refund')

/** mulberry32: a small seeded generator, uniform in [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('transient failures of the Kubernetes and LaunchDarkly APIs', () => {
  it('halts and restores class=refund exactly, retrying the failed requests', async () => {
    const halted = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'flaky platform', '--yes', '--json'])
    expect(halted.stderr).not.toMatch(/at .*\.js:\d+/)
    expect(halted.json.result.status).toBe('halted')
    expect(halted.code).toBe(0)
    const during = observable(h.sandbox)
    for (const [key, replicas] of Object.entries(during.workloads)) if (refund(key)) expect(replicas.replicas, key).toBe(0)
    expect(Object.keys(during.pods).filter(refund)).toEqual([])
    expect(during.flags['agents/production/refund-agents-enabled']).toBe(false)

    const restored = await h.cli(['restore', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'platform healthy', '--yes', '--json'])
    expect(restored.json.result.status).toBe('restored')
    expect(restored.code).toBe(0)
    const after = observable(h.sandbox)
    expect(after.workloads).toEqual(before.workloads)
    expect(after.flags).toEqual(before.flags)
    expect(after.lambda).toEqual(before.lambda)
    expect(after.iam).toEqual(before.iam)

    // The faults did happen: the sandbox counts what its knobs injected.
    const { injectedFaults } = h.sandbox.state()
    const injected = ['kubernetes', 'launchdarkly'].reduce((n, api) => n + (injectedFaults[api as 'kubernetes']?.errors ?? 0) + (injectedFaults[api as 'kubernetes']?.resets ?? 0), 0)
    expect(injected).toBeGreaterThan(0)
  })
})
