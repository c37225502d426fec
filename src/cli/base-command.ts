/**
 * The base of every command: the shared flags (each with its KILLSWITCH_* variable), result output (human text
 * or the --json envelope on stdout), and one error path that turns anything thrown into a message with what to
 * do next and the documented exit code. Stack traces only with --verbose.
 */
import { Command } from '@oclif/core/command'
import * as Flags from '@oclif/core/flags'
import type * as Interfaces from '@oclif/core/interfaces'
import { createInterface } from 'node:readline/promises'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { EngineEvent, Trigger } from '../core/report.js'
import { redactSecrets } from '../core/secrets.js'
import { describeError, UsageError } from './errors.js'
import { EXIT, EXIT_TABLE } from './exit-codes.js'
import { envelope } from './render.js'

export const sharedFlags = {
  json: Flags.boolean({ description: 'Print the result as JSON (schema: docs/json-output.md) instead of text.', env: 'KILLSWITCH_JSON' }),
  verbose: Flags.boolean({ description: 'Show stack traces for unexpected errors.', env: 'KILLSWITCH_VERBOSE' }),
  'state-dir': Flags.string({
    description: 'Directory holding the journal, the lock and the audit trail.',
    env: 'KILLSWITCH_STATE_DIR',
    default: '.killswitch',
  }),
}

export const runbookFlag = Flags.string({ char: 'r', description: 'The runbook YAML file.', env: 'KILLSWITCH_RUNBOOK', required: true })
export const scopeFlag = Flags.string({
  char: 's',
  description: 'What to act on: agent=ID, class=NAME or global.',
  env: 'KILLSWITCH_SCOPE',
  required: true,
})
export const triggerFlag = Flags.string({
  description: 'Who pulled the switch, for the audit trail. Default: human on a terminal, ci under CI, else automated.',
  env: 'KILLSWITCH_TRIGGER',
  options: ['human', 'automated', 'scheduled', 'ci'],
})
export const verifyTimeoutFlag = Flags.string({
  description: 'Give up verifying a target after this long (e.g. 120s). Time its read-backs wait for their turn under a rate limit does not count.',
  env: 'KILLSWITCH_VERIFY_TIMEOUT',
  default: '120s',
})
export const holdIntervalFlag = Flags.string({
  description: 'During a hold, the pause between two rounds of read-backs of every held target (each read paced in its platform\'s rate limit).',
  env: 'KILLSWITCH_HOLD_INTERVAL',
  default: '2s',
})
export const yesFlag = Flags.boolean({
  char: 'y',
  description: 'Do not ask for confirmation (required without a terminal).',
  env: 'KILLSWITCH_YES',
})

export type SharedFlags = Interfaces.InferredFlags<typeof sharedFlags>

export abstract class KillswitchCommand extends Command {
  static override baseFlags = sharedFlags
  static override description = EXIT_TABLE

  private jsonMode = false
  private verboseMode = false

  protected override async init(): Promise<void> {
    await super.init()
    // Read the output flags before parsing, so even a parse error is reported in the requested form.
    this.jsonMode = this.argv.includes('--json') || process.env.KILLSWITCH_JSON === 'true' || process.env.KILLSWITCH_JSON === '1'
    this.verboseMode = this.argv.includes('--verbose') || process.env.KILLSWITCH_VERBOSE === 'true'
  }

  protected stateDir(flags: SharedFlags): string {
    return resolve(flags['state-dir'])
  }

  /**
   * The state directory of a command that reads what earlier invocations left (status, restore, audit verify). A
   * directory that does not exist or holds neither a journal nor an audit trail is the wrong one, not an all-clear.
   */
  protected existingStateDir(flags: SharedFlags): string {
    const dir = this.stateDir(flags)
    if (!existsSync(join(dir, 'journal.jsonl')) && !existsSync(join(dir, 'audit.jsonl'))) {
      throw new UsageError(
        `no killswitch state in ${dir}: ${existsSync(dir) ? 'it holds no journal and no audit trail' : 'the directory does not exist'}, so nothing can be said about what is halted`,
        'pass the state directory the halt used: --state-dir DIR or KILLSWITCH_STATE_DIR (the default is .killswitch in the directory the command runs in)',
      )
    }
    return dir
  }

  /**
   * Prints the result and ends with its exit code. Waits until stdout has taken the whole result: a report of
   * thousands of targets overflows a pipe, and exiting before it drains would cut the JSON short.
   */
  protected async finish(result: unknown, human: string, exitCode: number): Promise<void> {
    const text = this.jsonMode ? envelope(this.id ?? 'killswitch', exitCode, result) + '\n' : human
    await writeStdout(text)
    if (exitCode !== 0) this.exit(exitCode)
  }

  protected override async catch(error: Interfaces.CommandError): Promise<void> {
    if ((error as { code?: string }).code === 'EEXIT') throw error
    const described = describeError(error)
    if (this.jsonMode) {
      const text = envelope(this.id ?? 'killswitch', described.exitCode, null, described) + '\n'
      await writeStdout(text).catch(() => undefined)
    }
    process.stderr.write(redactSecrets(`killswitch: ${described.message}\n${described.hint ? `  → ${described.hint}\n` : ''}`))
    if (this.verboseMode && error.stack) process.stderr.write(`${redactSecrets(error.stack)}\n`)
    this.exit(described.exitCode)
  }

  /**
   * A command that changes platforms outlives the terminal it was started from: an SSH session that drops half-way
   * through a halt must not leave the halt half-done. From here on SIGHUP is ignored (what would have gone to the
   * gone terminal is dropped, bin/run.js; Kubernetes exec plugins run in a session of their own); Ctrl-C (SIGINT) and
   * SIGTERM still stop the process, and the journal lets a halt resume where it stopped.
   */
  protected surviveHangup(): void {
    process.on('SIGHUP', ignoreHangup)
  }

  /**
   * A hold (halt --hold, guard) ends on the first Ctrl-C or SIGTERM, and the command prints its report; a second one
   * stops the process at once. Armed by `arm()`, or once the halt's verification is done (the hold follows: an
   * interrupt between the two ends the hold as it starts): before that, an interrupt stops a halt as it always did,
   * and the journal lets it resume.
   */
  protected interruptibleHold(emit: (e: EngineEvent) => void): { signal: AbortSignal; arm(): void; emit(e: EngineEvent): void } {
    const controller = new AbortController()
    let armed = false
    const end = () => {
      process.off('SIGINT', end)
      process.off('SIGTERM', end)
      controller.abort(new Error('interrupted'))
    }
    const arm = () => {
      if (armed) return
      armed = true
      process.once('SIGINT', end)
      process.once('SIGTERM', end)
    }
    return {
      signal: controller.signal,
      arm,
      emit(e) {
        if ((e.type === 'phase' && e.phase === 'done') || (e.type === 'hold' && e.state === 'started')) arm()
        emit(e)
      },
    }
  }

  protected trigger(flag: string | undefined): Trigger {
    if (flag) return flag as Trigger
    if (process.env.CI) return 'ci'
    return process.stdin.isTTY ? 'human' : 'automated'
  }

  /**
   * On a terminal the operator confirms by typing the scope; without one `--yes` is required, so that nothing
   * destructive ever happens on a guess.
   */
  protected async confirmByTyping(scope: string, summary: string[], yes: boolean, action: string): Promise<boolean> {
    if (yes) return true
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new UsageError(`there is no terminal to confirm the ${action} on`, `pass --yes (or KILLSWITCH_YES=1) to ${action} without a prompt`)
    }
    process.stderr.write(summary.join('\n') + '\n')
    // terminal: false keeps the terminal in its own line mode (the kernel echoes and edits the line): in raw mode,
    // readline's close on a terminal that hung up throws EIO from setRawMode, where nothing can catch it.
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false })
    // A terminal that goes away declines: its input ends (the question would never be answered), or fails. Ctrl-C
    // at the prompt declines too, so that the lock is released and the journal closed like any declined halt.
    let gone = () => {}
    try {
      const answer = await new Promise<string | undefined>((resolve, reject) => {
        gone = () => resolve(undefined)
        rl.once('close', gone)
        process.stdin.once('error', gone)
        process.once('SIGINT', gone)
        rl.question(`Type ${scope} to ${action}: `).then(resolve, reject)
      })
      return answer?.trim() === scope
    } finally {
      process.stdin.off('error', gone)
      process.off('SIGINT', gone)
      rl.close()
    }
  }
}

function ignoreHangup(): void {}

/**
 * Writes to stdout and resolves once the stream has taken it. A reader that went away (EPIPE, EIO from a terminal
 * that hung up, and the stream destroyed by either) is not an error of the command: its exit code stays the
 * result's (bin/run.js drops later writes).
 */
function writeStdout(text: string): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    process.stdout.write(redactSecrets(text), (error) => {
      const code = (error as NodeJS.ErrnoException | null | undefined)?.code
      if (error && code !== 'EPIPE' && code !== 'EIO' && code !== 'ERR_STREAM_DESTROYED') reject(error)
      else resolve()
    }),
  )
}

export { EXIT, EXIT_TABLE }
