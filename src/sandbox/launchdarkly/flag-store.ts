/**
 * The LaunchDarkly plane's data: projects, their environments (each with its SDK key and approval settings) and
 * their flags, the per-environment targeting state with what could change it later (scheduled changes, triggers,
 * pending approval requests), and the log of changes.
 *
 * Invariants: every effective change of a flag in an environment bumps that environment's `version` (the number
 * the SDK compares before applying a stream `patch`) and the flag-wide `_version` once per request; a request that
 * changes nothing bumps nothing and is not logged (LaunchDarkly: "left unchanged if already in that state"). A
 * scheduled change is carried out once, at its execution date, and then leaves the list.
 */
import { createHash } from 'node:crypto'
import type { Seed } from '../seed.js'

export type SemanticInstruction = 'turnFlagOn' | 'turnFlagOff'

export interface ScheduledChangeRecord {
  id: string
  /** Epoch ms. */
  executionDate: number
  creationDate: number
  instructions: SemanticInstruction[]
}

export interface TriggerRecord {
  id: string
  enabled: boolean
  integrationKey: string
  instruction: SemanticInstruction
  creationDate: number
}

export interface FlagEnvironmentState {
  on: boolean
  /** The version servers-side SDKs see; starts at 1. */
  version: number
  /** Epoch ms of the last change. */
  lastModified: number
  scheduledChanges: ScheduledChangeRecord[]
  triggers: TriggerRecord[]
  pendingApprovalRequests: number
}

export interface FlagRecord {
  key: string
  variations: unknown[]
  /** null: no off variation is set. */
  offVariation: number | null
  fallthroughVariation: number
  tags: string[]
  archived: boolean
  creationDate: number
  /** The flag-wide `_version` of the REST representation. */
  version: number
  environments: Map<string, FlagEnvironmentState>
}

export interface EnvironmentRecord {
  key: string
  sdkKey: string
  approvalsRequired: boolean
  requireComments: boolean
}

export interface ProjectRecord {
  key: string
  /** Environment key → SDK key. */
  sdkKeys: Map<string, string>
  environments: Map<string, EnvironmentRecord>
  flags: Map<string, FlagRecord>
}

/** One change, as kept in the audit list of `state()`. */
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

/** Stable ids (24 hex digits, like LaunchDarkly's), so they do not change between runs. */
export function stableId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 24)
}

export class FlagStore {
  readonly projects = new Map<string, ProjectRecord>()
  readonly changes: FlagChange[] = []
  private readonly listeners: FlagChangeListener[] = []
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(seed: Seed['launchdarkly'], now = Date.now()) {
    for (const [projectKey, project] of Object.entries(seed.projects)) {
      const environments = new Map(
        Object.entries(project.environments).map(([env, e]) => [
          env,
          { key: env, sdkKey: e.sdkKey, approvalsRequired: e.approvalsRequired, requireComments: e.requireComments },
        ]),
      )
      const sdkKeys = new Map([...environments].map(([env, e]) => [env, e.sdkKey]))
      const flags = new Map<string, FlagRecord>()
      for (const flag of project.flags) {
        const states = new Map<string, FlagEnvironmentState>()
        for (const env of environments.keys()) {
          states.set(env, {
            on: flag.on[env] ?? false,
            version: 1,
            lastModified: now,
            scheduledChanges: flag.scheduledChanges
              .filter((change) => change.environment === env)
              .map((change, i) => ({
                id: stableId('scheduled', projectKey, flag.key, env, String(i)),
                executionDate: now + change.afterSeconds * 1000,
                creationDate: now,
                instructions: change.instructions,
              })),
            triggers: flag.triggers
              .filter((trigger) => trigger.environment === env)
              .map((trigger, i) => ({
                id: stableId('trigger', projectKey, flag.key, env, String(i)),
                enabled: trigger.enabled,
                integrationKey: trigger.integrationKey,
                instruction: trigger.instruction,
                creationDate: now,
              })),
            pendingApprovalRequests: flag.pendingApprovalRequests.filter((e) => e === env).length,
          })
        }
        flags.set(flag.key, {
          key: flag.key,
          variations: flag.variations,
          offVariation: flag.offVariation,
          fallthroughVariation: flag.fallthroughVariation,
          tags: flag.tags,
          archived: flag.archived,
          creationDate: now,
          version: 1,
          environments: states,
        })
      }
      const record: ProjectRecord = { key: projectKey, sdkKeys, environments, flags }
      this.projects.set(projectKey, record)
      for (const flag of flags.values()) {
        for (const [env, state] of flag.environments) for (const change of state.scheduledChanges) this.schedule(record, flag, env, change, now)
      }
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
    const changed = this.wouldChange(flag, update)
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

  /** The environments of `update` whose state it would change. */
  wouldChange(flag: FlagRecord, update: TargetingUpdate): string[] {
    return [...update].filter(([env, on]) => flag.environments.get(env)!.on !== on).map(([env]) => env)
  }

  /** Stops the scheduled changes not yet carried out. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
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

  /** Carries out a scheduled change at its execution date, as LaunchDarkly does, and takes it off the list. */
  private schedule(project: ProjectRecord, flag: FlagRecord, env: string, change: ScheduledChangeRecord, now: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer)
        const state = flag.environments.get(env)!
        state.scheduledChanges = state.scheduledChanges.filter((c) => c.id !== change.id)
        const on = change.instructions[change.instructions.length - 1] === 'turnFlagOn'
        this.applyTargeting(project, flag, new Map([[env, on]]), `scheduled change ${change.id}: ${change.instructions.join(',')}`, '')
      },
      Math.max(0, change.executionDate - now),
    )
    timer.unref()
    this.timers.add(timer)
  }
}
