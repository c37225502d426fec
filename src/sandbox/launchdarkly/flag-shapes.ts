/**
 * The JSON shapes of the wire: the REST `FeatureFlag` (api/v2, per-environment configuration under
 * `environments.<env>`), the server-side SDK flag of the streaming and polling endpoints, and the REST
 * `Environment`, scheduled change and flag trigger. Targeting beyond on/off (targets, rules, prerequisites) is
 * always empty: the seed cannot express it. An unset off variation is left out, as LaunchDarkly leaves it out.
 */
import { createHash } from 'node:crypto'
import type { EnvironmentRecord, FlagRecord, ProjectRecord, ScheduledChangeRecord, TriggerRecord } from './flag-store.js'

/** Stable pseudo-random hex derived from `parts`, so ids and salts do not change between runs. */
function stableHex(length: number, ...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, length)
}

function stableUuid(...parts: string[]): string {
  const hex = stableHex(32, ...parts)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function flagKind(variations: unknown[]): 'boolean' | 'multivariate' {
  return variations.length === 2 && variations.every((value) => typeof value === 'boolean') ? 'boolean' : 'multivariate'
}

/** The REST `FeatureFlag`, with the environments named in `environments` (all of the flag's when undefined). */
export function restFeatureFlag(projectKey: string, flag: FlagRecord, environments?: readonly string[]): Record<string, unknown> {
  const selected = environments ?? [...flag.environments.keys()]
  const envConfigs: Record<string, unknown> = {}
  for (const env of selected) {
    const state = flag.environments.get(env)
    if (!state) continue
    envConfigs[env] = {
      on: state.on,
      archived: flag.archived,
      salt: stableHex(32, 'salt', projectKey, flag.key, env),
      sel: stableHex(32, 'sel', projectKey, flag.key, env),
      lastModified: state.lastModified,
      version: state.version,
      targets: [],
      contextTargets: [],
      rules: [],
      fallthrough: { variation: flag.fallthroughVariation },
      ...offVariationOf(flag),
      prerequisites: [],
      _site: { href: `/${projectKey}/${env}/features/${flag.key}`, type: 'text/html' },
      _environmentName: env,
      trackEvents: false,
      trackEventsFallthrough: false,
      _summary: { variations: {}, prerequisites: 0 },
    }
  }
  return {
    name: flag.key,
    kind: flagKind(flag.variations),
    description: '',
    key: flag.key,
    _version: flag.version,
    creationDate: flag.creationDate,
    includeInSnippet: false,
    clientSideAvailability: { usingMobileKey: false, usingEnvironmentId: false },
    variations: flag.variations.map((value, index) => ({ _id: stableUuid('variation', projectKey, flag.key, String(index)), value })),
    temporary: false,
    tags: flag.tags,
    _links: {
      parent: { href: `/api/v2/flags/${projectKey}`, type: 'application/json' },
      self: { href: `/api/v2/flags/${projectKey}/${flag.key}`, type: 'application/json' },
    },
    goalIds: [],
    experiments: { baselineIdx: 0, items: [] },
    customProperties: {},
    archived: flag.archived,
    deprecated: false,
    defaults: { onVariation: flag.fallthroughVariation, ...offVariationOf(flag) },
    environments: envConfigs,
  }
}

/** The server-side SDK flag for one environment: what `put`, `patch` and `/sdk/latest-all` carry. */
export function sdkFlag(projectKey: string, flag: FlagRecord, environment: string): Record<string, unknown> {
  const state = flag.environments.get(environment)!
  return {
    key: flag.key,
    version: state.version,
    on: state.on,
    variations: flag.variations,
    ...offVariationOf(flag),
    fallthrough: { variation: flag.fallthroughVariation },
    targets: [],
    contextTargets: [],
    rules: [],
    prerequisites: [],
    salt: stableHex(32, 'salt', projectKey, flag.key, environment),
    trackEvents: false,
    trackEventsFallthrough: false,
    clientSide: false,
    deleted: false,
  }
}

/** Every flag of a project in one environment, keyed by flag key: the `flags` of a `put` or a poll. */
export function sdkFlags(projectKey: string, flags: Iterable<FlagRecord>, environment: string): Record<string, unknown> {
  const result: Record<string, unknown> = {}
  for (const flag of flags) result[flag.key] = sdkFlag(projectKey, flag, environment)
  return result
}

function offVariationOf(flag: FlagRecord): { offVariation?: number } {
  return flag.offVariation === null ? {} : { offVariation: flag.offVariation }
}

/** The REST `Environment`: its SDK key (`apiKey`), mobile key, client-side id (`_id`) and approval settings. */
export function restEnvironment(project: ProjectRecord, environment: EnvironmentRecord): Record<string, unknown> {
  return {
    _links: { self: { href: `/api/v2/projects/${project.key}/environments/${environment.key}`, type: 'application/json' } },
    _id: stableHex(24, 'environment', project.key, environment.key),
    key: environment.key,
    name: environment.key,
    apiKey: environment.sdkKey,
    mobileKey: `mob-${stableUuid('mobile', project.key, environment.key)}`,
    color: '417505',
    defaultTtl: 0,
    secureMode: false,
    defaultTrackEvents: false,
    requireComments: environment.requireComments,
    confirmChanges: false,
    tags: [],
    critical: environment.approvalsRequired,
    approvalSettings: {
      required: environment.approvalsRequired,
      bypassApprovalsForPendingChanges: false,
      minNumApprovals: 1,
      canReviewOwnRequest: false,
      canApplyDeclinedChanges: true,
      serviceKind: 'launchdarkly',
      serviceConfig: {},
      requiredApprovalTags: [],
    },
  }
}

/** One item of the scheduled changes list of a flag in an environment. */
export function restScheduledChange(change: ScheduledChangeRecord): Record<string, unknown> {
  return {
    _id: change.id,
    _creationDate: change.creationDate,
    _maintainerId: stableHex(24, 'maintainer'),
    _version: 1,
    executionDate: change.executionDate,
    instructions: change.instructions.map((kind) => ({ kind })),
  }
}

/** One item of the trigger list of a flag in an environment. The URL is only ever shown when a trigger is created. */
export function restTrigger(trigger: TriggerRecord): Record<string, unknown> {
  return {
    _id: trigger.id,
    _version: 1,
    _creationDate: trigger.creationDate,
    _maintainerId: stableHex(24, 'maintainer'),
    enabled: trigger.enabled,
    integrationKey: trigger.integrationKey,
    instructions: [{ kind: trigger.instruction }],
    triggerCount: 0,
  }
}
