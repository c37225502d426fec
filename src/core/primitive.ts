/**
 * The contract every platform primitive implements. The core drives primitives only through this
 * interface; SDKs live behind it, in `src/primitives/<platform>/`, and are imported lazily.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

export const PRIMITIVE_KINDS = ['flagOff', 'denyAll', 'lambdaConcurrencyZero', 'scaleToZero'] as const
export type PrimitiveKind = (typeof PRIMITIVE_KINDS)[number]

/**
 * One platform resource a primitive acts on. Everything here is JSON so that it can be written to the journal
 * and a later process (restore, resume after a crash) can act on the same resource without resolving again.
 */
export interface Target {
  /** Stable and unique across platforms, e.g. `lambda:111122223333:us-east-1:refund-agent-1`. Keys the journal. */
  id: string
  kind: PrimitiveKind
  /** Short human name for tables and reports, e.g. `refund-agent-1`. */
  label: string
  /** What the primitive needs to find the resource again (account, region, name, namespace, ...). */
  locator: { [key: string]: string | number | boolean | null }
  /**
   * The target's state as resolution saw it, when the request that found the target also returned its state
   * (a flag list, a workload list). A halt takes it as the snapshot instead of reading the target again: one
   * request less per target in a rate-limited bucket. Never written to the journal.
   */
  observed?: TargetState
  /**
   * Set when the step names this resource and it does not exist (a deleted workload, an archived flag). The halt
   * never reads or changes it: it fails this target alone, with this message, and halts the step's other targets.
   */
  missing?: { message: string; hint?: string; code: string }
}

/**
 * The observable state of a target that a halt changes and a restore must put back. For Lambda
 * `{reservedConcurrency: 5}` or `{reservedConcurrency: null}` (unreserved); for IAM whether the tool's policy is
 * present and its document; for a flag `{on: true}`; for a workload `{replicas: 3}`.
 */
export type TargetState = { [key: string]: JsonValue }

/** A client-side rate-limit bucket: one per (service, operation class, account, region). */
export interface RateBucket {
  /** Unique key, e.g. `lambda-control:111122223333:us-east-1`. */
  key: string
  /** Sustained requests per second the platform documents for this bucket. */
  ratePerSecond: number
  /** Requests that may leave at once before pacing starts; defaults to 1. */
  burst?: number
}

/** What one target's halt costs, for `plan`'s time-to-halt prediction. */
export interface HaltEstimate {
  /**
   * Rate-limited requests a halt makes for this target, each in its bucket, in the order it makes them: the
   * snapshot read, the mutation, then one read-back (the prediction takes the second-to-last as the mutation).
   */
  calls: RateBucket[]
  /** Time after the apply before the effect can be observed at best (pod grace period, stream push). */
  settleMs: number
}

export interface PrimitiveContext {
  /** Resolves when a request may leave under the bucket's rate. Call once before every platform request. */
  pace(bucket: RateBucket): Promise<void>
  /** Aborted when the operation times out or the operator interrupts. Pass it on to SDK calls. */
  signal: AbortSignal
  /**
   * Stops the clock of the operation's time-out while a request waits for pacing on this side that `pace` does not
   * see (a read waiting in a batch for the batch's turn); returns the function that starts it again. `pace` stops it
   * by itself. Absent where no time-out runs.
   */
  pauseDeadline?(): () => void
  /** Non-fatal problems worth telling the operator (never secrets). */
  warn(message: string): void
  /** Why this invocation happens; primitives that can annotate a change (LaunchDarkly comment) use it. */
  reason: string
  /** The halt or restore id, for annotations and comments. */
  invocationId: string
}

/**
 * One platform mechanism. Invariants the engine relies on:
 * - `read` has no side effect; its result is the snapshot `restore` puts back.
 * - `apply` is idempotent and does not depend on being called once.
 * - `verifyHalted` / `verifyRestored` resolve only once the effect is observed by reading it back (not on a 2xx),
 *   and reject when `ctx.signal` aborts.
 * - `restore` puts back exactly `snapshot` and touches nothing the halt did not change.
 */
export interface Primitive<Spec = unknown> {
  readonly kind: PrimitiveKind
  /**
   * Turns a step's spec (variables already substituted) into concrete targets. Errors say which selector matched
   * nothing. A resource the spec names that does not exist is a target with `missing`, not an error, so that one
   * stale name does not keep the step's other targets running.
   */
  resolve(spec: Spec, ctx: PrimitiveContext): Promise<Target[]>
  read(target: Target, ctx: PrimitiveContext): Promise<TargetState>
  /** Whether a live state is the state a halt leaves. Used for idempotency and for drift detection before restore. */
  isHalted(state: TargetState): boolean
  /** Whether two states are the same for restore purposes (the snapshot and a live read). */
  sameState(a: TargetState, b: TargetState): boolean
  apply(target: Target, before: TargetState, ctx: PrimitiveContext): Promise<void>
  verifyHalted(target: Target, ctx: PrimitiveContext): Promise<void>
  restore(target: Target, snapshot: TargetState, ctx: PrimitiveContext): Promise<void>
  verifyRestored(target: Target, snapshot: TargetState, ctx: PrimitiveContext): Promise<void>
  /**
   * Who last changed the field a halt sets, when the platform records it (Kubernetes: the `metadata.managedFields`
   * manager that owns `spec.replicas`, e.g. `keda-operator`); undefined when it cannot tell. Read-only. A hold asks it
   * when a verified target is found no longer halted, to name who undid the halt.
   */
  lastWriter?(target: Target, ctx: PrimitiveContext): Promise<string | undefined>
  /** One line for humans: `reserved=5`, `unreserved`, `on`, `replicas=3`. */
  describe(state: TargetState): string
  estimate(target: Target, state: TargetState): HaltEstimate
  /** Releases long-lived resources (SDK streams, sockets). */
  close?(): Promise<void>
}

/** Raised by a primitive for an error the operator must fix (bad selector, missing permission, size limit). */
export class PrimitiveError extends Error {
  constructor(
    message: string,
    /** What to do about it, shown under the message. */
    readonly hint?: string,
    /** Stable machine-readable code, e.g. `IamPolicySizeLimit`, `SelectorMatchedNothing`. */
    readonly code: string = 'PrimitiveError',
  ) {
    super(message)
    this.name = 'PrimitiveError'
  }
}
