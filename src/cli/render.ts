/**
 * Human renderings of the core's reports (stdout), and the JSON envelope used under --json. Progress, warnings
 * and prompts go to stderr (src/cli/progress.ts); stdout carries only the result.
 */
import type { TrailVerdict } from '../audit/trail.js'
import type { GuardReport, HaltReport, HoldSummary, PlanReport, RestoreReport, Reversion } from '../core/report.js'
import type { DrillReport } from '../core/drill.js'
import type { StatusReport } from '../core/status.js'
import type { DescribedError } from './errors.js'

export const ENVELOPE_VERSION = 1

export interface Envelope {
  schemaVersion: typeof ENVELOPE_VERSION
  command: string
  exitCode: number
  result: unknown
  error: { code: string; message: string; hint?: string } | null
}

export function envelope(command: string, exitCode: number, result: unknown, error?: DescribedError): string {
  const body: Envelope = {
    schemaVersion: ENVELOPE_VERSION,
    command,
    exitCode,
    result: result ?? null,
    error: error ? { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) } : null,
  }
  return JSON.stringify(body, null, 2)
}

export function seconds(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—'
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n')
}

function stepTitle(step: { name: string; kind: string }): string {
  return step.name === step.kind ? step.kind : `${step.name} (${step.kind})`
}

/** `stateDir`: where this halt's journal is, so that the restore command it prints works as printed. */
export function renderHalt(r: HaltReport, stateDir?: string): string {
  const lines: string[] = []
  if (r.status === 'refused') return `REFUSED: halt ${r.scope} (${r.haltId})\n${r.refusal}\n`
  const verdict = {
    halted: `HALTED ${r.scope} in ${seconds(r.timeToHaltMs)} — within the SLO of ${seconds(r.sloMs)}`,
    'slo-breached': `HALTED ${r.scope} in ${seconds(r.timeToHaltMs)} — SLO BREACHED (SLO ${seconds(r.sloMs)})`,
    partial: `PARTIAL: ${r.targets.filter((t) => t.status === 'failed').length} of ${r.targets.length} targets in ${r.scope} were NOT halted`,
    failed: `FAILED: nothing in ${r.scope} was verified halted`,
  }[r.status]
  lines.push(verdict, `halt id ${r.haltId} · runbook ${r.runbook.name} · by ${r.invoker.arn ?? 'unknown caller'} (${r.invoker.osUser}) · reason: ${r.reason}`)
  if (r.authority.overridden) lines.push('AUTHORITY OVERRIDDEN: the caller is outside the runbook\'s authority; this was audited and announced')
  lines.push(
    `breakdown: start-up ${seconds(r.breakdown.startupMs)} · resolve ${seconds(r.breakdown.resolveMs)} · apply ${seconds(r.breakdown.applyMs)} · verify ${seconds(r.breakdown.verifyMs)}${r.breakdown.confirmMs ? ` · (confirmation ${seconds(r.breakdown.confirmMs)}, not counted)` : ''}`,
    '',
  )
  for (const step of r.steps) {
    const targets = r.targets.filter((t) => t.step === step.index)
    lines.push(`step ${step.index + 1} ${stepTitle(step)}: ${step.status}, ${targets.length} target(s), verified at ${seconds(step.verifiedMs)}`)
    const rows = [['  target', 'before', 'status', 'applied', 'verified']]
    for (const t of targets) {
      rows.push([`  ${t.label}`, t.beforeText, t.status, seconds(t.timings.appliedMs), seconds(t.timings.verifiedMs)])
    }
    lines.push(table(rows))
    for (const t of targets.filter((x) => x.error)) lines.push(`  ✗ ${t.id}: ${t.error}`)
  }
  if (r.hold) lines.push('', ...renderHold(r.hold, r.reversions ?? []))
  lines.push('', `restore with: killswitch restore --runbook ${shellWord(r.runbook.path)} --scope ${r.scope}${stateDir ? ` --state-dir ${shellWord(stateDir)}` : ''} --reason "..."`)
  return lines.join('\n') + '\n'
}

function renderHold(hold: HoldSummary, reversions: Reversion[]): string[] {
  const ended = { elapsed: 'its time was up', restored: 'a restore took its targets back', interrupted: 'it was interrupted' }[hold.ended]
  const lines = [
    `hold: ${hold.targets} target(s) read back every ${seconds(hold.intervalMs)} for ${hold.requestedMs === null ? 'ever' : seconds(hold.requestedMs)}; ended after ${seconds(hold.endedMs - hold.startedMs)} because ${ended}; ${reversions.length} reversion(s)`,
  ]
  if (reversions.length === 0) return lines
  const rows = [['  undone', 'at', 'found', 'by', 'now']]
  for (const v of reversions) {
    const now = { 're-halted': `re-halted at ${seconds(v.rehaltedMs)}`, 'not-halted': `NOT HALTED (${v.attempts} attempt(s))`, released: 'released by a restore' }[v.outcome]
    rows.push([`  ${v.label}`, seconds(v.atMs), v.liveText, v.by ?? 'unknown', now])
  }
  lines.push(table(rows))
  for (const v of reversions.filter((x) => x.outcome === 'not-halted' && x.error)) lines.push(`  ✗ ${v.targetId}: ${v.error}`)
  return lines
}

export function renderGuard(r: GuardReport): string {
  if (r.status === 'nothing-to-guard') return `${r.refusal}\n`
  if (r.status === 'refused') return `REFUSED: guard ${r.scope} (${r.guardId})\n${r.refusal}\n`
  const failed = r.targets.filter((t) => t.status === 'failed')
  const verdict =
    r.status === 'held'
      ? `HELD ${r.scope}: every target was kept halted (${r.reversions.length} reversion(s) re-applied)`
      : `${r.status.toUpperCase()}: guard ${r.scope} — ${failed.length} target(s) were undone and are NOT HALTED`
  const lines = [verdict, `guard id ${r.guardId} · runbook ${r.runbook.name} · by ${r.invoker.arn ?? 'unknown caller'} (${r.invoker.osUser}) · reason: ${r.reason}`, '']
  if (r.hold) lines.push(...renderHold(r.hold, r.reversions), '')
  const rows = [['target', 'status', 'reversions']]
  for (const t of r.targets) rows.push([t.label, t.status === 'released' ? 'released (restored)' : t.status, String(t.reversions)])
  lines.push(table(rows))
  for (const t of failed) lines.push(`✗ ${t.id}: ${t.error}`)
  return lines.join('\n') + '\n'
}

export function renderRestore(r: RestoreReport): string {
  const lines: string[] = []
  if (r.status === 'nothing-to-restore') return `${r.refusal}\n`
  if (r.status === 'refused') return `REFUSED: restore ${r.scope} (${r.restoreId})\n${r.refusal}\n`
  const restored = r.targets.filter((t) => t.status === 'restored').length
  lines.push(
    r.status === 'restored'
      ? `RESTORED ${r.scope}: ${restored} target(s) back at their snapshots in ${seconds(r.durationMs)}${r.forced ? ' (forced)' : ''}`
      : `${r.status.toUpperCase()}: restore ${r.scope} — ${r.targets.filter((t) => t.status === 'failed').length} target(s) failed`,
    `restore id ${r.restoreId} · by ${r.invoker.arn ?? 'unknown caller'} (${r.invoker.osUser}) · reason: ${r.reason}`,
    '',
  )
  const rows = [['target', 'snapshot', 'status']]
  for (const t of r.targets) rows.push([t.label, t.snapshotText, t.status === 'kept' ? `kept halted (held by ${t.heldBy?.join(', ')})` : t.status])
  lines.push(table(rows))
  for (const t of r.targets.filter((x) => x.error)) lines.push(`✗ ${t.id}: ${t.error}`)
  return lines.join('\n') + '\n'
}

export function renderPlan(p: PlanReport): string {
  const lines = [`plan: halt ${p.scope} with runbook ${p.runbook.name} (no change is made)`, '']
  for (const step of p.steps) {
    lines.push(`step ${step.index + 1} ${stepTitle(step)}: ${step.targets.length} target(s)`)
    const rows = [['  target', 'now', 'will']]
    for (const t of step.targets) rows.push([`  ${t.label}`, t.currentText, t.heldBy ? `${t.action}; held by ${t.heldBy.join(', ')}` : t.action])
    lines.push(table(rows))
  }
  const total = p.steps.reduce((n, s) => n + s.targets.length, 0)
  lines.push(
    '',
    `${total} target(s). Predicted time-to-halt ${seconds(p.prediction.timeToHaltMs)} against the SLO of ${seconds(p.sloMs)}: ${p.prediction.withinSlo ? 'within' : 'BREACH'} (bound by ${p.prediction.bottleneck})`,
  )
  // What a halt would not stop or could be undone by (foreign pods, reconcilers left alone): part of the plan.
  if (p.warnings.length > 0) lines.push('', 'to know before halting:', ...p.warnings.map((w) => `  - ${w}`))
  return lines.join('\n') + '\n'
}

export function renderStatus(s: StatusReport): string {
  if (s.targets.length === 0) return `nothing is halted (state in ${s.stateDir})\n`
  const lines = [`halted scopes: ${s.scopes.join(', ')} (${s.targets.length} target(s), state in ${s.stateDir})`, '']
  const rows = [['target', 'held by', 'snapshot', 'verified', 'live']]
  for (const t of s.targets) {
    rows.push([t.label, t.holds.join(','), JSON.stringify(t.snapshot), t.verified ? 'yes' : 'no', statusLive(t)])
  }
  lines.push(table(rows))
  for (const u of s.unfinished) lines.push(`unfinished ${u.action} ${u.scope} (${u.invocation}, ${u.at}): run the same command again to resume`)
  return lines.join('\n') + '\n'
}

/** The live column: the live state when read, else what the journal last knew of a reversion. */
function statusLive(t: StatusReport['targets'][number]): string {
  if (t.live) return `${t.live.text}${t.live.halted === false ? ` (NOT HALTED${t.live.by ? `, last changed by ${t.live.by}` : ''})` : ''}`
  if (t.reverted) return `NOT HALTED: found ${t.reverted.liveText} at ${t.reverted.at}${t.reverted.by ? `, changed by ${t.reverted.by}` : ''} (journal)`
  return '(no runbook)'
}

export function renderTrail(v: TrailVerdict): string {
  if (v.ok) return `audit trail intact: ${v.records} record(s), chain head ${v.lastHash ?? '(empty)'} (${v.file})\n`
  return [`AUDIT TRAIL FAILED VERIFICATION (${v.file}, ${v.records} line(s)):`, ...v.problems.map((p) => `  ${p.kind}: ${p.message}`)].join('\n') + '\n'
}

export function renderDrill(d: DrillReport, written: Record<string, string>): string {
  const verdict = {
    pass: `DRILL PASSED: ${d.scope} halted in ${seconds(d.timeToHaltMs)} (SLO ${seconds(d.sloMs)}) and every target came back exactly to its snapshot`,
    'slo-breached': `DRILL FAILED — SLO BREACHED: ${d.scope} halted in ${seconds(d.timeToHaltMs)}, over the SLO of ${seconds(d.sloMs)}`,
    'restore-mismatch': `DRILL FAILED — RESTORE MISMATCH: ${d.mismatches.length} target(s) did not come back to their snapshot`,
    error: `DRILL ERROR: ${d.error ?? 'see the report'}`,
    refused: `DRILL REFUSED: ${d.error ?? ''}`,
  }[d.verdict]
  const lines = [verdict, `drill id ${d.drillId} · runbook ${d.runbook.name} · trigger ${d.trigger}`]
  if (d.halt) {
    const b = d.halt.breakdown
    lines.push(`${d.halt.targets.length} target(s) in ${d.halt.steps.length} step(s); start-up ${seconds(b.startupMs)} · resolve ${seconds(b.resolveMs)} · apply ${seconds(b.applyMs)} · verify ${seconds(b.verifyMs)}`)
  }
  if (d.restore) lines.push(`restore: ${d.restore.status} in ${seconds(d.restore.durationMs)}`)
  for (const m of d.mismatches) lines.push(`  ✗ ${m.id}: ${m.reason}`)
  lines.push('', 'reports:', ...Object.entries(written).map(([kind, path]) => `  ${kind.padEnd(8)} ${path}`))
  return lines.join('\n') + '\n'
}

/** A path as a shell word: quoted only when it needs to be. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}
