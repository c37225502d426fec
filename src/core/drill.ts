/**
 * drill: check → halt → verify → measure → restore → verify that every target is back exactly at its snapshot →
 * report. A drill never touches a scope that is halted for real (its restore would re-enable agents someone
 * stopped on purpose). The halt and the restore write their own audit records, tagged with the drill's id, and
 * the drill writes one more with the verdict.
 */
import { AuditTrail } from '../audit/trail.js'
import { Journal } from '../journal/journal.js'
import {
  errorMessage,
  identify,
  newInvocationId,
  notifyInBackground,
  PrimitiveSet,
  primitiveContext,
  resolveSteps,
  type EnginePorts,
  type InvocationInput,
} from './engine.js'
import { halt } from './halt.js'
import { Pacer } from './pacing.js'
import { REPORT_SCHEMA_VERSION, type HaltReport, type RestoreReport } from './report.js'
import { restore } from './restore.js'

export type DrillVerdict = 'pass' | 'slo-breached' | 'restore-mismatch' | 'error' | 'refused'

export interface DrillMismatch {
  id: string
  label: string
  snapshot: unknown
  live: unknown
  reason: string
}

export interface DrillReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'drill'
  drillId: string
  verdict: DrillVerdict
  scope: string
  trigger: HaltReport['trigger']
  runbook: HaltReport['runbook']
  startedAt: string
  /** Time-to-halt of the drill's halt (ms since process start, confirmation excluded). */
  timeToHaltMs: number | null
  sloMs: number
  withinSlo: boolean
  halt: HaltReport | null
  restore: RestoreReport | null
  mismatches: DrillMismatch[]
  /** Why the drill could not run or ended in error. */
  error?: string
  warnings: string[]
}

export interface DrillInput extends InvocationInput {
  verifyTimeoutMs: number
}

export async function drill(input: DrillInput, ports: EnginePorts): Promise<DrillReport> {
  const drillId = newInvocationId('d')
  const warnings: string[] = []
  const warn = (message: string) => {
    warnings.push(message)
    ports.emit({ type: 'warning', message })
  }
  const { runbook } = input.loaded
  const report: DrillReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'drill',
    drillId,
    verdict: 'error',
    scope: input.scope.label,
    trigger: input.trigger,
    runbook: { name: runbook.metadata.name, path: input.loaded.path, digest: input.loaded.digest },
    startedAt: new Date().toISOString(),
    timeToHaltMs: null,
    sloMs: 0,
    withinSlo: false,
    halt: null,
    restore: null,
    mismatches: [],
    warnings,
  }
  const reason = `drill ${drillId}${input.reason ? `: ${input.reason}` : ''}`
  try {
    // Check: nothing in the scope may be halted for real.
    const journal = await Journal.read(ports.stateDir)
    const live = [...journal.entries.values()].filter((e) => e.holds.length > 0)
    if (live.length > 0) {
      const primitives = new PrimitiveSet(ports)
      const controller = new AbortController()
      try {
        const steps = await resolveSteps(input, primitives, primitiveContext(new Pacer(), controller.signal, reason, drillId, warn))
        const ids = new Set(steps.flatMap((s) => s.targets.map((t) => t.id)))
        const clash = live.filter((e) => ids.has(e.target.id))
        if (clash.length > 0) {
          report.verdict = 'refused'
          report.error = `${clash.length} target(s) of ${input.scope.label} are halted for real (scopes ${[...new Set(clash.flatMap((e) => e.holds))].join(', ')}); a drill would restore them. Drill another scope, or restore those first.`
          return report
        }
      } finally {
        controller.abort()
        await primitives.closeAll()
      }
    }

    const haltReport = await halt({ ...input, reason, overrideAuthority: false }, ports)
    report.halt = haltReport
    report.sloMs = haltReport.sloMs
    report.timeToHaltMs = haltReport.timeToHaltMs
    report.withinSlo = haltReport.withinSlo
    if (haltReport.status === 'refused') {
      report.verdict = 'refused'
      report.error = haltReport.refusal
      return report
    }

    const restoreReport = await restore({ ...input, reason, force: false }, ports)
    report.restore = restoreReport
    report.mismatches = await compareWithSnapshots(haltReport, ports, reason, drillId, warn)
    for (const t of restoreReport.targets.filter((x) => x.status === 'drifted' || x.status === 'failed')) {
      if (!report.mismatches.some((m) => m.id === t.id)) {
        report.mismatches.push({ id: t.id, label: t.label, snapshot: t.snapshot, live: t.live, reason: t.error ?? `restore ${t.status}` })
      }
    }
    if (haltReport.status === 'partial' || haltReport.status === 'failed') {
      report.verdict = 'error'
      const failures = [
        ...haltReport.steps.filter((s) => s.error !== undefined).map((s) => `step ${s.index + 1} ${s.name} not resolved: ${s.error}`),
        ...haltReport.targets.filter((t) => t.status === 'failed').map((t) => `${t.id}: ${t.error}`),
      ]
      report.error = `the halt was ${haltReport.status}: ${failures.join('; ')}`
    } else if (report.mismatches.length > 0) report.verdict = 'restore-mismatch'
    else report.verdict = haltReport.withinSlo ? 'pass' : 'slo-breached'
  } catch (error) {
    report.verdict = 'error'
    report.error = errorMessage(error)
  } finally {
    const invoker = await identify(ports, () => undefined)
    await new AuditTrail(ports.stateDir)
      .append({
        event: 'drill',
        invocation: drillId,
        invoker,
        trigger: input.trigger,
        scope: input.scope.label,
        reason,
        runbook: report.runbook,
        outcome: {
          verdict: report.verdict,
          timeToHaltMs: report.timeToHaltMs,
          sloMs: report.sloMs,
          haltId: report.halt?.haltId ?? null,
          restoreId: report.restore?.restoreId ?? null,
          mismatches: report.mismatches.map((m) => m.id),
          error: report.error,
        },
      })
      .catch((error: Error) => warn(`could not write the audit record: ${error.message}`))
    await notifyInBackground(
      ports,
      runbook.notify.sns,
      `killswitch drill ${input.scope.label}: ${report.verdict}`,
      { event: 'drill', drillId, scope: input.scope.label, verdict: report.verdict, timeToHaltMs: report.timeToHaltMs, sloMs: report.sloMs, trigger: input.trigger },
      warn,
    )
  }
  return report
}

/** Reads every halted target again, independently of the restore's own verification, and compares it with its snapshot. */
async function compareWithSnapshots(
  haltReport: HaltReport,
  ports: EnginePorts,
  reason: string,
  drillId: string,
  warn: (m: string) => void,
): Promise<DrillMismatch[]> {
  const primitives = new PrimitiveSet(ports)
  const controller = new AbortController()
  const ctx = primitiveContext(new Pacer(), controller.signal, reason, drillId, warn)
  try {
    const found = await Promise.all(
      haltReport.targets
        .filter((t) => t.status !== 'failed' || Object.keys(t.before).length > 0)
        .map(async (t): Promise<DrillMismatch | undefined> => {
          const primitive = await primitives.get(t.kind)
          const target = { id: t.id, kind: t.kind, label: t.label, locator: t.locator }
          try {
            const liveState = await primitive.read(target, ctx)
            return primitive.sameState(liveState, t.before)
              ? undefined
              : { id: t.id, label: t.label, snapshot: t.before, live: liveState, reason: `now ${primitive.describe(liveState)}, snapshot ${primitive.describe(t.before)}` }
          } catch (error) {
            return { id: t.id, label: t.label, snapshot: t.before, live: null, reason: `could not read it back: ${errorMessage(error)}` }
          }
        }),
    )
    return found.filter((m): m is DrillMismatch => m !== undefined)
  } finally {
    controller.abort()
    await primitives.closeAll()
  }
}
