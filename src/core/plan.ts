/**
 * plan: what a halt of the scope would touch, each target's live state, and the predicted time-to-halt against
 * the SLO. Reads only. The prediction replays the halt's request schedule on a virtual clock through the same
 * pacer the halt uses, with the primitives' own per-target request lists and settle times.
 */
import { Journal } from '../journal/journal.js'
import { identify, PrimitiveSet, primitiveContext, resolveSteps, type EnginePorts, type InvocationInput, type ResolvedStep } from './engine.js'
import { Pacer } from './pacing.js'
import type { TargetState } from './primitive.js'
import { REPORT_SCHEMA_VERSION, type PlanReport, type PlannedTarget } from './report.js'
import { durationMs } from './scope.js'

export interface PredictionInput {
  steps: { index: number; targets: { calls: { key: string; ratePerSecond: number; burst?: number }[]; settleMs: number }[] }[]
  /** Round-trip time assumed for one request. */
  requestMs: number
  /** Time before the first request: process start-up, identity, resolution. */
  startMs: number
}

/**
 * Replays the halt schedule on a virtual clock; returns when each step is applied and verified. As in a halt,
 * every target's snapshot read starts at once, its mutation waits until the step before has sent its first
 * mutation, and each request waits its turn in its bucket (first come, first served).
 */
export function predictTimeToHalt(input: PredictionInput): PlanReport['prediction'] {
  let clock = input.startMs
  const pacer = new Pacer(() => clock)
  let gate = input.startMs
  let end = input.startMs
  let bottleneck = 'start-up'
  const perStep: PlanReport['prediction']['perStep'] = []
  for (const step of input.steps) {
    const runs = step.targets.map((target) => ({ target, ready: input.startMs, slowest: { key: '', waitMs: -1 }, appliedAt: input.startMs }))
    const longest = Math.max(0, ...step.targets.map((t) => t.calls.length))
    for (let i = 0; i < longest; i++) {
      const due = runs.filter((r) => i < r.target.calls.length)
      for (const r of due) if (i === Math.max(0, r.target.calls.length - 2)) r.ready = Math.max(r.ready, gate)
      due.sort((a, b) => a.ready - b.ready)
      for (const r of due) {
        clock = r.ready
        const bucket = r.target.calls[i]!
        const wait = pacer.reserve(bucket)
        if (wait > r.slowest.waitMs) r.slowest = { key: bucket.key, waitMs: wait }
        r.ready += wait + input.requestMs
        if (i === Math.max(0, r.target.calls.length - 2)) r.appliedAt = r.ready
      }
    }
    let applyDone = gate
    let verified = gate
    let firstMutation = Number.POSITIVE_INFINITY
    for (const r of runs) {
      firstMutation = Math.min(firstMutation, r.appliedAt - input.requestMs)
      applyDone = Math.max(applyDone, r.appliedAt)
      const done = r.ready + r.target.settleMs
      if (done > verified) {
        verified = done
        if (done > end) bottleneck = r.target.settleMs > r.slowest.waitMs ? `settle time of step ${step.index + 1} (${r.target.settleMs} ms)` : `rate limit of ${r.slowest.key}`
      }
    }
    perStep.push({ index: step.index, applyDoneMs: Math.round(applyDone), verifiedMs: Math.round(verified) })
    end = Math.max(end, verified)
    if (runs.length > 0) gate = Math.max(gate, firstMutation)
  }
  return { timeToHaltMs: Math.round(end), withinSlo: false, bottleneck, perStep }
}

export async function planHalt(input: InvocationInput, ports: EnginePorts): Promise<PlanReport> {
  const { runbook } = input.loaded
  const warnings: string[] = []
  const warn = (message: string) => {
    warnings.push(message)
    ports.emit({ type: 'warning', message })
  }
  const primitives = new PrimitiveSet(ports)
  const controller = new AbortController()
  const ctx = primitiveContext(new Pacer(), controller.signal, input.reason, 'plan', warn)
  try {
    const startupMs = ports.now()
    const identityStart = ports.now()
    const invoker = await identify(ports, warn)
    if (!invoker.arn) warn('the caller identity is unknown, so a halt would be refused without --override-authority')
    const identityMs = ports.now() - identityStart
    const resolveStart = ports.now()
    const steps = await resolveSteps(input, primitives, ctx)
    const resolveMs = ports.now() - resolveStart
    const journal = await Journal.read(ports.stateDir)
    const states = await readAll(steps, ctx)
    const sloMs = durationMs(runbook.slo[input.scope.level])
    const plannedSteps = steps.map((step) => ({
      index: step.index,
      name: step.name,
      kind: step.kind,
      targets: step.targets.map((target): PlannedTarget => {
        const entry = journal.entries.get(target.id)
        if (target.missing) {
          warn(`step ${step.index + 1} (${step.name}): ${target.missing.message}; a halt fails this target and halts the others`)
          return { id: target.id, kind: target.kind, label: target.label, step: step.index, current: {}, currentText: 'missing', action: 'none (missing)' }
        }
        const current = states.get(target.id)!
        return {
          id: target.id,
          kind: target.kind,
          label: target.label,
          step: step.index,
          current,
          currentText: step.primitive.describe(current),
          action: step.primitive.isHalted(current) ? 'none (already halted)' : 'halt',
          ...(entry ? { heldBy: entry.holds } : {}),
        }
      }),
    }))
    const prediction = predictTimeToHalt({
      startMs: startupMs + identityMs + resolveMs,
      requestMs: 50,
      steps: steps.map((step) => ({
        index: step.index,
        targets: step.targets.filter((t) => !t.missing).map((t) => step.primitive.estimate(t, states.get(t.id)!)),
      })),
    })
    prediction.withinSlo = prediction.timeToHaltMs <= sloMs
    return {
      schemaVersion: REPORT_SCHEMA_VERSION,
      kind: 'plan',
      scope: input.scope.label,
      runbook: { name: runbook.metadata.name, path: input.loaded.path, digest: input.loaded.digest },
      sloMs,
      steps: plannedSteps,
      prediction,
      warnings,
    }
  } finally {
    controller.abort(new Error('plan finished'))
    await primitives.closeAll()
  }
}

async function readAll(steps: ResolvedStep[], ctx: ReturnType<typeof primitiveContext>): Promise<Map<string, TargetState>> {
  const states = new Map<string, TargetState>()
  await Promise.all(
    steps.flatMap((step) =>
      step.targets.map(async (target) => {
        if (target.missing) return
        states.set(target.id, target.observed ?? (await step.primitive.read(target, ctx)))
      }),
    ),
  )
  return states
}
