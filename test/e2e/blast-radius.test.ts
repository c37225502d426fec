/**
 * Selectors that would select everything, names that would leave their URL path, and durations out of range are
 * runbook or usage errors (exit 3, the place named), found by `validate` and refused by `halt` before any change.
 * Through the CLI against the sandbox; the sandbox's final state shows nothing changed.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { observable, ROOT, startHarness, type Harness } from './harness.js'

let h: Harness
let dir: string
beforeAll(async () => {
  h = await startHarness()
  dir = await mkdtemp(join(tmpdir(), 'blast-radius-'))
})
afterAll(async () => {
  await h?.sandbox.stop()
})

/** The sandbox runbook with one replacement made in its text. */
async function variant(name: string, from: string, to: string): Promise<string> {
  const text = await readFile(join(ROOT, 'runbooks/sandbox.yaml'), 'utf8')
  expect(text).toContain(from)
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, text.replace(from, to))
  return file
}

describe('selectors that would select everything', () => {
  it('an empty tag map is a runbook error with its place, and a halt changes nothing', async () => {
    const file = await variant('empty-tags', 'tags: { agent-class: "${class}" }\n            accounts', 'tags: {}\n            accounts')
    const validated = await h.cli(['validate', '--runbook', file, '--json'])
    expect(validated.code).toBe(3)
    expect(validated.json.result.problems).toEqual([
      expect.objectContaining({ path: 'scopes.class.steps[3].lambdaConcurrencyZero.functions.tags', message: expect.stringContaining('an empty tag map matches every resource') }),
    ])

    const before = observable(h.sandbox)
    const halted = await h.cli(['halt', '--runbook', file, '--scope', 'class=refund', '--reason', 'blast radius', '--yes', '--json'])
    expect(halted.code).toBe(3)
    expect(observable(h.sandbox)).toEqual(before)
  })

  it('pathPrefix "/" is a runbook error', async () => {
    const file = await variant('root-path', 'pathPrefix: /agents/', 'pathPrefix: /')
    const validated = await h.cli(['validate', '--runbook', file, '--json'])
    expect(validated.code).toBe(3)
    expect(validated.json.result.problems).toEqual([
      expect.objectContaining({ path: 'scopes.global.steps[1].denyAll.roles.pathPrefix', message: expect.stringContaining('pathPrefix "/" selects every principal in the account') }),
    ])
  })
})

describe('names that become URL paths', () => {
  it('a namespace ".." is a runbook error, not a halt of other namespaces', async () => {
    const file = await variant('dotdot', 'namespace: agents, selector: "agents.example.com/class=${class}"', 'namespace: "..", selector: "agents.example.com/class=${class}"')
    const validated = await h.cli(['validate', '--runbook', file, '--json'])
    expect(validated.code).toBe(3)
    expect(validated.json.result.problems).toEqual([
      expect.objectContaining({ path: 'scopes.class.steps[2].scaleToZero.namespace', message: expect.stringContaining('a Kubernetes namespace is lower-case letters, digits and -') }),
    ])
  })
})

describe('durations out of range', () => {
  for (const value of ['0s', '99999999999999999999999s']) {
    it(`--verify-timeout ${value} is a usage error and nothing changes`, async () => {
      const before = observable(h.sandbox)
      const r = await h.cli(['halt', '--runbook', h.runbook, '--scope', 'class=refund', '--reason', 'range', '--yes', '--json', '--verify-timeout', value])
      expect(r.code).toBe(3)
      expect(r.json.error.message).toContain('is out of range: a duration is between 1ms and 1440m')
      expect(observable(h.sandbox)).toEqual(before)
    })
  }
})
