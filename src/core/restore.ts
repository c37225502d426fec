/**
 * restore: put every target the scope halted back to its journaled snapshot, in reverse step order, and verify.
 * Restoring re-enables a possibly compromised agent, so it is the careful direction:
 * - only callers in the runbook's authority may restore (no override);
 * - every target's live state is read first; if any drifted from what the halt left (someone changed it since),
 *   nothing is restored unless `force`;
 * - a target also held by another scope (a class halted, then everything) is released from this scope but stays
 *   halted until its last scope is restored.
 */
import { AuditTrail } from '../audit/trail.js'
import { Journal, type JournalEntry, type JournalRecord } from '../journal/journal.js'
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
  verifyWithin,
  type EnginePorts,
  type InvocationInput,
} from './engine.js'
import { Pacer, PRIORITY } from './pacing.js'
import { REPORT_SCHEMA_VERSION, type RestoreReport, type RestoreTargetReport } from './report.js'

export interface RestoreInput extends InvocationInput {
  force: boolean
  /** Asked after the drift check and before any change; false declines (a soft refusal). */
  confirm?: (summary: { scope: string; restore: string[]; kept: string[] }) => Promise<boolean>
  verifyTimeoutMs: number
  auditEvent?: 'restore'
}

export async function restore(input: RestoreInput, ports: EnginePorts): Promise<RestoreReport> {
  const { runbook } = input.loaded
  const restoreId = newInvocationId('r')
  const started = ports.now()
  const warnings: string[] = []
  const warn = (message: string) => {
    warnings.push(message)
    ports.emit({ type: 'warning', message })
  }
  const audit = new AuditTrail(ports.stateDir)
  const runbookRef = { name: runbook.metadata.name, path: input.loaded.path, digest: input.loaded.digest }
  const topics = runbook.notify.sns
  const { invoker, failure: identityFailure } = await identifyWithCause(ports)
  const report: RestoreReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'restore',
    restoreId,
    status: 'failed',
    scope: input.scope.label,
    reason: input.reason,
    trigger: input.trigger,
    invoker,
    forced: input.force,
    runbook: runbookRef,
    durationMs: 0,
    targets: [],
    warnings,
  }
  const auditBase = { invocation: restoreId, invoker, trigger: input.trigger, scope: input.scope.label, reason: input.reason, runbook: runbookRef }

  if (identityFailure) {
    // Its own error with its own fix (credentials, SSO login, network), never "not in the authority".
    await audit.append({ ...auditBase, event: 'refused', outcome: { action: 'restore', refusal: `the caller's identity could not be established: ${errorMessage(identityFailure)}` } })
    throw identityFailure
  }
  if (!isAuthorized(invoker.arn, runbook.authority.principals)) {
    report.status = 'refused'
    report.refusal = `caller ${invoker.arn ?? '(unknown: no STS identity)'} is not in the runbook's authority (${runbook.authority.principals.join(', ')}); restoring re-enables agents and cannot be overridden`
    await audit.append({ ...auditBase, event: 'refused', outcome: { action: 'restore', refusal: report.refusal } })
    await notifyInBackground(ports, topics, `killswitch REFUSED restore ${input.scope.label}`, { event: 'refused', action: 'restore', ...auditBase }, warn)
    return report
  }

  const lock = await acquireLock(ports.stateDir, `restore --scope ${input.scope.label}`)
  if (lock.tookOverFrom) warn(`took over a stale lock left by pid ${lock.tookOverFrom.pid} (${lock.tookOverFrom.command})`)
  const primitives = new PrimitiveSet(ports)
  const controller = new AbortController()
  const pacer = new Pacer()
  const ctx = primitiveContext(pacer, controller.signal, input.reason, restoreId, warn, PRIORITY.snapshot)
  let journal: Journal | undefined
  try {
    const state = await Journal.read(ports.stateDir)
    const held = [...state.entries.values()].filter((e) => e.holds.includes(input.scope.label))
    if (held.length === 0) {
      report.status = 'nothing-to-restore'
      const halted = [...new Set([...state.entries.values()].flatMap((e) => e.holds))]
      report.refusal = `nothing is halted under scope ${input.scope.label}${halted.length ? `; halted scopes: ${halted.join(', ')}` : ''}`
      return report
    }
    ports.emit({ type: 'phase', phase: 'restore', atMs: ports.now() })
    journal = await Journal.open(ports.stateDir)
    await journal.append({ type: 'begin', invocation: restoreId, action: 'restore', scope: input.scope.label, runbook: runbookRef.name, digest: runbookRef.digest, at: new Date().toISOString() })

    const reports = new Map<string, RestoreTargetReport>()
    const toRestore: JournalEntry[] = []
    await Promise.all(
      held.map(async (entry) => {
        const primitive = await primitives.get(entry.target.kind)
        const tr: RestoreTargetReport = {
          id: entry.target.id,
          kind: entry.target.kind,
          label: entry.target.label,
          step: entry.step,
          snapshot: entry.snapshot,
          snapshotText: primitive.describe(entry.snapshot),
          live: null,
          liveText: null,
          status: 'pending',
          timings: {},
        }
        reports.set(entry.target.id, tr)
        const others = entry.holds.filter((s) => s !== input.scope.label)
        if (others.length > 0) {
          tr.status = 'kept'
          tr.heldBy = others
          return
        }
        try {
          const live = await primitive.read(entry.target, ctx)
          tr.live = live
          tr.liveText = primitive.describe(live)
          if (primitive.sameState(live, entry.snapshot)) tr.status = 'already'
          else if (!primitive.isHalted(live)) tr.status = 'drifted'
          else toRestore.push(entry)
        } catch (error) {
          tr.status = 'failed'
          tr.error = `could not read the live state: ${errorMessage(error)}`
        }
      }),
    )
    report.targets = [...reports.values()].sort((a, b) => a.step - b.step || a.id.localeCompare(b.id))
    const drifted = report.targets.filter((t) => t.status === 'drifted')
    const unreadable = report.targets.filter((t) => t.status === 'failed')
    if ((drifted.length > 0 || unreadable.length > 0) && !input.force) {
      report.status = 'refused'
      report.refusal = [
        drifted.length > 0
          ? `${drifted.length} target(s) drifted from the state the halt left, so a restore could overwrite someone's change: ${drifted.map((t) => `${t.id} (now ${t.liveText}, snapshot ${t.snapshotText})`).join('; ')}`
          : '',
        unreadable.length > 0 ? `${unreadable.length} target(s) could not be read: ${unreadable.map((t) => t.id).join(', ')}` : '',
        'check them, then run restore again with --force to put the snapshots back anyway',
      ]
        .filter(Boolean)
        .join('; ')
      await journal.append({ type: 'end', invocation: restoreId, status: 'refused', at: new Date().toISOString() })
      return report
    }
    if (input.force) for (const t of drifted) toRestore.push(held.find((e) => e.target.id === t.id)!)
    if (input.confirm) {
      const yes = await input.confirm({
        scope: input.scope.label,
        restore: toRestore.map((e) => e.target.label),
        kept: report.targets.filter((t) => t.status === 'kept').map((t) => t.label),
      })
      if (!yes) {
        report.status = 'refused'
        report.refusal = 'the operator declined the confirmation; nothing was changed'
        await journal.append({ type: 'end', invocation: restoreId, status: 'declined', at: new Date().toISOString() })
        return report
      }
    }

    const now = () => new Date().toISOString()
    let restoredCount = 0
    // Reverse step order: the last protection applied is the first one lifted.
    const byStep = [...new Set(toRestore.map((e) => e.step))].sort((a, b) => b - a)
    for (const step of byStep) {
      const entries = toRestore.filter((e) => e.step === step)
      ports.emit({ type: 'step', index: step, name: entries[0]!.target.kind, kind: entries[0]!.target.kind, targets: entries.length, atMs: ports.now() })
      await Promise.all(
        entries
          .map(async (entry) => {
            const tr = reports.get(entry.target.id)!
            const primitive = await primitives.get(entry.target.kind)
            try {
              ports.emit({ type: 'target', step, id: entry.target.id, label: entry.target.label, state: 'restoring', atMs: ports.now() })
              await primitive.restore(entry.target, entry.snapshot, atPriority(ctx, pacer, PRIORITY.mutation))
              tr.timings.restoredMs = ports.now()
              ports.crashPoint?.('restored', ++restoredCount)
              await verifyWithin(ctx, pacer, input.verifyTimeoutMs, 'restored', (verifying) => primitive.verifyRestored(entry.target, entry.snapshot, verifying))
              tr.timings.verifiedMs = ports.now()
              tr.status = 'restored'
              await journal!.append({ type: 'restored', invocation: restoreId, targetId: entry.target.id, at: now() })
              ports.emit({ type: 'target', step, id: entry.target.id, label: entry.target.label, state: 'restored', atMs: ports.now() })
            } catch (error) {
              tr.status = 'failed'
              tr.error = errorMessage(error)
              ports.emit({ type: 'target', step, id: entry.target.id, label: entry.target.label, state: 'failed', atMs: ports.now(), error: tr.error })
            }
          }),
      )
    }
    const records = report.targets.flatMap((t): JournalRecord[] => {
      if (t.status === 'already') return [{ type: 'restored' as const, invocation: restoreId, targetId: t.id, at: now() }]
      if (t.status === 'kept') return [{ type: 'released' as const, invocation: restoreId, scope: input.scope.label, targetId: t.id, at: now() }]
      return []
    })
    if (records.length > 0) await journal.append(...records)
    const failed = report.targets.filter((t) => t.status === 'failed').length
    report.status = failed === 0 ? 'restored' : failed === report.targets.length ? 'failed' : 'partial'
    ports.emit({ type: 'phase', phase: 'done', atMs: ports.now() })
    await journal.append({ type: 'end', invocation: restoreId, status: report.status, at: now() })
  } finally {
    report.durationMs = Math.round(ports.now() - started)
    controller.abort(new Error('restore finished'))
    await journal?.close()
    await primitives.closeAll()
    await lock.release()
    if (report.status !== 'nothing-to-restore') {
      await audit
        .append({
          ...auditBase,
          event: input.auditEvent ?? 'restore',
          outcome: {
            status: report.status,
            forced: input.force,
            refusal: report.refusal,
            durationMs: report.durationMs,
            targets: report.targets.map((t) => ({ id: t.id, status: t.status, snapshot: t.snapshotText, live: t.liveText, error: t.error })),
          },
        })
        .catch((error: Error) => warn(`could not write the audit record: ${error.message}`))
      await notifyInBackground(ports, topics, `killswitch restore ${input.scope.label}: ${report.status}`, { event: 'restore', ...auditBase, status: report.status, targets: report.targets.length }, warn)
    }
  }
  return report
}
