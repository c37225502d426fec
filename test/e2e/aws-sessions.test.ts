/**
 * One invocation, one set of AWS sessions: the authority check, the notifier and the Lambda and IAM steps share the
 * CLI's AWS clients, so a halt asks STS who the caller is once and assumes each account's role once, whatever
 * number of steps and notifications use them. Counted in the sandbox's request log of a real CLI halt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHarness, type Harness } from './harness.js'

let h: Harness

beforeAll(async () => {
  h = await startHarness('runbooks/sandbox.yaml', { recordRequests: true })
})
afterAll(async () => {
  await h?.sandbox.stop()
})

describe('AWS sessions of one halt', () => {
  it('asks STS for the caller once and assumes the other account\'s role once', async () => {
    const r = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'sessions', '--yes', '--json'])
    expect(r.code).toBe(0)
    // No notification failed for want of its clients (another user's release must not close them under it).
    expect(r.json.result.warnings).toEqual([])
    const kinds = new Set(r.json.result.targets.map((t: { kind: string }) => t.kind))
    // Both AWS steps ran, with targets in the account reached through the runbook's role, and the halt was announced.
    expect(kinds).toEqual(new Set(['flagOff', 'denyAll', 'scaleToZero', 'lambdaConcurrencyZero']))
    expect(r.json.result.targets.some((t: { id: string }) => t.id.includes(':444455556666:'))).toBe(true)
    const actions = h.sandbox.requests().map((q) => q.action)
    expect(actions.filter((a) => a === 'Publish').length).toBeGreaterThanOrEqual(2)
    expect(actions.filter((a) => a === 'GetCallerIdentity')).toHaveLength(1)
    expect(actions.filter((a) => a === 'AssumeRole')).toHaveLength(1)
  })
})
