/**
 * The LaunchDarkly plane's data: projects, their environments (each with its SDK key) and their flags, the
 * per-environment targeting state, and the log of REST changes.
 *
 * Invariants: every effective change of a flag in an environment bumps that environment's `version` (the number
 * the SDK compares before applying a stream `patch`) and the flag-wide `_version` once per request; a request that
 * changes nothing bumps nothing and is not logged (LaunchDarkly: "left unchanged if already in that state").
 */
import type { Seed } from '../seed.js'

export interface FlagEnvironmentState {
  on: boolean
  /** The version servers-side SDKs see; starts at 1. */
  version: number
  /** Epoch ms of the last change. */
  lastModified: number
}

export interface FlagRecord {
  key: string
  variations: unknown[]
  offVariation: number
  fallthroughVariation: number
  tags: string[]
  creationDate: number
  /** The flag-wide `_version` of the REST representation. */
  version: number
  environments: Map<string, FlagEnvironmentState>
}

export interface ProjectRecord {
  key: string
  /** Environment key → SDK key. */
  sdkKeys: Map<string, string>
  flags: Map<string, FlagRecord>
}

/** One REST change, as kept in the audit list of `state()`. */
export interface FlagChange {
  project: string
  flag: string
  environment: string
  /** The semantic-patch instruction kinds, or the JSON-patch operation, that caused the change. */
  instruction: string
  comment: string
  on: boolean
  version: number
  /** ISO 8601. */
  time: string
}

/** Projects → environments → flags {on, version}: the shape `state()` reports. */
export type FlagStateSnapshot = Record<string, { environments: Record<string, { flags: Record<string, { on: boolean; version: number }> }> }>

/** The desired `on` per environment of one flag, applied all-or-nothing. */
export type TargetingUpdate = Map<string, boolean>

export type FlagChangeListener = (project: string, environment: string, flag: FlagRecord) => void

export class FlagStore {
  readonly projects = new Map<string, ProjectRecord>()
  readonly changes: FlagChange[] = []
  private readonly listeners: FlagChangeListener[] = []

  constructor(seed: Seed['launchdarkly'], now = Date.now()) {
    for (const [projectKey, project] of Object.entries(seed.projects)) {
      const sdkKeys = new Map(Object.entries(project.environments).map(([env, { sdkKey }]) => [env, sdkKey]))
      const flags = new Map<string, FlagRecord>()
      for (const flag of project.flags) {
        const environments = new Map<string, FlagEnvironmentState>()
        for (const env of sdkKeys.keys()) environments.set(env, { on: flag.on[env] ?? false, version: 1, lastModified: now })
        flags.set(flag.key, {
          key: flag.key,
          variations: flag.variations,
          offVariation: flag.offVariation,
          fallthroughVariation: flag.fallthroughVariation,
          tags: flag.tags,
          creationDate: now,
          version: 1,
          environments,
        })
      }
      this.projects.set(projectKey, { key: projectKey, sdkKeys, flags })
    }
  }

  /** The project and environment an SDK key belongs to, if any. */
  environmentForSdkKey(sdkKey: string): { project: ProjectRecord; environment: string } | undefined {
    for (const project of this.projects.values()) {
      for (const [environment, key] of project.sdkKeys) if (key === sdkKey) return { project, environment }
    }
    return undefined
  }

  isSdkKey(value: string): boolean {
    return this.environmentForSdkKey(value) !== undefined
  }

  onChange(listener: FlagChangeListener): void {
    this.listeners.push(listener)
  }

  /**
   * Applies `update` to `flag` (every environment in it must exist on the flag). Returns the environments whose
   * state actually changed; listeners hear about each of them after the whole update is applied.
   */
  applyTargeting(project: ProjectRecord, flag: FlagRecord, update: TargetingUpdate, instruction: string, comment: string): string[] {
    const changed = [...update].filter(([env, on]) => flag.environments.get(env)!.on !== on).map(([env]) => env)
    if (changed.length === 0) return []
    const now = Date.now()
    flag.version += 1
    for (const env of changed) {
      const state = flag.environments.get(env)!
      state.on = update.get(env)!
      state.version += 1
      state.lastModified = now
      this.changes.push({
        project: project.key,
        flag: flag.key,
        environment: env,
        instruction,
        comment,
        on: state.on,
        version: state.version,
        time: new Date(now).toISOString(),
      })
    }
    for (const env of changed) for (const listener of this.listeners) listener(project.key, env, flag)
    return changed
  }

  snapshot(): FlagStateSnapshot {
    const projects: FlagStateSnapshot = {}
    for (const project of this.projects.values()) {
      const environments: FlagStateSnapshot[string]['environments'] = {}
      for (const env of project.sdkKeys.keys()) {
        const flags: FlagStateSnapshot[string]['environments'][string]['flags'] = {}
        for (const flag of project.flags.values()) {
          const state = flag.environments.get(env)!
          flags[flag.key] = { on: state.on, version: state.version }
        }
        environments[env] = { flags }
      }
      projects[project.key] = { environments }
    }
    return projects
  }
}
