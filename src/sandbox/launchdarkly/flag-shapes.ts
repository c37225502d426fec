/**
 * The two JSON shapes a flag takes on the wire: the REST `FeatureFlag` (api/v2, per-environment configuration under
 * `environments.<env>`) and the server-side SDK flag of the streaming and polling endpoints (PROTOCOLS F.2).
 * Targeting beyond on/off (targets, rules, prerequisites) is always empty: the seed cannot express it.
 */
import { createHash } from 'node:crypto'
import type { FlagRecord } from './flag-store.js'

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
      archived: false,
      salt: stableHex(32, 'salt', projectKey, flag.key, env),
      sel: stableHex(32, 'sel', projectKey, flag.key, env),
      lastModified: state.lastModified,
      version: state.version,
      targets: [],
      contextTargets: [],
      rules: [],
      fallthrough: { variation: flag.fallthroughVariation },
      offVariation: flag.offVariation,
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
    archived: false,
    deprecated: false,
    defaults: { onVariation: flag.fallthroughVariation, offVariation: flag.offVariation },
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
    offVariation: flag.offVariation,
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
