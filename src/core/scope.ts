/**
 * The scope an operator names on the command line (`agent=ID`, `class=NAME`, `global`) and the substitution of
 * its variables into a scope's steps. An unknown class or agent, or a variable left unresolved, is an error that
 * lists the valid choices: never a silent no-op halt.
 */
import type { Runbook, ScopeLevel, Step } from './runbook/schema.js'

export interface Scope {
  level: ScopeLevel
  /** The agent id or class name; absent for global. */
  value?: string
  /** Variables for `${...}` substitution in the steps. */
  variables: Record<string, string>
  /** As typed: `class=refund`, `agent=refund-7f3a`, `global`. */
  label: string
}

/** A usage error: the operator typed something the runbook does not allow. */
export class ScopeError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScopeError'
  }
}

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

export function parseScope(text: string, runbook: Runbook): Scope {
  const trimmed = text.trim()
  const defined = (['agent', 'class', 'global'] as const).filter((l) => runbook.scopes[l])
  const choices = `valid scopes: ${defined.map((l) => (l === 'global' ? 'global' : `${l}=<${l === 'agent' ? 'id' : 'name'}>`)).join(', ')}`
  const [level, value, ...rest] = trimmed.split('=')
  if (level !== 'agent' && level !== 'class' && level !== 'global') {
    throw new ScopeError(`unknown scope "${trimmed}"; ${choices}`)
  }
  if (!runbook.scopes[level]) {
    throw new ScopeError(`runbook "${runbook.metadata.name}" defines no ${level} scope; ${choices}`)
  }
  if (level === 'global') {
    if (value !== undefined) throw new ScopeError(`the global scope takes no value; write --scope global`)
    return { level, variables: {}, label: 'global' }
  }
  if (!value || rest.length > 0) throw new ScopeError(`write --scope ${level}=<${level === 'agent' ? 'id' : 'name'}>; ${choices}`)
  if (level === 'class') {
    if (!runbook.classes.includes(value)) {
      throw new ScopeError(`unknown class "${value}"; classes in runbook "${runbook.metadata.name}": ${runbook.classes.join(', ')}`)
    }
    return { level, value, variables: { class: value }, label: `class=${value}` }
  }
  if (!AGENT_ID.test(value)) throw new ScopeError(`"${value}" is not an agent id (letters, digits, ., _ and -)`)
  const variables: Record<string, string> = { agent: value }
  if (runbook.agents) {
    const cls = Object.entries(runbook.agents).find(([, ids]) => ids.includes(value))?.[0]
    if (!cls) {
      const known = Object.values(runbook.agents).flat()
      const shown = known.slice(0, 10).join(', ') + (known.length > 10 ? `, … (${known.length} in all)` : '')
      throw new ScopeError(`unknown agent "${value}"; agents in runbook "${runbook.metadata.name}": ${shown}`)
    }
    variables.class = cls
  }
  return { level, value, variables, label: `agent=${value}` }
}

/** Deep-copies `step` with every `${name}` replaced; throws if any variable is left. */
export function substituteStep<T extends Step>(step: T, scope: Scope): T {
  const unresolved = new Set<string>()
  const visit = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
        const replacement = scope.variables[name]
        if (replacement === undefined) {
          unresolved.add(whole)
          return whole
        }
        return replacement
      })
    }
    if (Array.isArray(value)) return value.map(visit)
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visit(v)]))
    return value
  }
  const result = visit(step) as T
  if (unresolved.size > 0) {
    throw new ScopeError(
      `${[...unresolved].join(', ')} cannot be resolved for scope ${scope.label}; available: ${Object.keys(scope.variables).map((v) => `\${${v}}`).join(', ') || 'none'}`,
    )
  }
  return result
}

/** The longest duration anything takes (a day): beyond it a time-out is a typo, and past 2^31 ms Node's timers overflow. */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000

/** Parses `10s`, `500ms`, `2m` into milliseconds, at least 1 ms and at most a day. */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text)
  if (!m) throw new ScopeError(`"${text}" is not a duration like 10s`)
  const n = Number(m[1])
  const ms = Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000)
  if (!(ms >= 1 && ms <= MAX_DURATION_MS)) throw new ScopeError(`"${text}" is out of range: a duration is between 1ms and 1440m (a day)`)
  return ms
}
