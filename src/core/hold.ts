/**
 * hold: keep a halt in force after it was verified. Something the runbook does not know about (an autoscaler, a
 * GitOps reconciler, a colleague's script) may undo a halt seconds after its read-back; a report that still said
 * HALTED would then be a lie. For the hold's duration every held target is read again each round, paced as
 * read-backs in its platform's buckets; one that is no longer halted is a reversion: recorded (with who did it, when
 * the primitive can tell), journaled and audited, announced on SNS, re-applied and verified again. `halt --hold`
 * holds what the halt verified; `guard` holds what the journal holds under a scope, until restore.
 *
 * Invariants:
 * - the hold never holds the state lock while it waits: a restore can always run. It takes the lock only for the
 *   moment it appends its records to the journal (so that no other writer is mid-line), and pauses while a restore
 *   of its scope runs;
 * - a target leaves the hold when the journal no longer holds it under the scope (a restore put it back, or
 *   released it); the hold ends when no target is left;
 * - an interrupt (the signal) ends the hold after the re-applications in progress; the report says `interrupted`.
 */
import { AuditTrail, type AuditEntry } from '../audit/trail.js'
import { Journal, type JournalEntry, type JournalRecord, type JournalState } from '../journal/journal.js'
import { acquireLock, lockHolder, LockedError } from '../journal/lock.js'
import { isAuthorized } from './authority.js'
import {
  atPriority,
  errorMessage,
  identify,
  newInvocationId,
  notifyInBackground,
  primitiveContext,
  PrimitiveSet,
  verifyWithin,
  type EnginePorts,
  type InvocationInput,
} from './engine.js'
import { Pacer, PRIORITY } from './pacing.js'
import type { Primitive, Target, TargetState } from './primitive.js'
import {
  REPORT_SCHEMA_VERSION,
  type GuardReport,
  type HaltReport,
  type HoldEnd,
  type HoldSummary,
  type Invoker,
  type Reversion,
} from './report.js'
import { ScopeError } from './scope.js'
import { delay } from './wait.js'

/** A hold until restore (or interrupt). */
export const FOREVER = Number.POSITIVE_INFINITY
/** After this many reversions of one target, the operator is told that something keeps undoing the halt. */
const FIGHT_WARNING_AT = 3

export interface HoldOptions {
  /** How long to hold after the last verification; FOREVER holds until restore or interrupt. */
  durationMs: number
  /** Pause between two rounds of read-backs of every held target (the CLI's default is 2 s, `--hold-interval`). */
  intervalMs: number
  /** Aborted by an interrupt: the hold ends after the re-applications in progress. */
  signal?: AbortSignal
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim())
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]) : undefined
}

/** `--hold`: `30s`, `10m`, `1h`, `500ms`, or `forever`. A typo is a usage error (exit 3), like any other flag value. */
export function parseHoldDuration(text: string): number {
  if (text.trim() === 'forever') return FOREVER
  const ms = parseDuration(text)
  if (ms === undefined) throw new ScopeError(`--hold "${text}" is not a duration: write 30s, 10m, 1h or forever`)
  return ms
}

/** `--hold-interval`: a duration above zero. */
export function parseHoldInterval(text: string): number {
  const ms = parseDuration(text)
  if (ms === undefined || ms <= 0) throw new ScopeError(`--hold-interval "${text}" is not a duration above zero: write 2s, 500ms or 1m`)
  return ms
}

/** A target the hold keeps halted, and where it stands. */
interface Held {
  target: Target
  step: number
  primitive: Primitive
  status: 'halted' | 'failed' | 'released'
  reversions: number
  /** The reversion not re-halted yet: every round tries again. */
  open?: Reversion
  error?: string
  /** A read failed and was warned about; the next failure is not warned again. */
  unreadable?: boolean
}

interface HoldRun {
  scope: string
  invocationId: string
  reason: string
  verifyTimeoutMs: number
  ports: EnginePorts
  warn(message: string): void
  topics: readonly string[]
  audit: AuditTrail
  auditBase(): Omit<AuditEntry, 'event' | 'outcome'>
}

/**
 * The hold's journal records, appended under the state lock for the moment of the write. While another invocation
 * holds the lock they wait for the next round: a reversion is re-applied at once, only its record waits.
 */
class HoldJournal {
  private pending: JournalRecord[] = []

  constructor(
    private readonly stateDir: string,
    private readonly command: string,
  ) {}

  add(...records: JournalRecord[]): void {
    this.pending.push(...records)
  }

  get waiting(): number {
    return this.pending.length
  }

  /** True once nothing is pending; false while another invocation holds the lock. */
  async flush(): Promise<boolean> {
    if (this.pending.length === 0) return true
    let lock
    try {
      lock = await acquireLock(this.stateDir, this.command, { brief: true })
    } catch (error) {
      if (error instanceof LockedError) return false
      throw error
    }
    try {
      const batch = this.pending
      const journal = await Journal.open(this.stateDir)
      try {
        await journal.append(...batch)
      } finally {
        await journal.close()
      }
      this.pending = this.pending.slice(batch.length)
      return true
    } finally {
      await lock.release()
    }
  }
}

/** Whether a restore of the scope is running now (begun, not ended, and its process holds the lock). */
async function restoreRunning(stateDir: string, state: JournalState, scope: string): Promise<boolean> {
  if (!state.unfinished.some((u) => u.action === 'restore' && u.scope === scope)) return false
  return (await lockHolder(stateDir)) !== undefined
}

function stillHeld(state: JournalState, id: string, scope: string): boolean {
  return state.entries.get(id)?.holds.includes(scope) ?? false
}

/** Runs the hold over `held` until its duration elapses, every target is released, or the signal aborts. */
async function runHold(run: HoldRun, held: Held[], options: HoldOptions, firstRoundAtOnce: boolean): Promise<{ summary: HoldSummary; reversions: Reversion[] }> {
  const { ports, scope } = run
  const stateDir = ports.stateDir
  const reversions: Reversion[] = []
  const journal = new HoldJournal(stateDir, `hold --scope ${scope} (journaling a reversion)`)
  const pacer = new Pacer()
  // Requests in progress finish even when the hold is interrupted; this one is aborted only once all are done.
  const controller = new AbortController()
  const readCtx = primitiveContext(pacer, controller.signal, run.reason, run.invocationId, run.warn, PRIORITY.readBack)
  const mutationCtx = atPriority(readCtx, pacer, PRIORITY.mutation)
  const announcements = new Set<Promise<void>>()
  /** A problem that would recur every round (an unreadable journal) is warned about once. */
  const warned = new Set<string>()
  const warnOnce = (key: string, message: string) => {
    if (warned.has(key)) return
    warned.add(key)
    run.warn(message)
  }
  const at = () => new Date().toISOString()
  const startedMs = ports.now()
  const endAt = startedMs + options.durationMs
  const summary: HoldSummary = {
    requestedMs: Number.isFinite(options.durationMs) ? options.durationMs : null,
    intervalMs: options.intervalMs,
    startedMs: Math.round(startedMs),
    endedMs: Math.round(startedMs),
    ended: 'elapsed',
    rounds: 0,
    targets: held.length,
  }

  const announce = (h: Held, r: Reversion) => {
    const outcome = { target: r.targetId, label: r.label, live: r.liveText, by: r.by, outcome: r.outcome, attempts: r.attempts, error: r.error }
    const audited = run.audit
      .append({ ...run.auditBase(), event: 'reversion', outcome })
      .catch((error: Error) => run.warn(`could not write the audit record of ${h.target.label}'s reversion: ${error.message}`))
    const subject =
      r.outcome === 're-halted'
        ? `killswitch re-halted ${r.label} (${scope}): it was undone${r.by ? ` by ${r.by}` : ''}`
        : `killswitch could NOT re-halt ${r.label} (${scope}): it was undone${r.by ? ` by ${r.by}` : ''}`
    const notified = notifyInBackground(ports, run.topics, subject, { event: 'reversion', ...run.auditBase(), ...outcome }, run.warn)
    const both = Promise.all([audited, notified]).then(() => undefined)
    announcements.add(both)
    void both.then(() => announcements.delete(both))
  }

  const release = (h: Held) => {
    h.status = 'released'
    if (h.open) h.open.outcome = 'released'
    h.open = undefined
    delete h.error
  }

  /** A restore of the scope may have begun since this round read the journal: what it changes is no reversion. */
  const restoreBegun = async (h: Held) => {
    const state = await Journal.read(stateDir).catch(() => undefined)
    return state !== undefined && (!stillHeld(state, h.target.id, scope) || (await restoreRunning(stateDir, state, scope)))
  }

  const reHalt = async (h: Held, r: Reversion, live: TargetState) => {
    r.attempts++
    try {
      await h.primitive.apply(h.target, live, mutationCtx)
      await verifyWithin(readCtx, pacer, run.verifyTimeoutMs, 'halted', (verifying) => h.primitive.verifyHalted(h.target, verifying))
      r.outcome = 're-halted'
      r.rehaltedMs = Math.round(ports.now())
      delete r.error
      h.status = 'halted'
      h.open = undefined
      delete h.error
      journal.add({ type: 'verified', invocation: run.invocationId, targetId: h.target.id, at: at() })
      ports.emit({ type: 'reversion', state: 're-halted', step: h.step, id: h.target.id, label: h.target.label, live: r.liveText, by: r.by, atMs: ports.now() })
      announce(h, r)
    } catch (error) {
      r.error = errorMessage(error)
      h.status = 'failed'
      h.error = `undone at ${r.at} (found ${r.liveText}${r.by ? `, last written by ${r.by}` : ''}) and could not be halted again: ${r.error}`
      if (r.attempts === 1) {
        journal.add({ type: 'failed', invocation: run.invocationId, targetId: h.target.id, error: h.error, at: at() })
        ports.emit({ type: 'reversion', state: 'not-halted', step: h.step, id: h.target.id, label: h.target.label, live: r.liveText, by: r.by, atMs: ports.now(), error: r.error })
        announce(h, r)
      }
    }
  }

  const check = async (h: Held) => {
    let live: TargetState
    try {
      live = await h.primitive.read(h.target, readCtx)
    } catch (error) {
      if (!h.unreadable) run.warn(`could not read ${h.target.label} during the hold (read again next round): ${errorMessage(error)}`)
      h.unreadable = true
      return
    }
    h.unreadable = false
    if (h.primitive.isHalted(live)) {
      if (h.open) {
        // Halted again by someone else between two rounds: the truth is that it is halted.
        h.open.outcome = 're-halted'
        h.open.rehaltedMs = Math.round(ports.now())
        h.open = undefined
        h.status = 'halted'
        delete h.error
        journal.add({ type: 'verified', invocation: run.invocationId, targetId: h.target.id, at: at() })
      }
      return
    }
    if (await restoreBegun(h)) {
      release(h)
      return
    }
    let r = h.open
    if (!r) {
      const by = (await h.primitive.lastWriter?.(h.target, readCtx).catch(() => undefined)) ?? null
      const liveText = h.primitive.describe(live)
      r = { targetId: h.target.id, kind: h.target.kind, label: h.target.label, step: h.step, atMs: Math.round(ports.now()), at: at(), live, liveText, by, outcome: 'not-halted', attempts: 0 }
      reversions.push(r)
      h.open = r
      h.reversions++
      journal.add({ type: 'reverted', invocation: run.invocationId, targetId: h.target.id, live, liveText, by, at: r.at })
      ports.emit({ type: 'reversion', state: 'reverted', step: h.step, id: h.target.id, label: h.target.label, live: liveText, by, atMs: ports.now() })
      if (h.reversions === FIGHT_WARNING_AT) {
        run.warn(`${h.target.label} was undone ${FIGHT_WARNING_AT} times during the hold${by ? `, last by ${by}` : ''}: something keeps putting it back; find it and stop it`)
      }
    }
    await reHalt(h, r, live)
  }

  /** One round: let go of what the journal no longer holds, then read every held target (unless a restore runs). */
  const round = async () => {
    let state: JournalState | undefined
    try {
      state = await Journal.read(stateDir)
    } catch (error) {
      // Without the journal a restore cannot be seen; holding on is the safe side.
      warnOnce('journal-read', `the hold could not read the journal (it goes on holding): ${errorMessage(error)}`)
    }
    if (state) {
      for (const h of held) if (h.status !== 'released' && !stillHeld(state, h.target.id, scope)) release(h)
      if (await restoreRunning(stateDir, state, scope)) return
    }
    await Promise.all(held.filter((h) => h.status !== 'released').map(check))
    summary.rounds++
  }

  const flushJournal = async () => {
    try {
      await journal.flush()
    } catch (error) {
      warnOnce('journal-write', `the hold could not write to the journal (retried next round): ${errorMessage(error)}`)
    }
  }

  const wait = async (ms: number): Promise<boolean> => {
    try {
      await delay(Math.max(0, ms), options.signal)
      return true
    } catch {
      return false
    }
  }

  ports.emit({ type: 'hold', state: 'started', targets: held.length, requestedMs: summary.requestedMs, intervalMs: options.intervalMs, atMs: ports.now() })
  let ended: HoldEnd = 'elapsed'
  try {
    let go = firstRoundAtOnce || (await wait(Math.min(options.intervalMs, endAt - ports.now())))
    for (;;) {
      if (!go || options.signal?.aborted) {
        ended = 'interrupted'
        break
      }
      await round()
      await flushJournal()
      if (held.every((h) => h.status === 'released')) {
        ended = 'restored'
        break
      }
      if (ports.now() >= endAt) break
      go = await wait(Math.min(options.intervalMs, endAt - ports.now()))
    }
  } finally {
    controller.abort(new Error('hold finished'))
    // The records must reach the journal (status shows them): wait a little for a lock another invocation holds.
    for (let attempt = 0; attempt < 10 && journal.waiting > 0; attempt++) {
      await flushJournal()
      if (journal.waiting > 0) await delay(500)
    }
    if (journal.waiting > 0) run.warn(`${journal.waiting} journal record(s) of the hold could not be written: the state lock stayed held by another invocation`)
    await Promise.all(announcements)
  }
  summary.ended = ended
  summary.endedMs = Math.round(ports.now())
  ports.emit({ type: 'hold', state: 'ended', ended, reversions: reversions.length, atMs: ports.now() })
  return { summary, reversions }
}

function holdOutcome(summary: HoldSummary, reversions: Reversion[]): Record<string, unknown> {
  return {
    ended: summary.ended,
    requestedMs: summary.requestedMs,
    rounds: summary.rounds,
    targets: summary.targets,
    reversions: reversions.map((r) => ({ target: r.targetId, at: r.at, live: r.liveText, by: r.by, outcome: r.outcome, attempts: r.attempts, error: r.error })),
  }
}

async function heldTargets(entries: JournalEntry[], primitives: PrimitiveSet): Promise<Held[]> {
  return Promise.all(
    entries.map(async (e): Promise<Held> => ({ target: e.target, step: e.step, primitive: await primitives.get(e.target.kind), status: 'halted', reversions: 0 })),
  )
}

export interface HaltHoldInput extends InvocationInput {
  hold: HoldOptions
  verifyTimeoutMs: number
}

/**
 * The hold after a halt: holds every target the halt verified, then writes the outcome into the halt's report. A
 * target undone and not halted again is failed (the halt is then partial); one halted again keeps its status and
 * counts its reversions. The time-to-halt stays the first verification's.
 */
export async function holdAfterHalt(report: HaltReport, input: HaltHoldInput, ports: EnginePorts, warn: (message: string) => void): Promise<void> {
  const verified = new Set(report.targets.filter((t) => t.status === 'halted' || t.status === 'already-halted').map((t) => t.id))
  if (verified.size === 0) {
    warn('the hold did not start: no target was verified halted')
    return
  }
  const primitives = new PrimitiveSet(ports)
  const audit = new AuditTrail(ports.stateDir)
  const run: HoldRun = {
    scope: input.scope.label,
    invocationId: report.haltId,
    reason: input.reason,
    verifyTimeoutMs: input.verifyTimeoutMs,
    ports,
    warn,
    topics: input.loaded.runbook.notify.sns,
    audit,
    auditBase: () => ({ invocation: report.haltId, invoker: report.invoker, trigger: input.trigger, scope: input.scope.label, reason: input.reason, runbook: report.runbook }),
  }
  let held: Held[] = []
  try {
    const state = await Journal.read(ports.stateDir)
    const entries = [...state.entries.values()].filter((e) => verified.has(e.target.id) && e.holds.includes(input.scope.label))
    held = await heldTargets(entries, primitives)
    const { summary, reversions } = await runHold(run, held, input.hold, false)
    report.hold = summary
    report.reversions = reversions
  } catch (error) {
    // The halt happened and its report is true; a hold that cannot run must not lose it.
    warn(`the hold could not run, the halt stands as reported: ${errorMessage(error)}`)
    return
  } finally {
    await primitives.closeAll()
  }
  for (const h of held) {
    const t = report.targets.find((x) => x.id === h.target.id)!
    if (h.reversions > 0) t.reversions = h.reversions
    if (h.status === 'failed') {
      t.status = 'failed'
      t.error = h.error
    }
  }
  const failed = report.targets.filter((t) => t.status === 'failed').length
  if (failed > 0) {
    report.status = failed === report.targets.length ? 'failed' : 'partial'
    for (const step of report.steps) {
      const targets = report.targets.filter((t) => t.step === step.index)
      const stepFailed = targets.filter((t) => t.status === 'failed').length
      if (stepFailed > 0) step.status = stepFailed === targets.length ? 'failed' : 'partial'
    }
  }
  await audit
    .append({ ...run.auditBase(), event: 'hold', outcome: { ...holdOutcome(report.hold!, report.reversions!), status: report.status } })
    .catch((error: Error) => warn(`could not write the audit record: ${error.message}`))
  await notifyInBackground(
    ports,
    run.topics,
    `killswitch hold ${input.scope.label} ended (${report.hold!.ended}): ${report.reversions!.length} reversion(s), ${report.status}`,
    { event: 'hold', ...run.auditBase(), status: report.status, ...holdOutcome(report.hold!, report.reversions!) },
    warn,
  )
}

export interface GuardInput extends InvocationInput {
  hold: HoldOptions
  verifyTimeoutMs: number
}

/**
 * guard: hold a scope that is already halted (by a halt that has ended), re-applying whatever is undone, until a
 * restore of the scope takes its targets out of the journal (or the duration elapses, or an interrupt). Only callers
 * in the runbook's authority may guard: it changes platforms.
 */
export async function guard(input: GuardInput, ports: EnginePorts): Promise<GuardReport> {
  const { runbook } = input.loaded
  const guardId = newInvocationId('g')
  const warnings: string[] = []
  const warn = (message: string) => {
    warnings.push(message)
    ports.emit({ type: 'warning', message })
  }
  const runbookRef = { name: runbook.metadata.name, path: input.loaded.path, digest: input.loaded.digest }
  const invoker: Invoker = await identify(ports, warn)
  const report: GuardReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'guard',
    guardId,
    status: 'failed',
    scope: input.scope.label,
    reason: input.reason,
    trigger: input.trigger,
    invoker,
    runbook: runbookRef,
    hold: null,
    targets: [],
    reversions: [],
    warnings,
  }
  const audit = new AuditTrail(ports.stateDir)
  const topics = runbook.notify.sns
  const run: HoldRun = {
    scope: input.scope.label,
    invocationId: guardId,
    reason: input.reason,
    verifyTimeoutMs: input.verifyTimeoutMs,
    ports,
    warn,
    topics,
    audit,
    auditBase: () => ({ invocation: guardId, invoker, trigger: input.trigger, scope: input.scope.label, reason: input.reason, runbook: runbookRef }),
  }

  if (!isAuthorized(invoker.arn, runbook.authority.principals)) {
    report.status = 'refused'
    report.refusal = `caller ${invoker.arn ?? '(unknown: no STS identity)'} is not in the runbook's authority (${runbook.authority.principals.join(', ')}); a guard re-applies halts, so only the authority may run it`
    await audit.append({ ...run.auditBase(), event: 'refused', outcome: { action: 'guard', refusal: report.refusal } })
    await notifyInBackground(ports, topics, `killswitch REFUSED guard ${input.scope.label}`, { event: 'refused', action: 'guard', ...run.auditBase() }, warn)
    return report
  }

  const state = await Journal.read(ports.stateDir)
  const entries = [...state.entries.values()].filter((e) => e.holds.includes(input.scope.label))
  if (entries.length === 0) {
    report.status = 'nothing-to-guard'
    const halted = [...new Set([...state.entries.values()].flatMap((e) => e.holds))]
    report.refusal = `nothing is halted under scope ${input.scope.label}${halted.length ? `; halted scopes: ${halted.join(', ')}` : ''}; to halt and hold it: killswitch halt --scope ${input.scope.label} --hold forever`
    return report
  }

  const primitives = new PrimitiveSet(ports)
  let held: Held[] = []
  try {
    await audit.append({ ...run.auditBase(), event: 'guard-started', outcome: { targets: entries.length, requestedMs: Number.isFinite(input.hold.durationMs) ? input.hold.durationMs : null } })
    await notifyInBackground(ports, topics, `killswitch guard ${input.scope.label} started: holding ${entries.length} target(s)`, { event: 'guard-started', ...run.auditBase(), targets: entries.length }, warn)
    held = await heldTargets(entries, primitives)
    const { summary, reversions } = await runHold(run, held, input.hold, true)
    report.hold = summary
    report.reversions = reversions
    report.targets = held
      .map((h) => ({ id: h.target.id, kind: h.target.kind, label: h.target.label, step: h.step, status: h.status, reversions: h.reversions, ...(h.error ? { error: h.error } : {}) }))
      .sort((a, b) => a.step - b.step || a.id.localeCompare(b.id))
    const failed = report.targets.filter((t) => t.status === 'failed').length
    report.status = failed === 0 ? 'held' : failed === report.targets.length ? 'failed' : 'partial'
  } catch (error) {
    report.refusal = errorMessage(error)
    throw error
  } finally {
    await primitives.closeAll()
    await audit
      .append({ ...run.auditBase(), event: 'guard', outcome: { status: report.status, ...(report.hold ? holdOutcome(report.hold, report.reversions) : { error: report.refusal }) } })
      .catch((error: Error) => warn(`could not write the audit record: ${error.message}`))
    await notifyInBackground(
      ports,
      topics,
      `killswitch guard ${input.scope.label} ended${report.hold ? ` (${report.hold.ended})` : ''}: ${report.reversions.length} reversion(s), ${report.status}`,
      { event: 'guard', ...run.auditBase(), status: report.status, ...(report.hold ? holdOutcome(report.hold, report.reversions) : {}) },
      warn,
    )
  }
  return report
}
