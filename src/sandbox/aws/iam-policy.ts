/**
 * IAM inline policies: validation of documents as PutRolePolicy does it, the aggregate size quota, the delayed
 * view the policy simulator sees (IAM is eventually consistent), and the evaluation SimulatePrincipalPolicy runs.
 */
import { AwsError } from './errors.js'

export type IamKind = 'role' | 'user' | 'group'

/**
 * Aggregate inline policy size per entity, whitespace not counted (IAM quotas, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html).
 */
export const INLINE_POLICY_QUOTA: Record<IamKind, number> = { role: 10_240, user: 2_048, group: 5_120 }

interface Statement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Condition?: Record<string, Record<string, unknown>>
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition', 'Principal', 'NotPrincipal'])
const TOP_LEVEL_KEYS = new Set(['Version', 'Id', 'Statement'])

function malformed(message: string): AwsError {
  return new AwsError('MalformedPolicyDocument', 400, message)
}

function isStringOrStrings(value: unknown): boolean {
  return typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'))
}

function statementsOf(document: { Statement: unknown }): Statement[] {
  return (Array.isArray(document.Statement) ? document.Statement : [document.Statement]) as Statement[]
}

/**
 * Parses an identity-policy document the way IAM rejects it: syntax first ("Syntax errors in policy."), then
 * the missing-actions and missing-resources messages. The messages are AWS's (moto copies them verbatim).
 */
export function validatePolicyDocument(text: string): Statement[] {
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch {
    throw malformed('Syntax errors in policy.')
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw malformed('Syntax errors in policy.')
  const top = document as Record<string, unknown>
  const syntaxOk =
    Object.keys(top).every((key) => TOP_LEVEL_KEYS.has(key)) &&
    (top.Version === undefined || top.Version === '2012-10-17' || top.Version === '2008-10-17') &&
    typeof top.Statement === 'object' &&
    top.Statement !== null
  if (!syntaxOk) throw malformed('Syntax errors in policy.')
  const statements = statementsOf(top as { Statement: unknown })
  if (statements.length === 0) throw malformed('Syntax errors in policy.')
  for (const statement of statements) {
    const ok =
      typeof statement === 'object' &&
      statement !== null &&
      Object.keys(statement).every((key) => STATEMENT_KEYS.has(key)) &&
      (statement.Effect === 'Allow' || statement.Effect === 'Deny') &&
      !(statement.Action !== undefined && statement.NotAction !== undefined) &&
      !(statement.Resource !== undefined && statement.NotResource !== undefined) &&
      [statement.Action, statement.NotAction, statement.Resource, statement.NotResource].every((v) => v === undefined || isStringOrStrings(v))
    if (!ok) throw malformed('Syntax errors in policy.')
  }
  for (const statement of statements) {
    if (statement.Action === undefined && statement.NotAction === undefined) throw malformed('Policy statement must contain actions.')
  }
  for (const statement of statements) {
    if (statement.Resource === undefined && statement.NotResource === undefined) throw malformed('Policy statement must contain resources.')
  }
  return statements
}

/** Characters IAM counts against the inline-policy quota: everything but whitespace. */
export function countedSize(document: string): number {
  return document.replace(/\s/g, '').length
}

type PolicySet = ReadonlyMap<string, string>

/**
 * The inline policies of one IAM entity. The control plane (Get/List/Put/Delete) sees every change at once; the
 * simulator sees the set as it was `propagationMs` ago, because a policy change reaches IAM's regional data
 * planes only after a delay ("it may take a few minutes", https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
 */
export class InlinePolicies {
  private current: Map<string, string>
  /** Snapshots after each change, oldest first; the first one is the seed and is always visible. */
  private history: Array<{ at: number; policies: PolicySet }>

  constructor(initial: Record<string, string>) {
    this.current = new Map(Object.entries(initial))
    this.history = [{ at: Number.NEGATIVE_INFINITY, policies: new Map(this.current) }]
  }

  get(name: string): string | undefined {
    return this.current.get(name)
  }

  names(): string[] {
    return [...this.current.keys()].sort()
  }

  entries(): Array<[string, string]> {
    return [...this.current.entries()]
  }

  /** The aggregate counted size if `name` were set to `document`. */
  sizeWith(name: string, document: string): number {
    let size = countedSize(document)
    for (const [existing, text] of this.current) if (existing !== name) size += countedSize(text)
    return size
  }

  set(name: string, document: string, at: number): void {
    this.current.set(name, document)
    this.record(at)
  }

  delete(name: string, at: number): boolean {
    const existed = this.current.delete(name)
    if (existed) this.record(at)
    return existed
  }

  /** The set as the data plane sees it at `cutoff` (= now − propagation delay). */
  visibleAt(cutoff: number): PolicySet {
    let visible = this.history[0]!
    for (const snapshot of this.history) if (snapshot.at <= cutoff) visible = snapshot
    return visible.policies
  }

  private record(at: number): void {
    this.history.push({ at, policies: new Map(this.current) })
  }
}

/** IAM's wildcard match: `*` any run of characters, `?` exactly one. */
function wildcardMatch(pattern: string, value: string, caseInsensitive: boolean): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's').test(value)
}

const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

function statementMatches(statement: Statement, action: string, resource: string): boolean {
  const actionMatches =
    statement.NotAction !== undefined
      ? !asList(statement.NotAction).some((pattern) => wildcardMatch(pattern, action, true))
      : asList(statement.Action).some((pattern) => wildcardMatch(pattern, action, true))
  const resourceMatches =
    statement.NotResource !== undefined
      ? !asList(statement.NotResource).some((pattern) => wildcardMatch(pattern, resource, false))
      : asList(statement.Resource).some((pattern) => pattern === '*' || wildcardMatch(pattern, resource, false))
  return actionMatches && resourceMatches
}

export type EvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny'

export interface EvaluationResult {
  action: string
  resource: string
  decision: EvalDecision
  /** Names of the inline policies whose statements decided the result. */
  matchedPolicies: string[]
  /** Condition keys of statements that were skipped because the sandbox does not evaluate conditions. */
  missingContextValues: string[]
}

/**
 * Evaluates identity policies for one action on one resource: an explicit Deny wins, then any Allow, otherwise
 * implicit deny (IAM policy evaluation logic). Statements with a `Condition` are not evaluated: they never match
 * and their keys are reported as missing context values, which is what the simulator does without context.
 */
export function evaluate(policies: PolicySet, action: string, resource: string): EvaluationResult {
  const denies: string[] = []
  const allows: string[] = []
  const missing = new Set<string>()
  for (const [name, text] of policies) {
    for (const statement of statementsOf(JSON.parse(text) as { Statement: unknown })) {
      if (!statementMatches(statement, action, resource)) continue
      if (statement.Condition !== undefined) {
        for (const operator of Object.values(statement.Condition)) for (const key of Object.keys(operator)) missing.add(key)
        continue
      }
      ;(statement.Effect === 'Deny' ? denies : allows).push(name)
    }
  }
  const decision: EvalDecision = denies.length > 0 ? 'explicitDeny' : allows.length > 0 ? 'allowed' : 'implicitDeny'
  const matchedPolicies = [...new Set(decision === 'explicitDeny' ? denies : decision === 'allowed' ? allows : [])]
  return { action, resource, decision, matchedPolicies, missingContextValues: [...missing].sort() }
}
