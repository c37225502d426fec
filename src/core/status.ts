/**
 * status: what is halted now, from the journal, and (given a runbook for credentials) what each target's live
 * state is, so an operator sees at once whether anything was changed behind the journal's back. A target is shown
 * NOT HALTED when its live state is not halted, or (without live state) when a hold's last record of it is a
 * reversion not halted again; either way with who changed it, when that is known.
 */
import { Journal } from '../journal/journal.js'
import { PrimitiveSet, primitiveContext, errorMessage, type EnginePorts } from './engine.js'
import { Pacer } from './pacing.js'
import type { PrimitiveKind, TargetState } from './primitive.js'
import { REPORT_SCHEMA_VERSION } from './report.js'

export interface StatusTarget {
  id: string
  kind: PrimitiveKind
  label: string
  holds: string[]
  since: string
  haltedBy: string
  snapshot: TargetState
  applied: boolean
  verified: boolean
  lastError?: string
  /** A hold's last record of it: undone (found `liveText`, last written by `by`) and not verified halted since. */
  reverted?: { at: string; liveText: string; by: string | null; invocation: string }
  /**
   * Absent without a runbook (journal only). `by`: when the live state is not halted, who last changed it (the
   * primitive's lastWriter; null when it cannot tell).
   */
  live?: { state: TargetState | null; text: string; halted: boolean | null; by?: string | null; error?: string }
}

export interface StatusReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  kind: 'status'
  stateDir: string
  scopes: string[]
  targets: StatusTarget[]
  unfinished: { invocation: string; action: string; scope: string; at: string }[]
  warnings: string[]
}

export async function readStatus(ports: EnginePorts, live: boolean): Promise<StatusReport> {
  const warnings: string[] = []
  const state = await Journal.read(ports.stateDir)
  if (state.tornTail) warnings.push('the journal ends in a torn record (a crash mid-write); it is ignored')
  const primitives = new PrimitiveSet(ports)
  const controller = new AbortController()
  const ctx = primitiveContext(new Pacer(), controller.signal, 'status', 'status', (m) => warnings.push(m))
  try {
    const targets = await Promise.all(
      [...state.entries.values()].map(async (e): Promise<StatusTarget> => {
        const t: StatusTarget = {
          id: e.target.id,
          kind: e.target.kind,
          label: e.target.label,
          holds: e.holds,
          since: e.since,
          haltedBy: e.haltedBy,
          snapshot: e.snapshot,
          applied: e.applied,
          verified: e.verified,
          ...(e.lastError ? { lastError: e.lastError } : {}),
          ...(e.reverted ? { reverted: { at: e.reverted.at, liveText: e.reverted.liveText, by: e.reverted.by, invocation: e.reverted.invocation } } : {}),
        }
        if (live) {
          try {
            const primitive = await primitives.get(e.target.kind)
            const current = await primitive.read(e.target, ctx)
            const halted = primitive.isHalted(current)
            t.live = { state: current, text: primitive.describe(current), halted }
            if (!halted) t.live.by = (await primitive.lastWriter?.(e.target, ctx).catch(() => undefined)) ?? null
          } catch (error) {
            t.live = { state: null, text: 'unreadable', halted: null, error: errorMessage(error) }
          }
        }
        return t
      }),
    )
    targets.sort((a, b) => a.id.localeCompare(b.id))
    return {
      schemaVersion: REPORT_SCHEMA_VERSION,
      kind: 'status',
      stateDir: ports.stateDir,
      scopes: [...new Set(targets.flatMap((t) => t.holds))].sort(),
      targets,
      unfinished: state.unfinished,
      warnings,
    }
  } finally {
    controller.abort(new Error('status finished'))
    await primitives.closeAll()
  }
}
