/**
 * How the CLI's heap grows. Start-up is part of every halt's time-to-halt, so V8 keeps its defaults until the
 * first target has been changed: its first full collection waits until the old generation reaches about 128 MB,
 * and each later one until the heap has grown up to four times what survived. A halt of a thousand agents keeps
 * thousands of requests in flight and retires them over minutes, so with those defaults its heap climbed to about
 * 200 MB of mostly dead objects, and the process to 330 MB resident, for about 45 MB live (bench/RESULTS.md).
 *
 * Once the first change has been made, the heap is let grow only HEAP_GROWING_PERCENT past what survived the last
 * collection, and one collection runs at once so the new limit applies from there on rather than from the next
 * natural collection. Setting the flag on the command line instead costs start-up (measured +20 to +40 ms before
 * the first mutation), because V8 then collects while the modules load.
 *
 * Measured on a 1,000-agent halt against the realistic sandbox: peak resident 330 MB before, about 200 MB after,
 * with the same time-to-halt (bench/RESULTS.md).
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** V8's heap growing factor after start-up: 1.2 × what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 20

let applied = false

/**
 * Called once the first change has been answered. Idempotent, and never throws: it runs in the middle of a halt,
 * whose targets must not fail for a memory setting. A process started with `--freeze-flags-after-init` cannot
 * change V8's flags (trying aborts it), so there it does nothing.
 */
export function favourMemoryFromNowOn(): void {
  if (applied) return
  applied = true
  if (process.execArgv.some((arg) => /^--freeze[-_]flags[-_]after[-_]init$/.test(arg))) return
  try {
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
    // V8 hands out its collector only to contexts created while --expose-gc is set. Passing the flag on the command
    // line instead would cost start-up too (+35 ms measured: compiled code cached without it is not reused).
    let collect: (() => void) | undefined
    setFlagsFromString('--expose-gc')
    try {
      collect = runInNewContext('typeof gc === "function" ? gc : undefined') as (() => void) | undefined
    } finally {
      setFlagsFromString('--no-expose-gc')
    }
    collect?.()
  } catch {
    // Best effort: without it the halt runs as before, with V8's default heap growth.
  }
}
