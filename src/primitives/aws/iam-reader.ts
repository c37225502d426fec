/**
 * Coalesces reads of the tool's inline policy: every read of one account's roles (or users, or groups) asked for
 * while a batch is open is answered by one GetAccountAuthorizationDetails listing, instead of one or two requests per
 * entity. A halt of 1,000 roles then spends its IAM budget on the 1,000 PutRolePolicy calls and reads every
 * policy back in one or two requests.
 *
 * A batch opens with its first read and closes when its turn in the account's IAM bucket comes (its first request
 * leaves then), so a read joins only a listing that leaves after it was asked: a read-back never sees a state older
 * than the put it follows. When, at its turn, the last listing of that account took more pages than the batch has
 * entities, the batch reads them one by one instead (fewer requests); when the break-glass principal may not call
 * GetAccountAuthorizationDetails, every read goes one by one, with one warning.
 */
import type { PrimitiveContext, RateBucket } from '../../core/primitive.js'
import { createBatcher, type Batch } from '../batching.js'
import type { AwsClients } from './clients.js'
import { getInlinePolicy, iamBucket, listAccountDetails, readInlinePolicy, type IamEntity } from './iam-api.js'

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

/** A batch's turn in its account's IAM bucket, paced already: the first request there spends it. */
interface Turn {
  bucket: RateBucket
  spend(): boolean
}

interface Read {
  entity: IamEntity
  policyName: string
  mode: ReadMode
  ctx: PrimitiveContext
}

async function readOne(clients: AwsClients, { entity, policyName, mode, ctx }: Read): Promise<PolicyRead> {
  if (mode === 'readBack') return { exists: true, policy: await getInlinePolicy(clients, entity, policyName, ctx) }
  try {
    return { exists: true, policy: await readInlinePolicy(clients, entity, policyName, ctx) }
  } catch (error) {
    if ((error as { code?: string }).code === 'IamEntityNotFound') return { exists: false, policy: null }
    throw error
  }
}

export function createBatchedPolicyReader(clients: AwsClients, windowMs = BATCH_WINDOW_MS): PolicyReader {
  const listingPages = new Map<string, number>()
  /** Accounts where GetAccountAuthorizationDetails was refused: read entity by entity there. */
  const denied = new Set<string>()

  /** A context whose first request in the account's IAM bucket takes the batch's turn instead of pacing again. */
  const spending = (ctx: PrimitiveContext, turn: Turn): PrimitiveContext => ({
    ...ctx,
    pace: (bucket) => (bucket.key === turn.bucket.key && turn.spend() ? Promise.resolve() : ctx.pace(bucket)),
  })

  /**
   * The batch's listing paces as its earliest reader still waiting would (see Batch.paceAsEarliest), and while a
   * page waits for its turn no reader's deadline runs: every one of them is waiting for that page.
   */
  const batchContext = (batch: Batch<Read, PolicyRead>, first: Read, turn: Turn): PrimitiveContext =>
    spending(
      {
        ...first.ctx,
        signal: batch.signal,
        pace: async (bucket) => {
          const resume = batch.pauseDeadlines()
          try {
            await batch.paceAsEarliest((read) => read.ctx.pace(bucket))
          } finally {
            resume()
          }
        },
      },
      turn,
    )

  /** Entity by entity, each reader in its own context (pacing, deadline, error); the batch takes no newcomer. */
  const readEach = async (batch: Batch<Read, PolicyRead>, turn?: Turn) => {
    batch.close()
    const ctxOf = (read: Read) => (turn ? spending(read.ctx, turn) : read.ctx)
    await Promise.all([...batch.waiters].map((waiter) => readOne(clients, { ...waiter.request, ctx: ctxOf(waiter.request) }).then(waiter.resolve, waiter.reject)))
  }

  const markDenied = (account: string, warn: (message: string) => void) => {
    if (denied.has(account)) return
    denied.add(account)
    warn(
      `account ${account}: the break-glass principal may not call iam:GetAccountAuthorizationDetails, so IAM entities are listed, tagged and read one request at a time (grant it to do that in one request per 1,000 entities; docs/primitives/aws.md)`,
    )
  }

  const run = async (batch: Batch<Read, PolicyRead>) => {
    // Every read of a batch is of the same account and entity type.
    const first = [...batch.waiters][0]!.request
    const { account, type } = first.entity
    if (denied.has(account)) return readEach(batch)
    const bucket = iamBucket(account)
    const turn: Turn = { bucket, spend: await batch.takeTurn((read) => read.ctx.pace(bucket)) }
    const distinct = new Set([...batch.waiters].map((w) => w.request.entity.name.toLowerCase())).size
    const pages = listingPages.get(batch.id)
    if (pages !== undefined && distinct < pages) return readEach(batch, turn)
    let details
    try {
      details = await listAccountDetails(clients, account, type, batchContext(batch, first, turn))
    } catch (error) {
      if ((error as { code?: string }).code !== 'AccessDenied') throw error
      markDenied(account, first.ctx.warn)
      return readEach(batch)
    }
    listingPages.set(batch.id, details.pages)
    for (const waiter of batch.waiters) {
      const { entity, policyName } = waiter.request
      const found = details.entities.get(entity.name.toLowerCase())
      waiter.resolve(found ? { exists: true, policy: found.policies.get(policyName) ?? null } : { exists: false, policy: null })
    }
  }

  const batcher = createBatcher<Read, PolicyRead>({ windowMs, signalOf: (read) => read.ctx.signal, pause: (read) => read.ctx.pauseDeadline?.(), run })
  const idOf = (account: string, type: IamEntity['type']) => `${account}\0${type}`

  return {
    noteListing(account, type, pages) {
      listingPages.set(idOf(account, type), pages)
    },
    noteDenied: markDenied,
    isDenied: (account) => denied.has(account),
    read: (entity, policyName, mode, ctx) => batcher.join(idOf(entity.account, entity.type), { entity, policyName, mode, ctx }),
  }
}
