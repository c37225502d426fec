import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { AuditTrail, verifyTrail, type AuditEntry } from '../../src/audit/trail.js'

const entry = (n: number): AuditEntry => ({
  event: 'halt',
  invocation: `h-${n}`,
  invoker: { arn: 'arn:aws:sts::111122223333:assumed-role/killswitch-oncall/alice', account: '111122223333', osUser: 'alice', host: 'laptop' },
  trigger: 'human',
  scope: 'class=refund',
  reason: `incident ${n}`,
  runbook: { name: 'agents-prod', path: 'rb.yaml', digest: 'sha256:abc' },
  outcome: { status: 'halted', timeToHaltMs: 1000 + n },
})

let dir: string
let file: string
const lines = async () => (await readFile(file, 'utf8')).trimEnd().split('\n')
const write = (ls: string[]) => writeFile(file, ls.join('\n') + '\n')

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'audit-'))
  file = join(dir, 'audit.jsonl')
  const trail = new AuditTrail(dir)
  for (let i = 1; i <= 5; i++) await trail.append(entry(i))
})

describe('audit trail', () => {
  it('verifies an untouched trail', async () => {
    expect(await verifyTrail(dir)).toMatchObject({ ok: true, records: 5, problems: [] })
  })

  it('appends from concurrent writers without breaking the chain', async () => {
    const trail = new AuditTrail(dir)
    await Promise.all([6, 7, 8, 9].map((n) => trail.append(entry(n))))
    expect(await verifyTrail(dir)).toMatchObject({ ok: true, records: 9 })
  })

  it('detects an edited record and names it', async () => {
    const ls = await lines()
    ls[2] = ls[2]!.replace('incident 3', 'routine check')
    await write(ls)
    const v = await verifyTrail(dir)
    expect(v.ok).toBe(false)
    expect(v.problems[0]).toMatchObject({ kind: 'edited', seq: 3, line: 3 })
  })

  it('detects a deleted record and names it', async () => {
    const ls = await lines()
    ls.splice(1, 1)
    await write(ls)
    const v = await verifyTrail(dir)
    expect(v.problems[0]).toMatchObject({ kind: 'deleted', seq: 2 })
    expect(v.problems[0]!.message).toContain('record 2 is missing')
  })

  it('detects reordered records', async () => {
    const ls = await lines()
    ;[ls[1], ls[2]] = [ls[2]!, ls[1]!]
    await write(ls)
    const v = await verifyTrail(dir)
    expect(v.ok).toBe(false)
    expect(v.problems.map((p) => p.kind)).toContain('reordered')
  })

  it('detects records cut off the end, through the head anchor', async () => {
    const ls = await lines()
    await write(ls.slice(0, 3))
    const v = await verifyTrail(dir)
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 4 })])
    expect(v.problems[0]!.message).toContain('record 5 was written, the trail ends at record 3')
  })

  it('detects a record re-hashed after an edit, because the chain breaks after it', async () => {
    const { hashRecord } = await import('../../src/audit/trail.js')
    const ls = await lines()
    const record = JSON.parse(ls[1]!)
    record.reason = 'forged'
    const { hash: _old, ...body } = record
    record.hash = hashRecord(body)
    ls[1] = JSON.stringify(record)
    await write(ls)
    const v = await verifyTrail(dir)
    expect(v.problems[0]).toMatchObject({ kind: 'reordered', seq: 3 })
  })
})
