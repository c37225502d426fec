/**
 * Coalesces reads of the tool's inline policy: every read of one account's roles (or users, or groups) asked for
 * while a batch is open is answered by one GetAccountAuthorizationDetails listing, instead of one or two requests per
 * entity. A halt of 1,000 roles then spends its IAM budget on the 1,000 PutRolePolicy calls and reads every
 * policy back in one or two requests.
 *
 * A batch opens with its first read, waits `windowMs` for others, and closes when its first request leaves (after
 * pacing), so a read joins only a listing that leaves after it was asked: a read-back never sees a state older than
 * the put it follows. When the last listing of that account took more pages than the batch has entities, the batch
 * reads them one by one instead (fewer requests); when the break-glass principal may not call
 * GetAccountAuthorizationDetails, every read goes one by one, with one warning.
 */
import type { PrimitiveContext } from '../../core/primitive.js'
import type { AwsClients } from './clients.js'
import { getInlinePolicy, listAccountDetails, readInlinePolicy, type IamEntity } from './iam-api.js'

export const BATCH_WINDOW_MS = 5

/** What a read saw: whether the entity exists, and the tool's policy document (null when it has none). */
export interface PolicyRead {
  exists: boolean
  policy: string | null
}

/**
 * `snapshot`: a missing entity is reported as such (exists: false). `readBack`: the entity is expected to exist;
 * read one by one this costs a single Get*Policy request, which cannot tell a missing entity from a missing policy.
 */
export type ReadMode = 'snapshot' | 'readBack'

export interface PolicyReader {
  read(entity: IamEntity, policyName: string, mode: ReadMode, ctx: PrimitiveContext): Promise<PolicyRead>
  /** Entities already listed (by resolution), so the next batch knows what a listing costs. */
  noteListing(account: string, type: IamEntity['type'], pages: number): void
  /** GetAccountAuthorizationDetails was refused in this account: read entity by entity there (warns once). */
  noteDenied(account: string, warn: (message: string) => void): void
  /** Whether it was refused in this account. */
  isDenied(account: string): boolean
}

interface Waiter {
  entity: IamEntity
  policyName: string
  mode: ReadMode
  ctx: PrimitiveContext
  resolve(read: PolicyRead): void
  reject(error: unknown): void
}

interface Batch {
  id: string
  account: string
  type: IamEntity['type']
  waiters: Set<Waiter>
  controller: AbortController
}

async function readOne(clients: AwsClients, waiter: Waiter, ctx: PrimitiveContext): Promise<PolicyRead> {
  if (waiter.mode === 'readBack') return { exists: true, policy: await getInlinePolicy(clients, waiter.entity, waiter.policyName, ctx) }
  try {
    return { exists: true, policy: await readInlinePolicy(clients, waiter.entity, waiter.policyName, ctx) }
  } catch (error) {
    if ((error as { code?: string }).code === 'IamEntityNotFound') return { exists: false, policy: null }
    throw error
  }
}

export function createBatchedPolicyReader(clients: AwsClients, windowMs = BATCH_WINDOW_MS): PolicyReader {
  const open = new Map<string, Batch>()
  const listingPages = new Map<string, number>()
  /** Accounts where GetAccountAuthorizationDetails was refused: read entity by entity there. */
  const denied = new Set<string>()

  const close = (batch: Batch) => {
    if (open.get(batch.id) === batch) open.delete(batch.id)
  }

  /**
   * Paces the batch's requests as its earliest reader still waiting would. A reader that gives up (its own
   * verification deadline) leaves the batch, and the batch then waits on the next reader's behalf instead of failing
   * them all with the first one's time-out. The first request to leave closes the batch to newcomers.
   */
  const batchContext = (batch: Batch): PrimitiveContext => {
    const [first] = batch.waiters
    if (!first) throw new Error('an IAM read batch with no reader')
    return {
      ...first.ctx,
      signal: batch.controller.signal,
      async pace(bucket) {
        for (;;) {
          const [earliest] = batch.waiters
          if (!earliest) throw batch.controller.signal.reason
          try {
            await earliest.ctx.pace(bucket)
            break
          } catch (error) {
            if (batch.waiters.has(earliest) || batch.waiters.size === 0) throw error
          }
        }
        close(batch)
      },
    }
  }

  /** Entity by entity, each reader in its own context (pacing, deadline, error); the batch takes no newcomer. */
  const readEach = async (batch: Batch) => {
    close(batch)
    await Promise.all([...batch.waiters].map((waiter) => readOne(clients, waiter, waiter.ctx).then(waiter.resolve, waiter.reject)))
  }

  const markDenied = (account: string, warn: (message: string) => void) => {
    if (denied.has(account)) return
    denied.add(account)
    warn(
      `account ${account}: the break-glass principal may not call iam:GetAccountAuthorizationDetails, so IAM entities are listed, tagged and read one request at a time (grant it to do that in one request per 1,000 entities; docs/primitives/aws.md)`,
    )
  }

  const run = async (batch: Batch) => {
    const [first] = batch.waiters
    if (!first) return close(batch)
    const distinct = new Set([...batch.waiters].map((w) => w.entity.name.toLowerCase())).size
    const pages = listingPages.get(batch.id)
    try {
      if (denied.has(batch.account) || (pages !== undefined && distinct < pages)) return await readEach(batch)
      let details
      try {
        details = await listAccountDetails(clients, batch.account, batch.type, batchContext(batch))
      } catch (error) {
        if ((error as { code?: string }).code !== 'AccessDenied') throw error
        markDenied(batch.account, first.ctx.warn)
        return await readEach(batch)
      }
      listingPages.set(batch.id, details.pages)
      for (const waiter of batch.waiters) {
        const found = details.entities.get(waiter.entity.name.toLowerCase())
        waiter.resolve(found ? { exists: true, policy: found.policies.get(waiter.policyName) ?? null } : { exists: false, policy: null })
      }
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error)
    } finally {
      close(batch)
    }
  }

  return {
    noteListing(account, type, pages) {
      listingPages.set(`${account}\0${type}`, pages)
    },
    noteDenied: markDenied,
    isDenied: (account) => denied.has(account),

    read(entity, policyName, mode, ctx) {
      if (ctx.signal.aborted) return Promise.reject(ctx.signal.reason)
      const id = `${entity.account}\0${entity.type}`
      let batch = open.get(id)
      if (!batch) {
        const created: Batch = { id, account: entity.account, type: entity.type, waiters: new Set(), controller: new AbortController() }
        open.set(id, created)
        setTimeout(() => void run(created), windowMs)
        batch = created
      }
      const joined = batch
      return new Promise<PolicyRead>((resolve, reject) => {
        const onAbort = () => {
          joined.waiters.delete(waiter)
          reject(ctx.signal.reason)
          if (joined.waiters.size === 0) {
            close(joined)
            joined.controller.abort(ctx.signal.reason)
          }
        }
        const settle = () => ctx.signal.removeEventListener('abort', onAbort)
        const waiter: Waiter = {
          entity,
          policyName,
          mode,
          ctx,
          resolve: (read) => {
            settle()
            resolve(read)
          },
          reject: (error) => {
            settle()
            reject(error)
          },
        }
        joined.waiters.add(waiter)
        ctx.signal.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}
