/**
 * What the core returns and emits. Reports are plain JSON values (the `--json` output is a report inside the
 * envelope of src/cli/output.ts); events are typed progress the CLI renders. The core never prints.
 */
import type { PrimitiveKind, Target, TargetState } from './primitive.js'

/** Bumped on any incompatible change to a report's shape; documented in docs/json-output.md. */
export const REPORT_SCHEMA_VERSION = 1

export interface Invoker {
  arn: string | null
  account: string | null
  osUser: string
  host: string
}

export type Trigger = 'human' | 'automated' | 'scheduled' | 'ci'

/** Times are milliseconds since the killswitch process started. */
export interface TargetTimings {
  readMs?: number
  journaledMs?: number
  appliedMs?: number
  verifiedMs?: number
}

export interface TargetReport {
  id: string
  kind: PrimitiveKind
  label: string
  /** Where the target lives (account, region, namespace, ...), as the primitive found it. */
  locator: Target['locator']
  step: number
  before: TargetState
  beforeText: string
  /** halted: applied and verified now; already-halted: it was halted before this invocation (its first snapshot kept). */
  status: 'halted' | 'already-halted' | 'failed' | 'pending'
  error?: string
  /** A resource the runbook names that does not exist: failed without being read or changed. */
  missing?: true
  timings: TargetTimings
  /** With a hold: how many times it was found no longer halted (each one is in the report's `reversions`). */
  reversions?: number
}

export interface StepReport {
  index: number
  name: string
  kind: PrimitiveKind
  targets: number
  status: 'halted' | 'failed' | 'partial'
  /** Why the step could not be resolved; its targets are then unknown and the halt is partial. */
  error?: string
  startedMs: number
  appliedMs: number | null
  verifiedMs: number | null
}

export type HaltStatus = 'halted' | 'slo-breached' | 'partial' | 'failed' | 'refused'

export interface HaltReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'halt'
  haltId: string
  status: HaltStatus
  scope: string
  reason: string
  trigger: Trigger
  invoker: Invoker
  authority: { allowed: boolean; overridden: boolean }
  runbook: { name: string; path: string; digest: string }
  timeToHaltMs: number | null
  sloMs: number
  withinSlo: boolean
  breakdown: { startupMs: number; resolveMs: number; confirmMs: number; applyMs: number; verifyMs: number }
  steps: StepReport[]
  targets: TargetReport[]
  refusal?: string
  warnings: string[]
  /** Present with `--hold`: how the hold after the last verification went. */
  hold?: HoldSummary
  /** Present with `--hold`: every time a verified target was found no longer halted, in the order seen. */
  reversions?: Reversion[]
}

/** Why a hold ended. */
export type HoldEnd = 'elapsed' | 'restored' | 'interrupted'

export interface HoldSummary {
  /** How long the hold was asked to last; null for `forever` (until restore or interrupt). */
  requestedMs: number | null
  /** Pause between two rounds of read-backs of every held target. */
  intervalMs: number
  startedMs: number
  endedMs: number
  ended: HoldEnd
  /** Rounds of read-backs done. */
  rounds: number
  /** Targets held (every target this halt verified, or that the journal holds under the scope for a guard). */
  targets: number
}

/**
 * A held target found no longer halted. `outcome` is where it stands at the end: re-halted (applied and verified
 * again), not-halted (every re-application failed; the target counts as failed), or released (a restore of the
 * scope took it back before it was re-applied).
 */
export interface Reversion {
  targetId: string
  kind: PrimitiveKind
  label: string
  step: number
  /** When the hold saw it (ms since process start) and the wall-clock time. */
  atMs: number
  at: string
  live: TargetState
  liveText: string
  /** Who last changed the halted field (the primitive's lastWriter, e.g. a Kubernetes field manager); null when unknown. */
  by: string | null
  outcome: 're-halted' | 'not-halted' | 'released'
  /** Re-applications tried (a failed one is retried every round). */
  attempts: number
  rehaltedMs?: number
  error?: string
}

export interface GuardTargetReport {
  id: string
  kind: PrimitiveKind
  label: string
  step: number
  /** halted: halted when last read; failed: not halted and could not be re-halted; released: restored, the guard let go. */
  status: 'halted' | 'failed' | 'released'
  reversions: number
  error?: string
}

export type GuardStatus = 'held' | 'partial' | 'failed' | 'nothing-to-guard' | 'refused'

export interface GuardReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'guard'
  guardId: string
  status: GuardStatus
  scope: string
  reason: string
  trigger: Trigger
  invoker: Invoker
  runbook: { name: string; path: string; digest: string }
  hold: HoldSummary | null
  targets: GuardTargetReport[]
  reversions: Reversion[]
  refusal?: string
  warnings: string[]
}

export interface RestoreTargetReport {
  id: string
  kind: PrimitiveKind
  label: string
  step: number
  snapshot: TargetState
  snapshotText: string
  live: TargetState | null
  liveText: string | null
  /** restored: put back and verified; kept: still held by another scope; already: live already equals the snapshot. */
  status: 'restored' | 'kept' | 'already' | 'drifted' | 'failed' | 'pending'
  heldBy?: string[]
  error?: string
  timings: { restoredMs?: number; verifiedMs?: number }
}

export type RestoreStatus = 'restored' | 'nothing-to-restore' | 'partial' | 'failed' | 'refused'

export interface RestoreReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'restore'
  restoreId: string
  status: RestoreStatus
  scope: string
  reason: string
  trigger: Trigger
  invoker: Invoker
  forced: boolean
  runbook: { name: string; path: string; digest: string }
  durationMs: number
  targets: RestoreTargetReport[]
  refusal?: string
  warnings: string[]
}

export interface PlannedTarget {
  id: string
  kind: PrimitiveKind
  label: string
  step: number
  current: TargetState
  currentText: string
  /** What the halt will do to it. */
  action: 'halt' | 'none (already halted)' | 'none (missing)'
  /** Present when the journal already holds it halted under another scope. */
  heldBy?: string[]
}

export interface PlanReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'plan'
  scope: string
  runbook: { name: string; path: string; digest: string }
  sloMs: number
  steps: { index: number; name: string; kind: PrimitiveKind; targets: PlannedTarget[] }[]
  prediction: {
    timeToHaltMs: number
    withinSlo: boolean
    /** The rate-limit bucket or settle time that bounds the prediction. */
    bottleneck: string
    perStep: { index: number; applyDoneMs: number; verifiedMs: number }[]
  }
  warnings: string[]
}

export type EngineEvent =
  | { type: 'phase'; phase: 'identity' | 'resolve' | 'confirm' | 'apply' | 'verify' | 'restore' | 'done'; atMs: number }
  /** The hold begins (after the halt's last verification) or ends; from `started` on, interrupting ends the hold. */
  | { type: 'hold'; state: 'started'; targets: number; requestedMs: number | null; intervalMs: number; atMs: number }
  | { type: 'hold'; state: 'ended'; ended: HoldEnd; reversions: number; atMs: number }
  /** A held target found no longer halted, then re-halted, or not (error says why). */
  | { type: 'reversion'; state: 'reverted' | 're-halted' | 'not-halted'; step: number; id: string; label: string; live: string; by: string | null; atMs: number; error?: string }
  | { type: 'step'; index: number; name: string; kind: PrimitiveKind; targets: number; atMs: number }
  | {
      type: 'target'
      step: number
      id: string
      label: string
      state: 'reading' | 'journaled' | 'applying' | 'verifying' | 'halted' | 'already-halted' | 'restoring' | 'restored' | 'kept' | 'failed'
      atMs: number
      error?: string
    }
  | { type: 'warning'; message: string }
