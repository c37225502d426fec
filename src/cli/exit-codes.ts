/**
 * The one exit-code table. Every command's exit code is computed here from its report; `--help` and
 * docs/exit-codes.md show this table.
 */
import type { GuardReport, HaltReport, RestoreReport } from '../core/report.js'

export const EXIT = {
  /** Halted within the SLO; restored; drill passed; runbook valid; audit trail intact. */
  OK: 0,
  /** Halted, but later than the scope's SLO (a drill: the SLO was breached). */
  SLO_BREACHED: 1,
  /** Some or all targets failed (partial or failed); the audit trail was tampered with; an unexpected error. */
  FAILED: 2,
  /** Usage or runbook error: bad flags, invalid runbook, unknown scope, a selector that matched nothing, nothing halted to guard. */
  USAGE: 3,
  /** Refused: caller outside the authority, state locked by another operator, confirmation declined, restore drift without --force. */
  REFUSED: 4,
  /** Drill: a target did not come back exactly to its snapshot. */
  RESTORE_MISMATCH: 5,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export const EXIT_TABLE = `EXIT CODES
  0  ok: halted within the SLO, restored, drill passed, runbook valid, audit trail intact
  1  halted, but the time-to-halt breached the SLO (drill: SLO breached)
  2  partial or failed: some targets were not halted or restored (or were undone during a hold and could not be
     halted again); audit trail tampered; unexpected error
  3  usage or runbook error: fix the flags or the runbook (the message says what and where); guard: nothing is
     halted under the scope
  4  refused: caller outside the runbook's authority, state locked, confirmation declined, or restore drift without --force
  5  drill: a target did not come back exactly to its snapshot`

export function haltExitCode(report: HaltReport): ExitCode {
  switch (report.status) {
    case 'halted':
      return EXIT.OK
    case 'slo-breached':
      return EXIT.SLO_BREACHED
    case 'refused':
      return EXIT.REFUSED
    default:
      return EXIT.FAILED
  }
}

export function restoreExitCode(report: RestoreReport): ExitCode {
  switch (report.status) {
    case 'restored':
    case 'nothing-to-restore':
      return EXIT.OK
    case 'refused':
      return EXIT.REFUSED
    default:
      return EXIT.FAILED
  }
}

export function drillExitCode(report: { verdict: string }): ExitCode {
  switch (report.verdict) {
    case 'pass':
      return EXIT.OK
    case 'slo-breached':
      return EXIT.SLO_BREACHED
    case 'restore-mismatch':
      return EXIT.RESTORE_MISMATCH
    case 'refused':
      return EXIT.REFUSED
    default:
      return EXIT.FAILED
  }
}

export function guardExitCode(report: GuardReport): ExitCode {
  switch (report.status) {
    case 'held':
      return EXIT.OK
    case 'nothing-to-guard':
      return EXIT.USAGE
    case 'refused':
      return EXIT.REFUSED
    default:
      return EXIT.FAILED
  }
}
