/**
 * Coalesces flag reads: every read of one project and environment asked for while a batch is open is answered by
 * the same request(s). A batch opens with its first read and closes when its turn under the rate limit comes (its
 * first request leaves then), so a read joins only a request that leaves after it was asked: a read-back never sees
 * a state older than the patch it follows.
 *
 * When its turn comes, a batch lists the whole project (one request per page) unless the previous list of that
 * project took more pages than the batch has flags; then it reads those flags one by one, which costs fewer requests.
 */
import { createBatcher, type Batch, type Waiter } from '../batching.js'
import type { FlagRef, FlagView, LaunchDarklyRestClient, RequestOptions } from './rest-client.js'

/** Long enough to catch the reads a fan-out starts in the same turn of the event loop and just after. */
export const BATCH_WINDOW_MS = 5

export interface FlagReader {
  /** The flag in its environment; `null` when the flag does not exist (or is archived, in a list). */
  read(flag: FlagRef, options: RequestOptions): Promise<FlagView | null>
}

interface Read {
  flag: FlagRef
  options: RequestOptions
}

export function createBatchedFlagReader(rest: () => LaunchDarklyRestClient, windowMs = BATCH_WINDOW_MS): FlagReader {
  /** Pages the last list of each project and environment took. */
  const listPages = new Map<string, number>()

  const run = async (batch: Batch<Read, FlagView | null>) => {
    // Every read of a batch is of the same project and environment.
    const { project, environment } = [...batch.waiters][0]!.request.flag
    // Reads keep joining until the batch's turn to read comes; then it is known which request costs less.
    const spend = await batch.takeTurn((read) => read.options.pace())
    const keys = new Set([...batch.waiters].map((w) => w.request.flag.key))
    /** Options for a request answering `waiters`: while it waits for its turn, their deadlines are paused. */
    const optionsFor = (waiters: () => Waiter<Read, FlagView | null>[]): RequestOptions => ({
      signal: batch.signal,
      pace: () => (spend() ? Promise.resolve() : batch.paceAsEarliest((read) => read.options.pace())),
      pauseDeadline: () => batch.pauseDeadlines(waiters()),
    })
    const pages = listPages.get(batch.id)
    if (pages !== undefined && keys.size < pages) {
      // Each flag's read answers (or fails) only the waiters of that flag, and pauses only theirs.
      const waitersOf = (key: string) => [...batch.waiters].filter((w) => w.request.flag.key === key)
      await Promise.all(
        [...keys].map((key) =>
          rest()
            .readFlag({ project, environment, key }, optionsFor(() => waitersOf(key)))
            .then(
              (view) => waitersOf(key).forEach((w) => w.resolve(view)),
              (error: unknown) => waitersOf(key).forEach((w) => w.reject(error)),
            ),
        ),
      )
      return
    }
    const list = await rest().listFlags(project, environment, optionsFor(() => [...batch.waiters]))
    listPages.set(batch.id, list.pages)
    for (const waiter of batch.waiters) waiter.resolve(list.flags.get(waiter.request.flag.key) ?? null)
  }

  const batcher = createBatcher<Read, FlagView | null>({ windowMs, signalOf: (read) => read.options.signal, pause: (read) => read.options.pauseDeadline?.(), run })

  return {
    read: (flag, options) => batcher.join(`${flag.project}\0${flag.environment}`, { flag, options }),
  }
}
