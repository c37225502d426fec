import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { runbookJsonSchema } from '../../src/core/runbook/json-schema.js'
import { loadRunbook, parseRunbook, RunbookError } from '../../src/core/runbook/load.js'
import { durationMs, parseScope, substituteStep } from '../../src/core/scope.js'

const valid = await readFile(new URL('../../runbooks/agents-prod.yaml', import.meta.url), 'utf8')

function problems(text: string) {
  try {
    parseRunbook(text, 'rb.yaml')
  } catch (error) {
    if (error instanceof RunbookError) return error.problems
    throw error
  }
  throw new Error('expected the runbook to be rejected')
}

describe('runbook loading', () => {
  it('loads the example runbooks with a content digest', async () => {
    for (const file of ['runbooks/agents-prod.yaml', 'runbooks/sandbox.yaml']) {
      const loaded = await loadRunbook(file)
      expect(loaded.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(loaded.runbook.classes).toEqual(['refund', 'support', 'research'])
    }
  })

  it('names file, line, column and path of a wrong value, with what is expected', () => {
    const text = valid.replace('slo: { agent: 10s, class: 30s, global: 60s }', 'slo: { agent: 10s, class: thirty, global: 60s }')
    const [p] = problems(text)
    expect(p).toMatchObject({ file: 'rb.yaml', path: 'slo.class', line: text.split('\n').findIndex((l) => l.includes('thirty')) + 1 })
    expect(p!.message).toContain('a duration is a number with ms, s or m')
    expect(p!.message).toContain('"thirty"')
  })

  it('rejects an unknown field, naming it', () => {
    const text = valid.replace('  agent:\n    steps:', '  agent:\n    stepz: []\n    steps:')
    const found = problems(text)
    expect(found.some((p) => p.path === 'scopes.agent' && p.message.includes('unknown field "stepz"'))).toBe(true)
  })

  it('rejects a step that names two primitives or none', () => {
    const text = valid.replace(
      '      - flagOff: { project: agents, environment: production, flags: [agents-enabled] }',
      '      - flagOff: { project: agents, environment: production, flags: [agents-enabled] }\n        denyAll: { roles: { names: [x] } }',
    )
    const [p] = problems(text)
    expect(p!.path).toBe('scopes.global.steps[0]')
    expect(p!.message).toContain('a step names exactly one primitive')
  })

  it('rejects a variable the scope cannot resolve, pointing at it', () => {
    const text = valid.replace('flags: [agents-enabled]', 'flags: ["${class}-enabled"]')
    const [p] = problems(text)
    expect(p!.path).toBe('scopes.global.steps[0].flagOff.flags[0]')
    expect(p!.message).toBe('${class} cannot be resolved in the global scope; the global scope has no variables')
  })

  it('reports YAML syntax errors with their position', () => {
    const [p] = problems('apiVersion: killswitch/v1\nkind: [Runbook\n')
    expect(p!.message).toMatch(/^YAML: /)
    expect(p!.line).toBeGreaterThan(1)
  })

  it('says when the file does not exist', async () => {
    await expect(loadRunbook('nope.yaml')).rejects.toThrow(/nope.yaml:1:1 \(document\): no such file/)
  })

  it('keeps schemas/runbook.schema.json in step with the schema (run npm run schema)', async () => {
    const committed = JSON.parse(await readFile(new URL('../../schemas/runbook.schema.json', import.meta.url), 'utf8'))
    expect(committed).toEqual(runbookJsonSchema())
  })
})

describe('scopes', () => {
  const runbook = parseRunbook(valid, 'rb.yaml')

  it('parses the three scope levels', () => {
    expect(parseScope('class=refund', runbook)).toMatchObject({ level: 'class', value: 'refund', label: 'class=refund', variables: { class: 'refund' } })
    expect(parseScope('agent=refund-7f3a', runbook)).toMatchObject({ level: 'agent', variables: { agent: 'refund-7f3a' } })
    expect(parseScope('global', runbook)).toMatchObject({ level: 'global', variables: {} })
  })

  it('lists the valid classes for an unknown one, never halting nothing', () => {
    expect(() => parseScope('class=refunds', runbook)).toThrow('unknown class "refunds"; classes in runbook "agents-prod": refund, support, research')
    expect(() => parseScope('team=x', runbook)).toThrow(/unknown scope "team=x"; valid scopes: agent=<id>, class=<name>, global/)
    expect(() => parseScope('global=all', runbook)).toThrow(/takes no value/)
  })

  it('checks agents against the inventory when the runbook has one, and derives their class', () => {
    const withAgents = parseRunbook(valid.replace('classes: [refund, support, research]', 'classes: [refund, support, research]\nagents: { refund: [refund-1, refund-2] }'), 'rb.yaml')
    expect(parseScope('agent=refund-2', withAgents).variables).toEqual({ agent: 'refund-2', class: 'refund' })
    expect(() => parseScope('agent=refund-9', withAgents)).toThrow('unknown agent "refund-9"; agents in runbook "agents-prod": refund-1, refund-2')
  })

  it('substitutes variables into a copy of the step', () => {
    const step = runbook.scopes.class!.steps[1]!
    const out = substituteStep(step, parseScope('class=support', runbook))
    expect(out.denyAll?.roles?.tags).toEqual({ 'agent-class': 'support' })
    expect(step.denyAll?.roles?.tags).toEqual({ 'agent-class': '${class}' })
  })

  it('parses durations', () => {
    expect(durationMs('10s')).toBe(10_000)
    expect(durationMs('250ms')).toBe(250)
    expect(durationMs('1.5m')).toBe(90_000)
  })
})
