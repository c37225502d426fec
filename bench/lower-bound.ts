/**
 * The lower bound the platforms allow for halting the bench fleet: for every rate-limit bucket, the requests a
 * halt cannot do without (read the snapshot, mutate, read back, per target; the list pages that find the targets)
 * at the bucket's documented rate, after its burst, plus one round trip; for Kubernetes, one round trip, the
 * controller's reaction and the pods' grace period. Buckets proceed in parallel, so the bound is the largest term.
 * Targets already halted need only their snapshot read.
 */
import { RATE_LIMIT_WINDOW_MS, GLOBAL_LIMIT_PER_WINDOW, ROUTE_LIMIT_PER_WINDOW } from '../src/sandbox/launchdarkly/rate-limit.js'
import type { RealismProfile } from '../src/sandbox/realism.js'
import type { SeedInput } from '../src/sandbox/seed.js'
import type { BucketName } from './request-log.js'

/** AWS page sizes the sandbox allows at most: GetAccountAuthorizationDetails MaxItems 1000, GetResources ResourcesPerPage 100. */
const IAM_LIST_PAGE = 1000
const TAGGING_PAGE = 100
const LAMBDA_CONTROL_RATE = 15
const LAMBDA_GET_RATE = 100
/** Flags per page of LaunchDarkly's list endpoint (the primitive's LIST_PAGE_SIZE). */
const LD_LIST_PAGE = 100

export interface FleetCounts {
  functions: number
  /** Roles the halt denies (under /agents/). */
  roles: number
  /** Every role of the account(s): what listing them with their policies covers. */
  accountRoles: number
  workloads: number
  flags: number
  /** Flags on before the halt (the others are already halted and need no patch nor read-back). */
  flagsOn: number
  podGraceSeconds: number
}

export function countFleet(seed: SeedInput): FleetCounts {
  const accounts = Object.values(seed.aws?.accounts ?? {})
  const functions = accounts.reduce((n, a) => n + Object.values(a.lambda ?? {}).flat().length, 0)
  const roles = accounts.reduce((n, a) => n + (a.iam?.roles ?? []).filter((r) => r.path === '/agents/').length, 0)
  const accountRoles = accounts.reduce((n, a) => n + (a.iam?.roles ?? []).length, 0)
  const namespaces = Object.values(seed.kubernetes?.namespaces ?? {})
  const workloads = namespaces.reduce((n, ns) => n + (ns.deployments ?? []).length + (ns.statefulsets ?? []).length, 0)
  const grace = namespaces.flatMap((ns) => [...(ns.deployments ?? []), ...(ns.statefulsets ?? [])]).map((w) => w.terminationGracePeriodSeconds ?? 30)
  const flagList = Object.values(seed.launchdarkly?.projects ?? {}).flatMap((p) => p.flags ?? [])
  const flagsOn = flagList.filter((f) => Object.values(f.on ?? {}).some(Boolean)).length
  return { functions, roles, accountRoles, workloads, flags: flagList.length, flagsOn, podGraceSeconds: Math.max(0, ...grace) }
}

export interface BucketBound {
  bucket: BucketName | 'ld-global'
  /** Requests the halt minimally makes in this bucket. */
  minimumRequests: number
  /** What limits the bucket, in words. */
  limit: string
  boundMs: number
}

export interface LowerBound {
  boundMs: number
  boundingBucket: string
  buckets: BucketBound[]
}

/** A token bucket of `rate`/s that starts full with `burst` tokens: the last of n requests leaves at (n − burst)/rate. */
function tokenBucketMs(requests: number, ratePerSecond: number, burst: number): number {
  return (Math.max(0, requests - burst) / ratePerSecond) * 1000
}

/** Fixed windows of `perWindow` requests: the last of n requests leaves when its window opens. */
function fixedWindowMs(requests: number, perWindow: number): number {
  return requests === 0 ? 0 : (Math.ceil(requests / perWindow) - 1) * RATE_LIMIT_WINDOW_MS
}

export function lowerBound(fleet: FleetCounts, profile: RealismProfile): LowerBound {
  const latency = (api: keyof RealismProfile['apis']) => profile.apis[api].latencyMs
  const limited = profile.rateLimits
  const iamRate = profile.iamRatePerSecond
  // The flag list answers the snapshot of a whole page of flags at once, and one more listing reads back every flag
  // it covers: per environment, ⌈G / page⌉ pages to resolve and ⌈G_on / page⌉ to read back.
  const ldGets = Math.ceil(fleet.flags / LD_LIST_PAGE) + Math.ceil(fleet.flagsOn / LD_LIST_PAGE)
  const ldPatches = fleet.flagsOn
  // One listing of the account's roles with their inline policies resolves and snapshots them all, one more reads
  // every policy back; in between, one PutRolePolicy per role.
  const iamRequests = 2 * Math.ceil(fleet.accountRoles / IAM_LIST_PAGE) + fleet.roles
  const taggingPages = Math.max(1, Math.ceil(fleet.functions / TAGGING_PAGE))
  const streamMs = profile.streamPushDelayMs
  const buckets: BucketBound[] = [
    {
      bucket: 'lambda-control',
      minimumRequests: fleet.functions,
      limit: `${LAMBDA_CONTROL_RATE}/s, burst ${LAMBDA_CONTROL_RATE}`,
      boundMs: (limited ? tokenBucketMs(fleet.functions, LAMBDA_CONTROL_RATE, LAMBDA_CONTROL_RATE) : 0) + latency('lambda'),
    },
    {
      bucket: 'lambda-get',
      minimumRequests: 2 * fleet.functions,
      limit: `${LAMBDA_GET_RATE}/s, burst ${LAMBDA_GET_RATE}`,
      boundMs: (limited ? tokenBucketMs(2 * fleet.functions, LAMBDA_GET_RATE, LAMBDA_GET_RATE) : 0) + latency('lambda'),
    },
    {
      bucket: 'tagging',
      minimumRequests: taggingPages,
      limit: `no limit; ${TAGGING_PAGE} per page, pages in sequence`,
      boundMs: taggingPages * latency('tagging'),
    },
    {
      bucket: 'iam',
      minimumRequests: iamRequests,
      limit: `${iamRate}/s per account, burst ${iamRate}`,
      boundMs: (limited ? tokenBucketMs(iamRequests, iamRate, iamRate) : 0) + latency('iam'),
    },
    {
      bucket: 'ld-get',
      minimumRequests: ldGets,
      limit: `${ROUTE_LIMIT_PER_WINDOW} per ${RATE_LIMIT_WINDOW_MS / 1000} s per route`,
      boundMs: (limited ? fixedWindowMs(ldGets, ROUTE_LIMIT_PER_WINDOW) : 0) + latency('launchdarkly') + streamMs,
    },
    {
      bucket: 'ld-patch',
      minimumRequests: ldPatches,
      limit: `${ROUTE_LIMIT_PER_WINDOW} per ${RATE_LIMIT_WINDOW_MS / 1000} s per route`,
      boundMs: (limited ? fixedWindowMs(ldPatches, ROUTE_LIMIT_PER_WINDOW) : 0) + latency('launchdarkly') + streamMs,
    },
    {
      bucket: 'ld-global',
      minimumRequests: ldGets + ldPatches,
      limit: `${GLOBAL_LIMIT_PER_WINDOW} per ${RATE_LIMIT_WINDOW_MS / 1000} s per token`,
      boundMs: (limited ? fixedWindowMs(ldGets + ldPatches, GLOBAL_LIMIT_PER_WINDOW) : 0) + latency('launchdarkly') + streamMs,
    },
    {
      bucket: 'kubernetes',
      minimumRequests: 1 + 2 * fleet.workloads,
      limit: 'no limit; controller delay and pod grace period',
      boundMs: latency('kubernetes') + profile.controllerDelayMs + fleet.podGraceSeconds * 1000,
    },
  ]
  const bounding = buckets.reduce((a, b) => (b.boundMs > a.boundMs ? b : a))
  return { boundMs: bounding.boundMs, boundingBucket: bounding.bucket, buckets }
}
