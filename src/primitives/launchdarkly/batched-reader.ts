/**
 * Coalesces flag reads: every read of one project and environment asked for while a batch is open is answered by
 * the same request(s). A batch opens with its first read, waits `windowMs` for others, and closes when its first
 * request leaves (after pacing), so a read joins only a request that leaves after it was asked: a read-back never
 * sees a state older than the patch it follows.
 *
 * A batch lists the whole project (one request per page) unless the previous list of that project took more pages
 * than the batch has flags; then it reads those flags one by one, which costs fewer requests.
 */
import type { FlagRef, LaunchDarklyRestClient, RequestOptions } from './rest-client.js'

/** Long enough to catch the reads a fan-out starts in the same turn of the event loop and just after. */
export const BATCH_WINDOW_MS = 5

export interface FlagReader {
  /** Whether targeting is on in the environment; `null` when the flag does not exist. */
  readOn(flag: FlagRef, options: RequestOptions): Promise<boolean | null>
}

interface Waiter {
  key: string
  options: RequestOptions
  resolve(on: boolean | null): void
  reject(error: unknown): void
}

interface Batch {
  id: string
  project: string
  environment: string
  waiters: Set<Waiter>
  /** Aborts the batch's requests once every waiter has given up. */
  controller: AbortController
}

export function createBatchedFlagReader(rest: () => LaunchDarklyRestClient, windowMs = BATCH_WINDOW_MS): FlagReader {
  const open = new Map<string, Batch>()
  /** Pages the last list of each project and environment took. */
  const listPages = new Map<string, number>()

  const close = (batch: Batch) => {
    if (open.get(batch.id) === batch) open.delete(batch.id)
  }

  /**
   * Paces as the batch's earliest waiter still waiting would, then closes the batch to newcomers. A waiter that
   * gives up (its own deadline) leaves the batch, which then waits on the next one's behalf instead of failing them
   * all with the first one's time-out.
   */
  const pacedOptions = (batch: Batch): RequestOptions => ({
    signal: batch.controller.signal,
    async pace() {
      for (;;) {
        const [first] = batch.waiters
        if (!first) throw batch.controller.signal.reason
        try {
          await first.options.pace()
          break
        } catch (error) {
          if (batch.waiters.has(first) || batch.waiters.size === 0) throw error
        }
      }
      close(batch)
    },
  })

  const run = async (batch: Batch) => {
    const keys = new Set([...batch.waiters].map((w) => w.key))
    if (keys.size === 0) return close(batch)
    const answer = (key: string, on: boolean | null) => {
      for (const waiter of batch.waiters) if (waiter.key === key) waiter.resolve(on)
    }
    try {
      const pages = listPages.get(batch.id)
      if (pages !== undefined && keys.size < pages) {
        close(batch)
        const options = pacedOptions(batch)
        const fail = (key: string, error: unknown) => {
          for (const waiter of batch.waiters) if (waiter.key === key) waiter.reject(error)
        }
        // Each flag's read answers (or fails) only the waiters of that flag.
        await Promise.all(
          [...keys].map((key) =>
            rest()
              .readFlagOn({ project: batch.project, environment: batch.environment, key }, options)
              .then((on) => answer(key, on), (error: unknown) => fail(key, error)),
          ),
        )
        return
      }
      const list = await rest().listFlagsOn(batch.project, batch.environment, pacedOptions(batch))
      listPages.set(batch.id, list.pages)
      for (const waiter of batch.waiters) waiter.resolve(list.on.get(waiter.key) ?? null)
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error)
    } finally {
      close(batch)
    }
  }

  return {
    readOn(flag, options) {
      if (options.signal.aborted) return Promise.reject(options.signal.reason)
      const id = `${flag.project}\0${flag.environment}`
      let batch = open.get(id)
      if (!batch) {
        const created: Batch = { id, project: flag.project, environment: flag.environment, waiters: new Set(), controller: new AbortController() }
        open.set(id, created)
        setTimeout(() => void run(created), windowMs)
        batch = created
      }
      const joined = batch
      return new Promise<boolean | null>((resolve, reject) => {
        const onAbort = () => {
          joined.waiters.delete(waiter)
          reject(options.signal.reason)
          if (joined.waiters.size === 0) {
            close(joined)
            joined.controller.abort(options.signal.reason)
          }
        }
        const settle = () => options.signal.removeEventListener('abort', onAbort)
        const waiter: Waiter = {
          key: flag.key,
          options,
          resolve: (on) => {
            settle()
            resolve(on)
          },
          reject: (error) => {
            settle()
            reject(error)
          },
        }
        joined.waiters.add(waiter)
        options.signal.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}
