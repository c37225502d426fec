/**
 * Coalescing reads into batches, shared by the LaunchDarkly flag reader and the IAM policy reader: every read of
 * one batch id asked for while the batch is open is answered by the same request(s). A batch opens with its first
 * read, waits `windowMs` for others, and closes when its first request leaves (after pacing, see
 * `paceAsEarliest`), so a read joins only a request that leaves after it was asked: a read-back never sees a state
 * older than the change it follows.
 *
 * A reader that gives up (its signal aborts) leaves its batch at once; the batch's requests are aborted when every
 * reader has given up. If the batch's `run` fails, every reader it has not answered is rejected with its error.
 * While a reader waits for its batch to leave, its deadline is paused (`pause`): that wait is this process's pacing.
 */

export interface Waiter<Request, Answer> {
  readonly request: Request
  resolve(answer: Answer): void
  reject(error: unknown): void
  /** Ends the pause of the reader's deadline (once, however often called). */
  departed(): void
}

export class Batch<Request, Answer> {
  /** The readers still waiting for an answer. */
  readonly waiters = new Set<Waiter<Request, Answer>>()
  readonly controller = new AbortController()

  constructor(
    readonly id: string,
    private readonly onClose: (batch: Batch<Request, Answer>) => void,
    /** How a reader's deadline is paused (BatcherOptions.pause). */
    readonly pauseOf: (request: Request) => (() => void) | undefined = () => undefined,
  ) {}

  /** Aborted once every reader has given up: pass it to the batch's requests. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Takes no newcomer from now on (a later read opens a new batch); its readers' deadlines run again. */
  close(): void {
    for (const waiter of this.waiters) waiter.departed()
    this.onClose(this)
  }

  /**
   * Waits for the batch's turn under the rate limit (paced as its earliest reader, see `paceAsEarliest`) and closes
   * it. Until then the batch takes newcomers, so a choice that depends on how many reads it holds (one listing, or
   * one request per read) is made with every read that asked before its turn, not only those of its first moments:
   * in a bucket that mutations fill for minutes, a batch's first moments hold one read. The turn is one request's
   * slot, already paced: the returned `spend` says true once, to the request that takes it instead of pacing again.
   */
  async takeTurn(pace: (request: Request) => Promise<void>): Promise<() => boolean> {
    await this.paceAsEarliest(pace)
    let unspent = true
    return () => {
      const had = unspent
      unspent = false
      return had
    }
  }

  /**
   * Pauses the deadlines of `waiters` (by default every reader still waiting) and returns what ends the pause: a
   * request made for them that waits for this process's pacing waits on their behalf.
   */
  pauseDeadlines(waiters: Iterable<Waiter<Request, Answer>> = this.waiters): () => void {
    const ends = [...waiters].map((waiter) => this.pauseOf(waiter.request))
    return () => {
      for (const end of ends) end?.()
    }
  }

  /**
   * Paces a request of the batch as its earliest reader still waiting would, then closes the batch. A reader that
   * gives up (its own deadline) leaves the batch, which then waits on the next reader's behalf instead of failing
   * them all with the first one's time-out.
   */
  async paceAsEarliest(pace: (request: Request) => Promise<void>): Promise<void> {
    for (;;) {
      const [earliest] = this.waiters
      if (!earliest) throw this.signal.reason
      try {
        await pace(earliest.request)
        break
      } catch (error) {
        if (this.waiters.has(earliest) || this.waiters.size === 0) throw error
      }
    }
    this.close()
  }
}

export interface BatcherOptions<Request, Answer> {
  windowMs: number
  /** The reader's own signal: aborting it takes the read out of its batch. */
  signalOf(request: Request): AbortSignal
  /** Answers the batch's waiters; the batch is closed when it returns. */
  run(batch: Batch<Request, Answer>): Promise<void>
  /** Pauses the reader's deadline (until its batch leaves, and while the batch's requests wait for pacing); returns what ends the pause. */
  pause?(request: Request): (() => void) | undefined
}

export function createBatcher<Request, Answer>(options: BatcherOptions<Request, Answer>): { join(id: string, request: Request): Promise<Answer> } {
  const open = new Map<string, Batch<Request, Answer>>()
  const onClose = (batch: Batch<Request, Answer>) => {
    if (open.get(batch.id) === batch) open.delete(batch.id)
  }

  const start = async (batch: Batch<Request, Answer>) => {
    try {
      if (batch.waiters.size > 0) await options.run(batch)
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error)
    } finally {
      batch.close()
    }
  }

  return {
    join(id, request) {
      const signal = options.signalOf(request)
      if (signal.aborted) return Promise.reject(signal.reason)
      let batch = open.get(id)
      if (!batch) {
        const created = new Batch<Request, Answer>(id, onClose, options.pause)
        open.set(id, created)
        setTimeout(() => void start(created), options.windowMs)
        batch = created
      }
      const joined = batch
      return new Promise<Answer>((resolve, reject) => {
        const onAbort = () => {
          waiter.departed()
          joined.waiters.delete(waiter)
          reject(signal.reason)
          if (joined.waiters.size === 0) {
            joined.close()
            joined.controller.abort(signal.reason)
          }
        }
        let endPause = joined.pauseOf(request)
        const departed = () => {
          endPause?.()
          endPause = undefined
        }
        // An answered reader leaves the batch: its requests no longer pause it, fail it or pace on its behalf.
        const settle = () => {
          departed()
          joined.waiters.delete(waiter)
          signal.removeEventListener('abort', onAbort)
        }
        const waiter: Waiter<Request, Answer> = {
          request,
          departed,
          resolve: (answer) => {
            settle()
            resolve(answer)
          },
          reject: (error) => {
            settle()
            reject(error)
          },
        }
        joined.waiters.add(waiter)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}
