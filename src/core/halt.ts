/**
 * halt: resolve the scope's targets, then for every target: read its state, write the snapshot ahead to the
 * journal, apply, and verify by reading back. Steps start in the runbook's order: no mutation of a step leaves
 * before the first mutation of the step before it. They do not wait for each other to finish, because every
 * step is a halt and waiting would only delay the stop; where two steps share a platform's rate limit, the
 * earlier step's requests queue first. Within a step targets fan out, each request paced in its platform's
 * rate-limit bucket, and verification starts as soon as a target is applied.
 *
 * Time-to-halt runs from process start to the last verified target, minus the time spent waiting for the
 * operator's confirmation (reported on its own).
 */
import { AuditTrail } from '../audit/trail.js'
import { Journal, type JournalEntry } from '../journal/journal.js'
import { acquireLock } from '../journal/lock.js'
import { isAuthorized } from './authority.js'
import {
  errorMessage,
  identifyWithCause,
  newInvocationId,
  notifyInBackground,
  PrimitiveSet,
  atPriority,
  primitiveContext,
  startResolving,
  verifyWithin,
  ResolveError,
  type EnginePorts,
  type StepResolution,
  type InvocationInput,
  type ResolvedStep,
} from './engine.js'
import { holdAfterHalt, type HoldOptions } from './hold.js'
import { Pacer, PRIORITY } from './pacing.js'
import type { Target, TargetState } from './primitive.js'
import { REPORT_SCHEMA_VERSION, type HaltReport, type StepReport, type TargetReport } from './report.js'
import { durationMs } from './scope.js'

export interface HaltInput extends InvocationInput {
  /** Proceed although the caller is not in the runbook's authority (loudly audited and notified). */
  overrideAuthority: boolean
  /** Give up verifying a target after this long, not counting its read-backs' wait for pacing (see Deadline). */
  verifyTimeoutMs: number
  /** Asked once targets are resolved and before any mutation; false declines (a soft refusal). */
  confirm?: (summary: HaltSummary) => Promise<boolean>
  /** Audit event name: a drill records its halt as part of the drill. */
  auditEvent?: 'halt'
  /** Keep the verified targets halted for a while after the last verification (src/core/hold.ts); none by default. */
  hold?: HoldOptions
}

export interface HaltSummary {
  scope: string
  steps: { name: string; kind: string; targets: string[] }[]
  /**
   * Steps that could not be resolved: the halt goes on with the others (as under --yes), so the operator sees these
   * first. When no step resolves, there is nothing to confirm and the halt fails with the reasons instead.
   */
  unresolved: { name: string; kind: string; error: string }[]
  alreadyHalted: number
}

class Gate {
  readonly promise: Promise<void>
  open!: () => void
  constructor() {
    this.promise = new Promise((resolve) => (this.open = resolve))
  }
}

export async function halt(input: HaltInput, ports: EnginePorts): Promise<HaltReport> {
  const { runbook } = input.loaded
  const haltId = newInvocationId('h')
  const warnings: string[] = []
  const warn = (message: string) => {
    warnings.push(message)
    ports.emit({ type: 'warning', message })
  }
  const startupMs = ports.now()
  const sloMs = durationMs(runbook.slo[input.scope.level])
  const audit = new AuditTrail(ports.stateDir)
  const runbookRef = { name: runbook.metadata.name, path: input.loaded.path, digest: input.loaded.digest }
  const topics = runbook.notify.sns
  const report: HaltReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'halt',
    haltId,
    status: 'failed',
    scope: input.scope.label,
    reason: input.reason,
    trigger: input.trigger,
    invoker: { arn: null, account: null, osUser: ports.osUser, host: ports.host },
    authority: { allowed: false, overridden: false },
    runbook: runbookRef,
    timeToHaltMs: null,
    sloMs,
    withinSlo: false,
    breakdown: { startupMs, resolveMs: 0, confirmMs: 0, applyMs: 0, verifyMs: 0 },
    steps: [],
    targets: [],
    warnings,
  }
  const auditBase = () => ({ invocation: haltId, invoker: report.invoker, trigger: input.trigger, scope: input.scope.label, reason: input.reason, runbook: runbookRef })

  const lock = await acquireLock(ports.stateDir, `halt --scope ${input.scope.label}`)
  if (lock.tookOverFrom) warn(`took over a stale lock left by pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command})`)
  const primitives = new PrimitiveSet(ports)
  const controller = new AbortController()
  const pacer = new Pacer()
  // Resolution comes first: everything else waits for its targets.
  const ctx = primitiveContext(pacer, controller.signal, input.reason, haltId, warn, PRIORITY.mutation)
  let journal: Journal | undefined
  let finalRecord: 'halt' | 'none' = 'none'
  const notifications: Promise<void>[] = []
  try {
    // Identity and resolution only read, so they run side by side; no mutation leaves before the authority check.
    ports.emit({ type: 'phase', phase: 'identity', atMs: ports.now() })
    const identity = identifyWithCause(ports)
    const resolutions = startResolving(input, primitives, ctx)
    const { invoker, failure: identityFailure } = await identity
    report.invoker = invoker
    const allowed = isAuthorized(report.invoker.arn, runbook.authority.principals)
    report.authority = { allowed, overridden: !allowed && input.overrideAuthority }
    if (identityFailure && !input.overrideAuthority) {
      // Not knowing who the caller is (no credentials, an expired session, STS out of reach) is its own error, with
      // its own fix; calling it "outside the authority" would send the operator to --override-authority.
      report.status = 'refused'
      report.refusal = `the caller's identity could not be established: ${errorMessage(identityFailure)}`
      await audit.append({ ...auditBase(), event: 'refused', outcome: { action: 'halt', refusal: report.refusal } })
      throw identityFailure
    }
    if (identityFailure) warn(`could not establish the caller identity with STS GetCallerIdentity: ${errorMessage(identityFailure)}`)
    if (!allowed && !input.overrideAuthority) {
      report.status = 'refused'
      report.refusal = `caller ${report.invoker.arn ?? '(unknown: no STS identity)'} is not in the runbook's authority (${runbook.authority.principals.join(', ')}); an operator outside it may force the halt with --override-authority, which is audited and announced`
      await audit.append({ ...auditBase(), event: 'refused', outcome: { action: 'halt', refusal: report.refusal } })
      notifications.push(notifyInBackground(ports, topics, `killswitch REFUSED halt ${input.scope.label}`, { event: 'refused', action: 'halt', ...auditBase() }, warn))
      return report
    }
    if (!allowed) warn(`AUTHORITY OVERRIDDEN: ${report.invoker.arn ?? 'an unidentified caller'} halts ${input.scope.label} outside the runbook's authority; this is audited and announced`)

    const prior = await Journal.read(ports.stateDir)
    if (prior.tornTail) warn('the journal ended in a torn record (a crash mid-write); it was ignored')
    for (const u of prior.unfinished) warn(`resuming after an unfinished ${u.action} ${u.scope} (${u.invocation}, ${u.at})`)
    journal = await Journal.open(ports.stateDir)
    await audit.append({ ...auditBase(), event: 'halt-started', outcome: { overrideAuthority: report.authority.overridden } })
    finalRecord = 'halt'
    notifications.push(
      notifyInBackground(
        ports,
        topics,
        `killswitch halt ${input.scope.label} started${report.authority.overridden ? ' (AUTHORITY OVERRIDDEN)' : ''}`,
        { event: 'halt-started', ...auditBase(), overrideAuthority: report.authority.overridden },
        warn,
      ),
    )
    await journal.append({ type: 'begin', invocation: haltId, action: 'halt', scope: input.scope.label, runbook: runbookRef.name, digest: runbookRef.digest, at: new Date().toISOString() })
    ports.emit({ type: 'phase', phase: 'resolve', atMs: ports.now() })

    let confirmMs = 0
    if (input.confirm) {
      // The operator confirms what was resolved: every step, before anything changes. One rule with and without a
      // prompt: what can be halted is, and what cannot is named (first, here).
      const settled = await Promise.allSettled(resolutions.map((r) => r.resolved))
      if (settled.every((r) => r.status === 'rejected')) await resolveAll(resolutions)
      const steps = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
      const unresolved = settled.flatMap((r, i) =>
        r.status === 'rejected' ? [{ name: resolutions[i]!.name, kind: resolutions[i]!.kind, error: errorMessage(r.reason) }] : [],
      )
      report.breakdown.resolveMs = ports.now() - startupMs
      ports.emit({ type: 'phase', phase: 'confirm', atMs: ports.now() })
      const asked = ports.now()
      const yes = await input.confirm({
        scope: input.scope.label,
        steps: steps.map((s) => ({ name: s.name, kind: s.kind, targets: s.targets.map((t) => t.label) })),
        unresolved,
        alreadyHalted: steps.reduce((n, s) => n + s.targets.filter((t) => prior.entries.has(t.id)).length, 0),
      })
      confirmMs = ports.now() - asked
      report.breakdown.confirmMs = confirmMs
      if (!yes) {
        report.status = 'refused'
        report.refusal = 'the operator declined the confirmation; nothing was changed'
        await journal.append({ type: 'end', invocation: haltId, status: 'declined', at: new Date().toISOString() })
        await audit.append({ ...auditBase(), event: 'refused', outcome: { action: 'halt', refusal: report.refusal } })
        finalRecord = 'none'
        return report
      }
    }

    ports.emit({ type: 'phase', phase: 'apply', atMs: ports.now() })
    const applyStart = ports.now()
    const results = await executeSteps(resolutions, prior.entries, journal, input, ports, ctx, pacer, haltId, report)
    if (report.breakdown.resolveMs === 0) report.breakdown.resolveMs = Math.max(0, applyStart - startupMs)
    const verifiedTimes = results.flatMap((t) => (t.timings.verifiedMs !== undefined ? [t.timings.verifiedMs] : []))
    const appliedTimes = results.flatMap((t) => (t.timings.appliedMs !== undefined ? [t.timings.appliedMs] : []))
    const failedTargets = results.filter((t) => t.status === 'failed').length
    const failedSteps = report.steps.filter((s) => s.error !== undefined).length
    report.targets = results
    if (failedSteps === resolutions.length) {
      // Nothing resolved, so nothing changed: a runbook or credentials problem, reported as such.
      await resolveAll(resolutions)
    }
    const lastVerified = verifiedTimes.length > 0 ? Math.max(...verifiedTimes) : ports.now()
    report.breakdown.applyMs = (appliedTimes.length > 0 ? Math.max(...appliedTimes) : applyStart) - applyStart
    report.breakdown.verifyMs = Math.max(0, lastVerified - applyStart - report.breakdown.applyMs)
    if (failedTargets === 0 && failedSteps === 0) {
      report.timeToHaltMs = Math.round(lastVerified - confirmMs)
      report.withinSlo = report.timeToHaltMs <= sloMs
      report.status = report.withinSlo ? 'halted' : 'slo-breached'
    } else {
      report.status = failedTargets === results.length ? 'failed' : 'partial'
      // What is still running and what to do next, in the report (so --json carries it) as well as on screen.
      const notHalted = results.filter((t) => t.status === 'failed')
      const shown = notHalted.slice(0, 10).map((t) => t.label).join(', ') + (notHalted.length > 10 ? `, and ${notHalted.length - 10} more` : '')
      const unresolvedSteps = report.steps.filter((s) => s.error !== undefined).map((s) => `step ${s.index + 1} ${s.name}`)
      warn(
        [
          notHalted.length > 0 ? `${notHalted.length} of ${results.length} target(s) NOT halted: ${shown}` : '',
          unresolvedSteps.length > 0 ? `not resolved, so not halted at all: ${unresolvedSteps.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; ') + '; fix what the errors name and run the same halt again: what was halted stays halted and keeps its first snapshot',
      )
    }
    ports.emit({ type: 'phase', phase: 'done', atMs: ports.now() })
    await journal.append({ type: 'end', invocation: haltId, status: report.status, at: new Date().toISOString() })
  } catch (error) {
    report.status = 'failed'
    report.refusal = errorMessage(error)
    await journal?.append({ type: 'end', invocation: haltId, status: 'failed', at: new Date().toISOString() }).catch(() => undefined)
    throw error
  } finally {
    controller.abort(new Error('halt finished'))
    await journal?.close()
    await primitives.closeAll()
    await lock.release()
    if (finalRecord === 'halt') {
      await audit
        .append({ ...auditBase(), event: input.auditEvent ?? 'halt', outcome: auditOutcome(report) })
        .catch((error: Error) => warn(`could not write the audit record: ${error.message}`))
      notifications.push(
        notifyInBackground(
          ports,
          topics,
          `killswitch halt ${input.scope.label}: ${report.status}`,
          { event: 'halt', ...auditBase(), status: report.status, timeToHaltMs: report.timeToHaltMs, sloMs, withinSlo: report.withinSlo, targets: report.targets.length, failed: report.targets.filter((t) => t.status === 'failed').map((t) => t.id) },
          warn,
        ),
      )
    }
    await Promise.all(notifications)
  }
  // Reached only by a halt that ran (a refusal returns above): it is over, journaled, audited and announced, and the
  // lock is released, so a restore may run during the hold.
  if (input.hold) await holdAfterHalt(report, { ...input, hold: input.hold }, ports, warn)
  return report
}

/** Every step resolved, or a ResolveError listing each step that could not be (targets deduplicated across steps). */
async function resolveAll(resolutions: StepResolution[]): Promise<ResolvedStep[]> {
  const results = await Promise.allSettled(resolutions.map((r) => r.resolved))
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ step: i, name: resolutions[i]!.name, message: (r.reason as Error).message, hint: (r.reason as { hint?: string }).hint }] : [],
  )
  if (failures.length > 0) throw new ResolveError(failures)
  return results.map((r) => (r as PromiseFulfilledResult<ResolvedStep>).value)
}

function auditOutcome(report: HaltReport): Record<string, unknown> {
  return {
    status: report.status,
    timeToHaltMs: report.timeToHaltMs,
    sloMs: report.sloMs,
    withinSlo: report.withinSlo,
    overrideAuthority: report.authority.overridden,
    breakdown: report.breakdown,
    targets: report.targets.map((t) => ({ id: t.id, status: t.status, before: t.beforeText, error: t.error, timings: t.timings })),
    error: report.status === 'failed' ? report.refusal : undefined,
  }
}

async function executeSteps(
  resolutions: StepResolution[],
  journaled: Map<string, JournalEntry>,
  journal: Journal,
  input: HaltInput,
  ports: EnginePorts,
  ctx: ReturnType<typeof primitiveContext>,
  pacer: Pacer,
  haltId: string,
  report: HaltReport,
): Promise<TargetReport[]> {
  const snapshotCtx = atPriority(ctx, pacer, PRIORITY.snapshot)
  const mutationCtx = atPriority(ctx, pacer, PRIORITY.mutation)
  let journaledCount = 0
  let appliedCount = 0
  const now = () => new Date().toISOString()
  const gates = resolutions.map(() => new Gate())
  /** Target id → the step acting on it: a target two steps name is halted once, by whichever claims it first. */
  const claimed = new Map<string, number>()
  const stepReports: StepReport[] = resolutions.map((s) => ({
    index: s.index,
    name: s.name,
    kind: s.kind,
    targets: 0,
    status: 'halted',
    startedMs: ports.now(),
    appliedMs: null,
    verifiedMs: null,
  }))
  report.steps = stepReports

  const runTarget = async (step: ResolvedStep, target: Target, previousStarted: Promise<void>, started: () => void): Promise<{ report: TargetReport; verified: Promise<void> }> => {
    const { primitive } = step
    const existing = journaled.get(target.id)
    const tr: TargetReport = {
      id: target.id,
      kind: target.kind,
      label: target.label,
      locator: target.locator,
      step: step.index,
      before: existing?.snapshot ?? {},
      beforeText: '',
      status: 'pending',
      timings: {},
    }
    const fail = (error: unknown) => {
      tr.status = 'failed'
      tr.error = errorMessage(error)
      ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: 'failed', atMs: ports.now(), error: tr.error })
      return journal.append({ type: 'failed', invocation: haltId, targetId: target.id, error: tr.error, at: now() }).catch(() => undefined)
    }
    if (target.missing) {
      // Nothing to read, journal or change: the runbook names something that is not there.
      tr.missing = true
      tr.error = errorMessage(Object.assign(new Error(target.missing.message), { hint: target.missing.hint }))
      tr.status = 'failed'
      ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: 'failed', atMs: ports.now(), error: tr.error })
      return { report: tr, verified: Promise.resolve() }
    }
    try {
      let live: TargetState
      if (existing) {
        // Halted before (by this scope or another, or a crashed run): keep the first snapshot, add a hold.
        await journal.append({ type: 'hold', invocation: haltId, scope: input.scope.label, targetId: target.id, at: now() })
        tr.timings.journaledMs = ports.now()
        live = target.observed ?? (await primitive.read(target, snapshotCtx))
        tr.timings.readMs = ports.now()
      } else {
        ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: 'reading', atMs: ports.now() })
        live = target.observed ?? (await primitive.read(target, snapshotCtx))
        tr.timings.readMs = ports.now()
        tr.before = live
        const { observed: _seen, ...journaled } = target
        await journal.append({ type: 'snapshot', invocation: haltId, scope: input.scope.label, step: step.index, target: journaled, snapshot: live, at: now() })
        tr.timings.journaledMs = ports.now()
        ports.crashPoint?.('journaled', ++journaledCount)
      }
      tr.beforeText = primitive.describe(tr.before)
      ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: 'journaled', atMs: ports.now() })
      await previousStarted
      started()
      const wasHalted = primitive.isHalted(live)
      if (!primitive.isHalted(live)) {
        ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: 'applying', atMs: ports.now() })
        await primitive.apply(target, live, mutationCtx)
      }
      tr.timings.appliedMs = ports.now()
      ports.crashPoint?.('applied', ++appliedCount)
      const appended = journal.append({ type: 'applied', invocation: haltId, targetId: target.id, at: now() })
      const verified = (async () => {
        ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: 'verifying', atMs: ports.now() })
        await verifyWithin(ctx, pacer, input.verifyTimeoutMs, 'halted', (verifying) => primitive.verifyHalted(target, verifying))
        tr.timings.verifiedMs = ports.now()
        tr.status = wasHalted ? 'already-halted' : 'halted'
        await appended
        await journal.append({ type: 'verified', invocation: haltId, targetId: target.id, at: now() })
        ports.emit({ type: 'target', step: step.index, id: target.id, label: target.label, state: tr.status, atMs: ports.now() })
      })().catch(fail)
      return { report: tr, verified }
    } catch (error) {
      await fail(error)
      return { report: tr, verified: Promise.resolve() }
    }
  }

  const all: { report: TargetReport; verified: Promise<void> }[][] = []
  const stepRuns = resolutions.map(async (resolution, i) => {
    const previousStarted = i === 0 ? Promise.resolve() : gates[i - 1]!.promise
    const stepReport = stepReports[i]!
    let step: ResolvedStep
    try {
      step = await resolution.resolved
    } catch (error) {
      stepReport.status = 'failed'
      stepReport.error = errorMessage(error)
      ports.emit({ type: 'warning', message: `step ${i + 1} ${resolution.name} could not be resolved, the other steps go on: ${stepReport.error}` })
      await previousStarted
      gates[i]!.open()
      all[i] = []
      return
    }
    const targets = step.targets.filter((t) => {
      const owner = claimed.get(t.id)
      if (owner !== undefined && owner !== i) return false
      claimed.set(t.id, i)
      return true
    })
    stepReport.targets = targets.length
    void previousStarted.then(() => {
      stepReport.startedMs = ports.now()
      ports.emit({ type: 'step', index: step.index, name: step.name, kind: step.kind, targets: targets.length, atMs: ports.now() })
    })
    const runs = await Promise.all(targets.map((t) => runTarget(step, t, previousStarted, () => gates[i]!.open())))
    // A step none of whose targets got as far as a mutation must not hold back the steps after it.
    await previousStarted
    gates[i]!.open()
    stepReport.appliedMs = ports.now()
    all[i] = runs
    await Promise.all(runs.map((r) => r.verified))
    const failed = runs.filter((r) => r.report.status === 'failed').length
    stepReport.status = failed === 0 ? 'halted' : failed === runs.length ? 'failed' : 'partial'
    const times = runs.flatMap((r) => (r.report.timings.verifiedMs !== undefined ? [r.report.timings.verifiedMs] : []))
    stepReport.verifiedMs = times.length === runs.length && times.length > 0 ? Math.max(...times) : null
  })
  await Promise.all(stepRuns)
  return all.flat().map((r) => r.report)
}
