/**
 * Reading the sandbox's request log: which rate-limit bucket each request falls in (the sandbox's own buckets, so
 * the engine's counts compare with the lower bound's), and which requests mutate a target.
 */
import type { RequestLogEntry } from '../src/sandbox/server.js'

/** The buckets the lower bound is computed over; `other` is everything no platform limits (STS, SNS, SDK stream). */
export const BUCKETS = ['lambda-control', 'lambda-get', 'tagging', 'iam', 'ld-get', 'ld-patch', 'ld-list', 'kubernetes', 'other'] as const
export type BucketName = (typeof BUCKETS)[number]

const NOT_IAM_ACTIONS = new Set(['GetCallerIdentity', 'AssumeRole', 'Publish', 'GetResources', 'ListTopics', 'CreateTopic'])

export function bucketOf(entry: RequestLogEntry): BucketName {
  const { method, path, action } = entry
  if (/^\/20\d\d-\d\d-\d\d\/(functions|tags|account-settings)/.test(path)) {
    // The sandbox, like AWS, gives GetFunction its own 100/s bucket; every other Lambda call shares the 15/s one.
    return method === 'GET' && /^\/2015-03-31\/functions\/[^/]+\/?$/.test(path) ? 'lambda-get' : 'lambda-control'
  }
  if (action === 'GetResources') return 'tagging'
  if (action && !NOT_IAM_ACTIONS.has(action)) return 'iam'
  if (path.startsWith('/api/v2/flags/')) {
    if (method === 'PATCH') return 'ld-patch'
    return path.split('/').length > 5 ? 'ld-get' : 'ld-list'
  }
  if (path === '/api' || path.startsWith('/api/') || path.startsWith('/apis') || path === '/version') return 'kubernetes'
  return 'other'
}

/** A request that changes a target: a REST PUT/PATCH/DELETE, or a query-protocol Put*, Delete*, Attach*, Detach*, Update*. */
export function isMutation(entry: RequestLogEntry): boolean {
  if (entry.method === 'PUT' || entry.method === 'PATCH' || entry.method === 'DELETE') return true
  return entry.action !== undefined && /^(Put|Delete|Attach|Detach|Update)/.test(entry.action)
}

export function countByBucket(entries: RequestLogEntry[]): Record<BucketName, number> {
  const counts = Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Record<BucketName, number>
  for (const entry of entries) counts[bucketOf(entry)]++
  return counts
}

export function firstMutationAt(entries: RequestLogEntry[]): number | undefined {
  let first: number | undefined
  for (const entry of entries) if (isMutation(entry) && (first === undefined || entry.at < first)) first = entry.at
  return first
}
