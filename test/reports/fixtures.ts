/**
 * Hand-built DrillReports: a passing drill (3 steps, 8 targets), an SLO breach, a restore mismatch and a partial
 * failure, with names distinctive enough that a test can prove they are gone from a redacted report.
 */
import type { DrillReport } from '../../src/core/drill.js'
import type { PrimitiveKind } from '../../src/core/primitive.js'
import type { HaltReport, RestoreReport, StepReport, TargetReport } from '../../src/core/report.js'

export const ACCOUNT = '123456789012'
export const NAMESPACE = 'payments-agents'
export const CLUSTER = 'prod-eu-cluster'
export const PROJECT = 'acme-agent-flags'
export const ENVIRONMENT = 'live-eu'
export const INVOKER_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/killswitch-breakglass/alice`

interface TargetSpec {
  kind: PrimitiveKind
  id: string
  label: string
  locator: TargetReport['locator']
  before: TargetReport['before']
  beforeText: string
}

const STEPS: { name: string; kind: PrimitiveKind; targets: TargetSpec[] }[] = [
  {
    name: 'flags off',
    kind: 'flagOff',
    targets: ['refund-agents-enabled', 'refund-autopay'].map((key) => ({
      kind: 'flagOff',
      id: `flag:${PROJECT}:${ENVIRONMENT}:${key}`,
      label: key,
      locator: { project: PROJECT, environment: ENVIRONMENT, key },
      before: { on: true },
      beforeText: 'on',
    })),
  },
  {
    name: 'deny roles',
    kind: 'denyAll',
    targets: ['refund-worker-role', 'refund-planner-role'].map((name) => ({
      kind: 'denyAll',
      id: `iam:${ACCOUNT}:role/${name}`,
      label: `role/${name}`,
      locator: { account: ACCOUNT, type: 'role', name, policyName: 'killswitch-deny-all' },
      before: { policy: null },
      beforeText: 'no killswitch policy',
    })),
  },
  {
    name: 'scale workloads',
    kind: 'scaleToZero',
    targets: ['refund-api', 'refund-batch', 'refund-ledger', 'refund-notifier'].map((name) => ({
      kind: 'scaleToZero',
      id: `k8s:${CLUSTER}:${NAMESPACE}:deployment/${name}`,
      label: `${NAMESPACE}/deployment/${name}`,
      locator: { context: CLUSTER, namespace: NAMESPACE, kind: 'deployment', name, podSelector: `app=${name}` },
      before: { replicas: 3 },
      beforeText: 'replicas=3',
    })),
  },
]

/** Every resource name of the fixtures: none may appear in a redacted report. */
export function resourceNames(report: DrillReport): string[] {
  const targets = report.halt?.targets ?? []
  return [
    ...new Set([
      ...targets.flatMap((t) => [t.id, t.label, ...Object.values(t.locator).filter((v): v is string => typeof v === 'string' && !['deployment', 'role', 'killswitch-deny-all'].includes(v))]),
      ACCOUNT,
      NAMESPACE,
      CLUSTER,
      PROJECT,
      ENVIRONMENT,
      INVOKER_ARN,
      'refund',
      'agents-prod',
      'alice-laptop',
      'alice',
    ]),
  ]
}

const invoker = { arn: INVOKER_ARN, account: ACCOUNT, osUser: 'alice', host: 'alice-laptop' }
const runbook = { name: 'agents-prod', path: 'runbooks/agents-prod.yaml', digest: 'sha256:0f1e2d3c' }

/** A drill that passed: every target halted by 4.2 s (SLO 30 s) and came back. */
export function passingReport(drillId = 'd-20250101T000000Z-aaaaaa'): DrillReport {
  let clock = 800
  const steps: StepReport[] = []
  const targets: TargetReport[] = []
  STEPS.forEach((spec, index) => {
    const startedMs = 1000 + index * 1000
    const stepTargets = spec.targets.map((t): TargetReport => {
      clock += 10
      return {
        ...t,
        step: index,
        status: 'halted',
        timings: { readMs: clock, journaledMs: clock + 5, appliedMs: startedMs + 300, verifiedMs: startedMs + 900 + targets.length * 10 },
      }
    })
    targets.push(...stepTargets)
    steps.push({
      index,
      name: spec.name,
      kind: spec.kind,
      targets: stepTargets.length,
      status: 'halted',
      startedMs,
      appliedMs: startedMs + 300,
      verifiedMs: Math.max(...stepTargets.map((t) => t.timings.verifiedMs!)),
    })
  })
  const timeToHaltMs = Math.max(...steps.map((s) => s.verifiedMs!))
  const halt: HaltReport = {
    schemaVersion: 1,
    kind: 'halt',
    haltId: 'h-20250101T000000Z-bbbbbb',
    status: 'halted',
    scope: 'class=refund',
    reason: `drill ${drillId}: weekly drill`,
    trigger: 'scheduled',
    invoker,
    authority: { allowed: true, overridden: false },
    runbook,
    timeToHaltMs,
    sloMs: 30_000,
    withinSlo: true,
    breakdown: { startupMs: 600, resolveMs: 300, confirmMs: 0, applyMs: 1500, verifyMs: 1800 },
    steps,
    targets,
    warnings: [],
  }
  const restore: RestoreReport = {
    schemaVersion: 1,
    kind: 'restore',
    restoreId: 'r-20250101T000010Z-cccccc',
    status: 'restored',
    scope: 'class=refund',
    reason: halt.reason,
    trigger: 'scheduled',
    invoker,
    forced: false,
    runbook,
    durationMs: 2500,
    targets: targets.map((t) => ({
      id: t.id,
      kind: t.kind,
      label: t.label,
      step: t.step,
      snapshot: t.before,
      snapshotText: t.beforeText,
      live: t.before,
      liveText: t.beforeText,
      status: 'restored',
      timings: { restoredMs: 6000, verifiedMs: 6500 },
    })),
    warnings: [],
  }
  return {
    schemaVersion: 1,
    kind: 'drill',
    drillId,
    verdict: 'pass',
    scope: 'class=refund',
    trigger: 'scheduled',
    runbook,
    startedAt: '2025-01-01T00:00:00.000Z',
    timeToHaltMs,
    sloMs: 30_000,
    withinSlo: true,
    halt,
    restore,
    mismatches: [],
    warnings: [],
  }
}

/** Every target halted and came back, but the halt took 45 s against a 30 s SLO. */
export function breachedReport(): DrillReport {
  const report = passingReport('d-20250102T000000Z-bbbbbb')
  const halt = report.halt!
  const last = halt.targets[halt.targets.length - 1]!
  last.timings.verifiedMs = 45_000
  halt.steps[2]!.verifiedMs = 45_000
  Object.assign(halt, { status: 'slo-breached', timeToHaltMs: 45_000, withinSlo: false })
  return { ...report, verdict: 'slo-breached', timeToHaltMs: 45_000, withinSlo: false }
}

/** A deployment came back with 1 replica instead of its snapshot's 3. */
export function mismatchReport(): DrillReport {
  const report = passingReport('d-20250103T000000Z-cccccc')
  const drifted = report.restore!.targets.find((t) => t.label.endsWith('refund-ledger'))!
  Object.assign(drifted, { status: 'drifted', live: { replicas: 1 }, liveText: 'replicas=1', error: 'live state drifted from what the halt left' })
  report.restore!.status = 'partial'
  report.mismatches = [
    { id: drifted.id, label: drifted.label, snapshot: { replicas: 3 }, live: { replicas: 1 }, reason: `now replicas=1, snapshot replicas=3 (${drifted.label})` },
  ]
  return { ...report, verdict: 'restore-mismatch' }
}

/** Escaping bait: markup and quote characters in a name and an error. */
export const ODD_ERROR = 'AccessDenied: <User> & "refund-planner-role" can\'t PutRolePolicy'

/** The IAM step was partial: one role refused the deny-all policy. */
export function partialFailureReport(): DrillReport {
  const report = passingReport('d-20250104T000000Z-dddddd')
  const halt = report.halt!
  const failed = halt.targets.find((t) => t.label === 'role/refund-planner-role')!
  Object.assign(failed, { status: 'failed', error: ODD_ERROR, timings: { readMs: 850, journaledMs: 855, appliedMs: 2300 } })
  halt.steps[1]!.status = 'partial'
  halt.status = 'partial'
  report.restore!.targets = report.restore!.targets.filter((t) => t.id !== failed.id)
  return { ...report, verdict: 'error', error: `the halt was partial: ${failed.id}: ${ODD_ERROR}`, warnings: [`could not verify ${failed.label} <in time>`] }
}

/** A passing drill of `count` Lambda functions in one step, for the rendering limits. */
export function largeReport(count: number): DrillReport {
  const report = passingReport('d-20250105T000000Z-eeeeee')
  const halt = report.halt!
  const targets: TargetReport[] = Array.from({ length: count }, (_, i) => {
    const name = `refund-fn-${String(i).padStart(4, '0')}`
    return {
      kind: 'lambdaConcurrencyZero',
      id: `lambda:${ACCOUNT}:eu-west-1:${name}`,
      label: name,
      locator: { account: ACCOUNT, region: 'eu-west-1', name },
      step: 0,
      before: { reservedConcurrency: null },
      beforeText: 'unreserved',
      status: 'halted',
      timings: { readMs: 500, journaledMs: 600 + i, appliedMs: 1000 + i * 60, verifiedMs: 1100 + i * 66 },
    }
  })
  const timeToHaltMs = targets[targets.length - 1]!.timings.verifiedMs!
  halt.steps = [{ index: 0, name: 'zero lambdas', kind: 'lambdaConcurrencyZero', targets: count, status: 'halted', startedMs: 900, appliedMs: 1000 + count * 60, verifiedMs: timeToHaltMs }]
  halt.targets = targets
  halt.timeToHaltMs = timeToHaltMs
  report.restore!.targets = []
  const sloMs = 90_000
  return { ...report, halt: { ...halt, sloMs, withinSlo: timeToHaltMs <= sloMs }, timeToHaltMs, sloMs, withinSlo: timeToHaltMs <= sloMs }
}
