/**
 * Maps anything thrown to what the operator sees: a message, what to do next, and the exit code. Stack traces
 * only under --verbose.
 */
import { JournalCorruptError } from '../journal/journal.js'
import { LockedError } from '../journal/lock.js'
import { ResolveError } from '../core/engine.js'
import { PrimitiveError } from '../core/primitive.js'
import { RunbookError } from '../core/runbook/load.js'
import { ScopeError } from '../core/scope.js'
import { EXIT, type ExitCode } from './exit-codes.js'

export interface DescribedError {
  exitCode: ExitCode
  code: string
  message: string
  hint?: string
}

/** A usage problem found by a command itself (a missing flag, no terminal to confirm on). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

export function describeError(error: unknown): DescribedError {
  if (error instanceof RunbookError) {
    return { exitCode: EXIT.USAGE, code: 'RunbookInvalid', message: `the runbook is not valid:\n${error.message}`, hint: 'fix the places listed above; `killswitch validate --runbook FILE` checks again without touching anything' }
  }
  if (error instanceof ScopeError) return { exitCode: EXIT.USAGE, code: 'ScopeInvalid', message: error.message }
  if (error instanceof ResolveError) {
    return { exitCode: EXIT.USAGE, code: 'ResolveFailed', message: `nothing was changed: the scope's targets could not be resolved:\n${error.message}`, hint: 'fix the selectors in the runbook or the platform credentials; `killswitch plan` shows what a scope resolves to' }
  }
  if (error instanceof PrimitiveError) return { exitCode: EXIT.USAGE, code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
  if (error instanceof LockedError) return { exitCode: EXIT.REFUSED, code: 'StateLocked', message: error.message }
  if (error instanceof JournalCorruptError) return { exitCode: EXIT.FAILED, code: 'JournalCorrupt', message: error.message }
  if (error instanceof UsageError) return { exitCode: EXIT.USAGE, code: 'Usage', message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
  const oclifExit = (error as { oclif?: { exit?: number } }).oclif?.exit
  if (oclifExit !== undefined) return { exitCode: EXIT.USAGE, code: 'Usage', message: (error as Error).message }
  return { exitCode: EXIT.FAILED, code: 'Unexpected', message: error instanceof Error ? error.message : String(error), hint: 'rerun with --verbose for the stack trace' }
}
