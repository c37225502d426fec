/**
 * Redaction for reports posted outside the team: every resource name in a DrillReport (target ids and labels,
 * account ids, ARNs, namespaces, clusters, projects, environments, the scope's agent or class, the runbook, the
 * invoker) is replaced by a stable pseudonym (`target-001`, `account-1`); step names, kinds, statuses, figures
 * and verdicts stay. Pseudonyms are numbered in the order the halt lists its targets, so one report always
 * redacts the same way. Free text (errors, warnings, reasons, state descriptions) is redacted by replacing every
 * known name as a whole word, then any ARN and any 12-digit account id that is left.
 */
import type { DrillMismatch, DrillReport } from '../core/drill.js'
import type { JsonValue, TargetState } from '../core/primitive.js'
import type { HaltReport, Invoker, RestoreReport, TargetReport } from '../core/report.js'

type Locator = TargetReport['locator']

/** Locator keys whose value is a resource name, and the pseudonym family it gets. */
const LOCATOR_FAMILIES: Record<string, string> = {
  account: 'account',
  namespace: 'namespace',
  context: 'cluster',
  project: 'project',
  environment: 'environment',
}
/** Locator keys whose value names the target itself: they get the target's pseudonym. */
const LOCATOR_OWN_NAME = new Set(['name', 'key'])
/** Locator values that name no resource of the team: platform words and killswitch's own policy name. */
const LOCATOR_KEPT = new Set(['region', 'kind', 'type', 'policyName', 'podManagementPolicy'])

const ARN = /\barn:aws[a-z-]*:[^\s"'`,;()<>]+/g
const ACCOUNT_ID = /(?<![\w-])\d{12}(?![\w-])/g
/** Name characters: a known name is replaced only where it is not part of a longer name. */
const NAME_CHAR = '[A-Za-z0-9_-]'

class Redactor {
  private readonly names = new Map<string, string>()
  private readonly counters = new Map<string, number>()
  private targetCount = 0
  private matcher: RegExp | undefined

  constructor(private readonly targetDigits: number) {}

  /** The pseudonym of a target, given its id; its label and its own name get the same one. */
  target(id: string, ...aliases: string[]): string {
    let pseudonym = this.names.get(id)
    if (!pseudonym) {
      this.targetCount += 1
      pseudonym = `target-${String(this.targetCount).padStart(this.targetDigits, '0')}`
      this.remember(id, pseudonym)
    }
    for (const alias of aliases) if (!this.names.has(alias)) this.remember(alias, pseudonym)
    return pseudonym
  }

  /** The pseudonym of a name in a family (`account` → `account-1`, `account-2`, ...). */
  name(family: string, value: string): string {
    const known = this.names.get(value)
    if (known) return known
    const n = (this.counters.get(family) ?? 0) + 1
    this.counters.set(family, n)
    const pseudonym = `${family}-${n}`
    this.remember(value, pseudonym)
    return pseudonym
  }

  /** Free text with every known name, ARN and account id replaced. */
  text(value: string): string {
    this.matcher ??= this.buildMatcher()
    const named = this.matcher ? value.replace(this.matcher, (match) => this.names.get(match) ?? match) : value
    return named.replace(ARN, (arn) => this.name('arn', arn)).replace(ACCOUNT_ID, (id) => this.name('account', id))
  }

  private remember(value: string, pseudonym: string): void {
    if (value === '') return
    this.names.set(value, pseudonym)
    this.matcher = undefined
  }

  /** One alternation, longest name first, so that an id is replaced whole before the label inside it. */
  private buildMatcher(): RegExp | undefined {
    const names = [...this.names.keys()].sort((a, b) => b.length - a.length)
    if (names.length === 0) return undefined
    const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    return new RegExp(`(?<!${NAME_CHAR})(?:${escaped.join('|')})(?!${NAME_CHAR})`, 'g')
  }
}

/** A copy of the report with every resource name replaced; the input is not changed. */
export function redactReport(report: DrillReport): DrillReport {
  const targets = report.halt?.targets ?? []
  const redactor = new Redactor(Math.max(3, String(targets.length).length))
  registerNames(redactor, report)
  const text = (value: string) => redactor.text(value)
  return {
    ...report,
    scope: redactScope(redactor, report.scope),
    runbook: redactRunbook(redactor, report.runbook),
    halt: report.halt && redactHalt(redactor, report.halt),
    restore: report.restore && redactRestore(redactor, report.restore),
    mismatches: report.mismatches.map((m) => redactMismatch(redactor, m)),
    ...(report.error === undefined ? {} : { error: text(report.error) }),
    warnings: report.warnings.map(text),
  }
}

/** Registers every structured name first, so that free text anywhere in the report uses the same pseudonyms. */
function registerNames(redactor: Redactor, report: DrillReport): void {
  for (const t of report.halt?.targets ?? []) {
    const ownNames = Object.entries(t.locator).flatMap(([k, v]) => (LOCATOR_OWN_NAME.has(k) && typeof v === 'string' ? [v] : []))
    redactor.target(t.id, t.label, ...ownNames)
    for (const [key, value] of Object.entries(t.locator)) {
      const family = LOCATOR_FAMILIES[key]
      if (family && typeof value === 'string') redactor.name(family, value)
    }
  }
  for (const t of report.restore?.targets ?? []) redactor.target(t.id, t.label)
  for (const m of report.mismatches) redactor.target(m.id, m.label)
  const scopeValue = scopeParts(report.scope)
  if (scopeValue) redactor.name(scopeValue.level, scopeValue.value)
  redactor.name('runbook', report.runbook.name)
  for (const invoker of [report.halt?.invoker, report.restore?.invoker]) {
    if (invoker?.account) redactor.name('account', invoker.account)
    if (invoker?.arn) redactor.name('principal', invoker.arn)
  }
}

function scopeParts(scope: string): { level: string; value: string } | undefined {
  const at = scope.indexOf('=')
  return at > 0 ? { level: scope.slice(0, at), value: scope.slice(at + 1) } : undefined
}

function redactScope(redactor: Redactor, scope: string): string {
  const parts = scopeParts(scope)
  return parts ? `${parts.level}=${redactor.name(parts.level, parts.value)}` : scope
}

function redactRunbook(redactor: Redactor, runbook: DrillReport['runbook']): DrillReport['runbook'] {
  const name = redactor.name('runbook', runbook.name)
  return { name, path: `${name}.yaml`, digest: runbook.digest }
}

function redactInvoker(redactor: Redactor, invoker: Invoker): Invoker {
  return {
    arn: invoker.arn === null ? null : redactor.name('principal', invoker.arn),
    account: invoker.account === null ? null : redactor.name('account', invoker.account),
    osUser: redactor.name('user', invoker.osUser),
    host: redactor.name('host', invoker.host),
  }
}

function redactLocator(redactor: Redactor, id: string, locator: Locator): Locator {
  const redacted: Locator = {}
  for (const [key, value] of Object.entries(locator)) {
    const family = LOCATOR_FAMILIES[key]
    if (typeof value !== 'string' || LOCATOR_KEPT.has(key)) redacted[key] = value
    else if (family) redacted[key] = redactor.name(family, value)
    else if (LOCATOR_OWN_NAME.has(key)) redacted[key] = redactor.target(id)
    else redacted[key] = '[redacted]'
  }
  return redacted
}

function redactJson(redactor: Redactor, value: JsonValue): JsonValue {
  if (typeof value === 'string') return redactor.text(value)
  if (Array.isArray(value)) return value.map((v) => redactJson(redactor, v))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactJson(redactor, v)]))
  }
  return value
}

function redactState(redactor: Redactor, state: TargetState): TargetState {
  return redactJson(redactor, state) as TargetState
}

function redactHalt(redactor: Redactor, halt: HaltReport): HaltReport {
  const text = (value: string) => redactor.text(value)
  return {
    ...halt,
    scope: redactScope(redactor, halt.scope),
    reason: text(halt.reason),
    invoker: redactInvoker(redactor, halt.invoker),
    runbook: redactRunbook(redactor, halt.runbook),
    targets: halt.targets.map((t) => ({
      ...t,
      id: redactor.target(t.id),
      label: redactor.target(t.id),
      locator: redactLocator(redactor, t.id, t.locator),
      before: redactState(redactor, t.before),
      beforeText: text(t.beforeText),
      ...(t.error === undefined ? {} : { error: text(t.error) }),
    })),
    ...(halt.refusal === undefined ? {} : { refusal: text(halt.refusal) }),
    warnings: halt.warnings.map(text),
  }
}

function redactRestore(redactor: Redactor, restore: RestoreReport): RestoreReport {
  const text = (value: string) => redactor.text(value)
  return {
    ...restore,
    scope: redactScope(redactor, restore.scope),
    reason: text(restore.reason),
    invoker: redactInvoker(redactor, restore.invoker),
    runbook: redactRunbook(redactor, restore.runbook),
    targets: restore.targets.map((t) => ({
      ...t,
      id: redactor.target(t.id),
      label: redactor.target(t.id),
      snapshot: redactState(redactor, t.snapshot),
      snapshotText: text(t.snapshotText),
      live: t.live && redactState(redactor, t.live),
      liveText: t.liveText === null ? null : text(t.liveText),
      ...(t.heldBy === undefined ? {} : { heldBy: t.heldBy.map((s) => redactScope(redactor, s)) }),
      ...(t.error === undefined ? {} : { error: text(t.error) }),
    })),
    ...(restore.refusal === undefined ? {} : { refusal: text(restore.refusal) }),
    warnings: restore.warnings.map(text),
  }
}

function redactMismatch(redactor: Redactor, m: DrillMismatch): DrillMismatch {
  const anyJson = (value: unknown): unknown => (value === undefined ? undefined : redactJson(redactor, value as JsonValue))
  return { id: redactor.target(m.id), label: redactor.target(m.id), snapshot: anyJson(m.snapshot), live: anyJson(m.live), reason: redactor.text(m.reason) }
}
