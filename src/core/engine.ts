/**
 * What every engine operation shares: the ports to the outside world (primitives, identity, notifications, the
 * state directory, the clock), the loaded-primitive cache, the primitive context, and step resolution.
 */
import { randomBytes } from 'node:crypto'
import { Pacer, PRIORITY, type Priority } from './pacing.js'
import type { Primitive, PrimitiveContext, PrimitiveKind, RateBucket, Target } from './primitive.js'
import type { EngineEvent, Invoker, Trigger } from './report.js'
import { stepKind, type LoadedRunbook } from './runbook/load.js'
import type { Step } from './runbook/schema.js'
import { substituteStep, type Scope } from './scope.js'
import { Deadline } from './wait.js'

export interface EnginePorts {
  loadPrimitive(kind: PrimitiveKind): Promise<Primitive>
  /** The break-glass credentials' identity (STS GetCallerIdentity). */
  callerIdentity(): Promise<{ arn: string; account: string }>
  /** Publishes to SNS. May fail; the engine turns a failure into a warning and never waits on it to halt. */
  notify(topicArns: readonly string[], subject: string, message: Record<string, unknown>): Promise<void>
  stateDir: string
  /** Milliseconds since the process started. */
  now(): number
  osUser: string
  host: string
  emit(event: EngineEvent): void
  /** Fault injection for crash-recovery tests: called at each point with a running count. */
  crashPoint?(point: 'journaled' | 'applied' | 'restored', count: number): void
}

export interface InvocationInput {
  loaded: LoadedRunbook
  scope: Scope
  reason: string
  trigger: Trigger
}

export function newInvocationId(prefix: 'h' | 'r' | 'd' | 'g'): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  return `${prefix}-${stamp}-${randomBytes(3).toString('hex')}`
}

/** Loads each primitive kind once per invocation and closes them all at the end. */
export class PrimitiveSet {
  private readonly loaded = new Map<PrimitiveKind, Promise<Primitive>>()

  constructor(private readonly ports: EnginePorts) {}

  get(kind: PrimitiveKind): Promise<Primitive> {
    let p = this.loaded.get(kind)
    if (!p) {
      p = this.ports.loadPrimitive(kind)
      this.loaded.set(kind, p)
    }
    return p
  }

  async closeAll(): Promise<void> {
    const all = await Promise.allSettled(this.loaded.values())
    await Promise.allSettled(all.flatMap((r) => (r.status === 'fulfilled' && r.value.close ? [r.value.close()] : [])))
  }
}

export function primitiveContext(
  pacer: Pacer,
  signal: AbortSignal,
  reason: string,
  invocationId: string,
  warn: (message: string) => void,
  priority: Priority = PRIORITY.readBack,
): PrimitiveContext {
  return { pace: (bucket) => pacer.pace(bucket, signal, priority), signal, warn, reason, invocationId }
}

/** The same context, its requests paced at another priority. */
export function atPriority(ctx: PrimitiveContext, pacer: Pacer, priority: Priority): PrimitiveContext {
  return { ...ctx, pace: (bucket) => pacer.pace(bucket, ctx.signal, priority) }
}

/**
 * Runs one target's verification with its requests paced as read-backs, aborted with the operation or once
 * `timeoutMs` of the verification's own time has passed, and then fails with "not observed <state> within …". The
 * time its requests wait for this process's pacing does not count (see Deadline): in a bucket that thousands of
 * mutations share, a read-back may wait minutes for its turn, and that is not the platform failing to show the change.
 */
export async function verifyWithin(
  ctx: PrimitiveContext,
  pacer: Pacer,
  timeoutMs: number,
  state: 'halted' | 'restored',
  verify: (ctx: PrimitiveContext) => Promise<void>,
): Promise<void> {
  const deadline = new Deadline(timeoutMs)
  const signal = AbortSignal.any([ctx.signal, deadline.signal])
  const pace = async (bucket: RateBucket) => {
    const resume = deadline.pause()
    try {
      await pacer.pace(bucket, signal, PRIORITY.readBack)
    } finally {
      resume()
    }
  }
  try {
    await verify({ ...ctx, signal, pace, pauseDeadline: () => deadline.pause() })
  } catch (error) {
    if (deadline.signal.aborted && !ctx.signal.aborted) {
      // A primitive may say what it still saw when the time ran out (the pods still there, and why).
      const stillThere = (error as { stillThere?: unknown } | null)?.stillThere
      throw new Error(`not observed ${state} within ${timeoutMs} ms (--verify-timeout)${typeof stillThere === 'string' ? `: ${stillThere}` : ''}`)
    }
    throw error
  } finally {
    deadline.dispose()
  }
}

export interface ResolvedStep {
  index: number
  name: string
  kind: PrimitiveKind
  primitive: Primitive
  targets: Target[]
}

/** A step that could not be resolved, with what the operator should fix. */
export class ResolveError extends Error {
  constructor(readonly failures: { step: number; name: string; message: string; hint?: string }[]) {
    super(failures.map((f) => `step ${f.step + 1} (${f.name}): ${f.message}${f.hint ? `\n  ${f.hint}` : ''}`).join('\n'))
    this.name = 'ResolveError'
  }
}

export function stepName(step: Step): string {
  return step.name ?? stepKind(step)
}

export interface StepResolution {
  index: number
  name: string
  kind: PrimitiveKind
  /** Rejects with the primitive's error when the step's selectors cannot be resolved. */
  resolved: Promise<ResolvedStep>
}

/**
 * Starts resolving every step of the scope to targets, all steps at once (resolution reads, never writes), and
 * returns one promise per step, so a halt can start the first step while later ones are still resolving.
 */
export function startResolving(input: InvocationInput, primitives: PrimitiveSet, ctx: PrimitiveContext): StepResolution[] {
  const steps = input.loaded.runbook.scopes[input.scope.level]?.steps ?? []
  return steps.map((raw, index) => {
    const step = substituteStep(raw, input.scope)
    const kind = stepKind(step)
    const name = stepName(step)
    const resolved = (async (): Promise<ResolvedStep> => {
      const primitive = await primitives.get(kind)
      return { index, name, kind, primitive, targets: distinctLabels(await primitive.resolve(step[kind], ctx)) }
    })()
    // Handled by whoever awaits it; without this an early failure would be an unhandled rejection.
    resolved.catch(() => undefined)
    return { index, name, kind, resolved }
  })
}

/** Labels are short names; where two targets share one (the same function in two accounts), both take their id. */
function distinctLabels(targets: Target[]): Target[] {
  const count = new Map<string, number>()
  for (const t of targets) count.set(t.label, (count.get(t.label) ?? 0) + 1)
  return targets.map((t) => (count.get(t.label)! > 1 ? { ...t, label: t.id } : t))
}

/**
 * Resolves every step; collects every step's failure rather than stopping at the first, so the operator fixes
 * the runbook once. A target named by two steps is kept in the first only: its snapshot must be taken once.
 */
export async function resolveSteps(input: InvocationInput, primitives: PrimitiveSet, ctx: PrimitiveContext): Promise<ResolvedStep[]> {
  const resolutions = startResolving(input, primitives, ctx)
  const results = await Promise.allSettled(resolutions.map((r) => r.resolved))
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [{ step: i, name: resolutions[i]!.name, message: (r.reason as Error).message, hint: (r.reason as { hint?: string }).hint }]
      : [],
  )
  if (failures.length > 0) throw new ResolveError(failures)
  const resolved = results.map((r) => (r as PromiseFulfilledResult<ResolvedStep>).value)
  const seen = new Set<string>()
  for (const step of resolved) {
    step.targets = step.targets.filter((t) => !seen.has(t.id) && seen.add(t.id))
  }
  return resolved
}

export async function identify(ports: EnginePorts, warn: (m: string) => void): Promise<Invoker> {
  const { invoker, failure } = await identifyWithCause(ports)
  if (failure) warn(`could not establish the caller identity with STS GetCallerIdentity: ${errorMessage(failure)}`)
  return invoker
}

/**
 * The caller's identity, or why it could not be established (no credentials, an expired session, STS out of
 * reach): an operation that needs the identity to be allowed at all reports that cause, not "not in the authority".
 */
export async function identifyWithCause(ports: EnginePorts): Promise<{ invoker: Invoker; failure?: Error }> {
  const base = { osUser: ports.osUser, host: ports.host }
  try {
    const who = await ports.callerIdentity()
    return { invoker: { ...base, arn: who.arn, account: who.account } }
  } catch (error) {
    return { invoker: { ...base, arn: null, account: null }, failure: error instanceof Error ? error : new Error(String(error)) }
  }
}

/** Fire-and-forget notification: returns a promise that never rejects, so callers may await it at the very end. */
export function notifyInBackground(
  ports: EnginePorts,
  topics: readonly string[],
  subject: string,
  message: Record<string, unknown>,
  warn: (m: string) => void,
): Promise<void> {
  if (topics.length === 0) return Promise.resolve()
  return ports.notify(topics, subject, message).catch((error: Error) => warn(`SNS notification "${subject}" failed: ${error.message}`))
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const hint = (error as { hint?: string }).hint
    return hint ? `${error.message} (${hint})` : error.message
  }
  return String(error)
}
