/**
 * Loading a runbook: YAML with source positions, schema validation, and the semantic checks the schema cannot
 * express. Every problem is reported with the file, line, column and path, what is wrong and what is expected.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { isNode, LineCounter, parseDocument, type Document } from 'yaml'
import type { z } from 'zod'
import { PRIMITIVE_KINDS } from '../primitive.js'
import { RunbookSchema, type Runbook, type ScopeLevel, type Step } from './schema.js'

export interface RunbookProblem {
  file: string
  line: number
  column: number
  /** Dotted path into the document, e.g. `scopes.class.steps[1].denyAll.roles`. */
  path: string
  message: string
}

/** A runbook that failed to load; `problems` lists every issue found, not only the first. */
export class RunbookError extends Error {
  constructor(readonly problems: RunbookProblem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'RunbookError'
  }
}

export function formatProblem(p: RunbookProblem): string {
  return `${p.file}:${p.line}:${p.column} ${p.path || '(document)'}: ${p.message}`
}

export interface LoadedRunbook {
  runbook: Runbook
  path: string
  /** SHA-256 of the file's bytes, recorded in the audit trail and the journal. */
  digest: string
}

type PathSegment = string | number

export function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>((out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out ? `${out}.${seg}` : seg), '')
}

/** The position of the deepest node of `path` that exists in the document. */
function locate(doc: Document, lines: LineCounter, path: readonly PathSegment[]): { line: number; column: number } {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true)
    if (isNode(node) && node.range) {
      const pos = lines.linePos(node.range[0])
      return { line: pos.line, column: pos.col }
    }
  }
  return { line: 1, column: 1 }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; see docs/runbook.md for the fields this section takes`
    case 'invalid_type':
      return issue.input === undefined ? `missing; expected ${issue.expected}` : `expected ${issue.expected}, got ${typeName(issue.input)}`
    case 'invalid_value':
      return `${issue.message}; got ${JSON.stringify(issue.input)}`
    default:
      return issue.input === undefined || typeof issue.input === 'object'
        ? issue.message
        : `${issue.message}; got ${JSON.stringify(issue.input)}`
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${JSON.stringify(value)}`
}

/** Parses and validates runbook text. `file` is only used in messages. */
export function parseRunbook(text: string, file: string): Runbook {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    throw new RunbookError(
      doc.errors.map((e) => {
        const pos = lines.linePos(e.pos[0])
        return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` }
      }),
    )
  }
  const raw: unknown = doc.toJS()
  const parsed = RunbookSchema.safeParse(raw, { reportInput: true })
  const at = (p: { path: PathSegment[]; message: string }) => ({ file, ...locate(doc, lines, p.path), path: formatPath(p.path), message: p.message })
  // Variables are checked on the raw document, so they are reported together with any schema problem.
  const variableProblems = checkVariables(raw).map(at)
  if (!parsed.success) {
    const schemaProblems = parsed.error.issues.map((issue) => at({ path: issue.path as PathSegment[], message: describeIssue(issue) }))
    throw new RunbookError([...schemaProblems, ...variableProblems].sort((a, b) => a.line - b.line || a.column - b.column))
  }
  const problems = [...variableProblems, ...checkSemantics(parsed.data).map(at)]
  if (problems.length > 0) throw new RunbookError(problems)
  return parsed.data
}

export async function loadRunbook(path: string): Promise<LoadedRunbook> {
  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new RunbookError([
      {
        file: path,
        line: 1,
        column: 1,
        path: '',
        message: code === 'ENOENT' ? 'no such file; pass --runbook with the path of a runbook YAML file' : `cannot read: ${code ?? String(error)}`,
      },
    ])
  }
  const runbook = parseRunbook(bytes.toString('utf8'), path)
  return { runbook, path, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
}

const VARIABLE = /\$\{([^}]*)\}/g

/** Variables each scope level may use in its steps. */
export const SCOPE_VARIABLES: Record<ScopeLevel, readonly string[]> = {
  agent: ['agent', 'class'],
  class: ['class'],
  global: [],
}

function walkStrings(value: unknown, path: PathSegment[], visit: (text: string, path: PathSegment[]) => void): void {
  if (typeof value === 'string') visit(value, path)
  else if (Array.isArray(value)) value.forEach((item, i) => walkStrings(item, [...path, i], visit))
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) walkStrings(item, [...path, key], visit)
  }
}

/** `${...}` variables each scope's steps may use; works on the raw document, whatever else is wrong with it. */
function checkVariables(raw: unknown): { path: PathSegment[]; message: string }[] {
  const problems: { path: PathSegment[]; message: string }[] = []
  const scopes = (raw as { scopes?: Record<string, { steps?: unknown }> } | null)?.scopes
  const hasAgents = Boolean((raw as { agents?: unknown } | null)?.agents)
  for (const level of ['agent', 'class', 'global'] as const) {
    const steps = scopes?.[level]?.steps
    if (!Array.isArray(steps)) continue
    steps.forEach((step, i) => {
      walkStrings(step, ['scopes', level, 'steps', i], (text, path) => {
        for (const [, name] of text.matchAll(VARIABLE)) {
          const allowed = level === 'agent' && !hasAgents ? ['agent'] : SCOPE_VARIABLES[level]
          if (!allowed.includes(name!)) {
            const hint =
              level === 'agent' && name === 'class'
                ? 'the agent scope knows ${class} only with the agents inventory (agents: {class: [ids]})'
                : allowed.length
                  ? `use ${allowed.map((v) => `\${${v}}`).join(' or ')}`
                  : 'the global scope has no variables'
            problems.push({ path, message: `\${${name}} cannot be resolved in the ${level} scope; ${hint}` })
          }
        }
      })
    })
  }
  return problems
}

/** Checks the schema cannot express: the agent inventory against the classes, LaunchDarkly verification keys. */
function checkSemantics(runbook: Runbook): { path: PathSegment[]; message: string }[] {
  const problems: { path: PathSegment[]; message: string }[] = []
  if (runbook.agents) {
    for (const cls of Object.keys(runbook.agents)) {
      if (!runbook.classes.includes(cls)) {
        problems.push({ path: ['agents', cls], message: `class "${cls}" is not in classes (${runbook.classes.join(', ')})` })
      }
    }
  }
  const usesFlags = Object.values(runbook.scopes).some((s) => s?.steps.some((step) => step.flagOff))
  if (usesFlags && !runbook.credentials.launchdarkly?.sdkKeyEnv) {
    problems.push({
      path: ['credentials'],
      message: 'flagOff steps are verified by a server-SDK client: set credentials.launchdarkly.sdkKeyEnv to the variable holding the SDK key',
    })
  }
  return problems
}

/** The kind of primitive a step uses. The schema guarantees exactly one. */
export function stepKind(step: Step): (typeof PRIMITIVE_KINDS)[number] {
  return PRIMITIVE_KINDS.find((kind) => step[kind] !== undefined)!
}

export function stepSpec(step: Step): unknown {
  return step[stepKind(step)]
}
