/**
 * Progress on stderr from the core's events: on a terminal a live task list (one line per step, redrawn at most
 * ten times a second); elsewhere (CI, pipes) plain timestamped lines, one per step start and end and per failure.
 */
import type { EngineEvent } from '../core/report.js'
import { redactSecrets } from '../core/secrets.js'
import { seconds } from './render.js'

interface StepLine {
  name: string
  kind: string
  total: number
  counts: Map<string, number>
  started: boolean
  done: boolean
}

const FINAL = new Set(['halted', 'already-halted', 'restored', 'kept', 'failed'])

export class Progress {
  private readonly steps = new Map<number, StepLine>()
  private readonly targetState = new Map<string, string>()
  private drawn = 0
  private timer: NodeJS.Timeout | undefined
  private phase = ''
  /** While the operator reads the confirmation prompt, the live block is not drawn: redrawing it would erase the prompt. */
  private prompting = false

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly live: boolean,
  ) {}

  static for(stream: NodeJS.WriteStream, quiet: boolean): ((e: EngineEvent) => void) & { stop(): void } {
    if (quiet) return Object.assign(() => undefined, { stop() {} })
    const progress = new Progress(stream, Boolean(stream.isTTY) && !process.env.CI)
    return Object.assign((e: EngineEvent) => progress.on(e), { stop: () => progress.stop() })
  }

  on(event: EngineEvent): void {
    switch (event.type) {
      case 'phase':
        if (event.phase === 'restore') {
          // A drill's restore reuses the step lines: start them afresh, keeping what the halt printed above.
          if (this.live) this.stop()
          this.steps.clear()
          this.targetState.clear()
        }
        this.phase = event.phase
        if (event.phase === 'confirm' && this.live) {
          // The prompt is written below what is on screen; the block must not move up over it.
          clearTimeout(this.timer)
          this.timer = undefined
          this.erase()
          this.prompting = true
          return
        }
        this.prompting = false
        if (!this.live && event.phase !== 'done') this.line(`${seconds(event.atMs)}  ${event.phase}`)
        break
      case 'step':
        this.steps.set(event.index, { name: event.name, kind: event.kind, total: event.targets, counts: new Map(), started: true, done: false })
        if (!this.live) this.line(`${seconds(event.atMs)}  step ${event.index + 1} ${event.name}: ${event.targets} target(s)`)
        break
      case 'target': {
        const step = this.stepFor(event.step)
        const previous = this.targetState.get(event.id)
        if (previous) step.counts.set(previous, (step.counts.get(previous) ?? 1) - 1)
        this.targetState.set(event.id, event.state)
        step.counts.set(event.state, (step.counts.get(event.state) ?? 0) + 1)
        if (event.state === 'failed') this.line(`${seconds(event.atMs)}  ✗ ${event.label}: ${event.error ?? 'failed'}`)
        const finished = [...FINAL].reduce((n, s) => n + (step.counts.get(s) ?? 0), 0)
        if (!step.done && step.total > 0 && finished >= step.total) {
          step.done = true
          if (!this.live) this.line(`${seconds(event.atMs)}  step ${event.step + 1} ${step.name}: ${this.summary(step)}`)
        }
        break
      }
      case 'hold':
        if (event.state === 'started') {
          this.line(`${seconds(event.atMs)}  holding ${event.targets} target(s) ${event.requestedMs === null ? 'until restore' : `for ${seconds(event.requestedMs)}`}, read back every ${seconds(event.intervalMs)} (Ctrl-C ends the hold)`)
        } else {
          this.line(`${seconds(event.atMs)}  hold ended (${event.ended}): ${event.reversions} reversion(s)`)
        }
        break
      case 'reversion': {
        const by = event.by ? ` by ${event.by}` : ''
        if (event.state === 'reverted') this.line(`${seconds(event.atMs)}  ↺ ${event.label} was undone${by} (found ${event.live}); re-applying`)
        else if (event.state === 're-halted') this.line(`${seconds(event.atMs)}  ✔ ${event.label} halted again`)
        else this.line(`${seconds(event.atMs)}  ✗ ${event.label} could NOT be halted again: ${event.error ?? 'failed'}`)
        break
      }
      case 'warning':
        this.line(`warning: ${event.message}`)
        break
    }
    if (this.live) this.schedule()
  }

  private stepFor(index: number): StepLine {
    let step = this.steps.get(index)
    if (!step) {
      step = { name: `step ${index + 1}`, kind: '', total: 0, counts: new Map(), started: true, done: false }
      this.steps.set(index, step)
    }
    return step
  }

  private summary(step: StepLine): string {
    return [...step.counts.entries()]
      .filter(([, n]) => n > 0)
      .map(([state, n]) => `${n} ${state}`)
      .join(', ')
  }

  private line(text: string): void {
    if (this.live) this.erase()
    this.out.write(redactSecrets(text) + '\n')
    if (this.live) this.draw()
  }

  private schedule(): void {
    if (this.prompting) return
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      this.erase()
      this.draw()
    }, 100)
  }

  private erase(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`)
    this.drawn = 0
  }

  private draw(): void {
    if (this.prompting) return
    const lines = [...this.steps.entries()]
      .sort(([a], [b]) => a - b)
      .map(([i, s]) => `${s.done ? (s.counts.get('failed') ? '✗' : '✔') : '…'} step ${i + 1} ${s.name}${s.kind && s.kind !== s.name ? ` (${s.kind})` : ''}  ${this.summary(s) || 'waiting'}`)
    if (this.phase && this.phase !== 'done') lines.push(`  ${this.phase}…`)
    if (lines.length === 0) return
    this.out.write(lines.join('\n') + '\n')
    this.drawn = lines.length
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    if (this.live) {
      this.erase()
      this.draw()
      this.drawn = 0
    }
  }
}
