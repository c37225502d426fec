/**
 * In-memory fakes for the core: a platform whose targets hold `{value}` states, a primitive over it with the
 * same invariants as the real ones, and ports that record events and notifications.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EnginePorts } from '../../src/core/engine.js'
import type { Primitive, PrimitiveContext, PrimitiveKind, RateBucket, Target, TargetState } from '../../src/core/primitive.js'
import type { EngineEvent } from '../../src/core/report.js'
import { parseRunbook, type LoadedRunbook } from '../../src/core/runbook/load.js'
import { pollUntil } from '../../src/core/wait.js'

/** A fake platform: target name → on/off value, with a log of mutations and programmable faults. */
export class FakePlatform {
  readonly values = new Map<string, number>()
  readonly mutations: string[] = []
  failApply = new Set<string>()
  /** Targets whose halt is never observed (verification times out). */
  neverSettles = new Set<string>()
  /** When set, every mutation and every read-back is paced in this one bucket (as IAM's puts and reads are). */
  sharedBucket: RateBucket | undefined
  /**
   * Targets that something outside puts back after a halt: `afterMs` after each of the first `times` applies (every
   * apply when absent), `value` is written by `by`.
   */
  springBack = new Map<string, { afterMs: number; value: number; by: string; times?: number }>()
  /** Targets whose first apply succeeds and every later one is refused (a re-application fails). */
  failReapply = new Set<string>()
  /** Who last wrote each target's value: `killswitch` for the fake's own applies. */
  readonly writers = new Map<string, string>()
  private readonly applies = new Map<string, number>()
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(initial: Record<string, number>) {
    for (const [k, v] of Object.entries(initial)) this.values.set(k, v)
  }

  /** Records a halt of `name` (and schedules its spring-back); returns how many applies it has had. */
  halted(name: string): number {
    const count = (this.applies.get(name) ?? 0) + 1
    this.applies.set(name, count)
    this.values.set(name, 0)
    this.writers.set(name, 'killswitch')
    const back = this.springBack.get(name)
    if (back && (back.times === undefined || count <= back.times)) {
      const timer = setTimeout(() => {
        this.timers.delete(timer)
        this.values.set(name, back.value)
        this.writers.set(name, back.by)
        this.mutations.push(`${back.by} set ${name}=${back.value}`)
      }, back.afterMs)
      this.timers.add(timer)
    }
    return count
  }

  appliesOf(name: string): number {
    return this.applies.get(name) ?? 0
  }

  /** Cancels pending spring-backs, so a test leaves no timer behind. */
  stop(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }
}

/** The fake acts on every name a real spec lists (`flags`, `names`, `deployment/x` → `x`). */
export function namesIn(spec: unknown): string[] {
  if (Array.isArray(spec)) return spec.flatMap(namesIn)
  if (spec && typeof spec === 'object') {
    return Object.entries(spec).flatMap(([k, v]) =>
      (k === 'flags' || k === 'names') && Array.isArray(v) ? v.map((n) => String(n).replace(/^(deployment|statefulset)\//, '')) : namesIn(v),
    )
  }
  return []
}

export function fakePrimitive(kind: PrimitiveKind, platform: FakePlatform): Primitive<unknown> {
  const key = (t: Target) => String(t.locator.name)
  return {
    kind,
    async resolve(spec) {
      const names = namesIn(spec)
      const missing = names.filter((n) => !platform.values.has(n))
      if (missing.length > 0) throw Object.assign(new Error(`no such target: ${missing.join(', ')}`), { hint: 'check the names' })
      return names.map((name) => ({ id: `${kind}:${name}`, kind, label: name, locator: { name } }))
    },
    async read(t) {
      return { value: platform.values.get(key(t)) ?? null }
    },
    isHalted: (s) => s.value === 0,
    sameState: (a, b) => a.value === b.value,
    async apply(t, _before, ctx: PrimitiveContext) {
      await ctx.pace(platform.sharedBucket ?? { key: `fake:${kind}`, ratePerSecond: 1000 })
      if (platform.failApply.has(key(t))) throw new Error(`apply refused for ${key(t)}`)
      if (platform.failReapply.has(key(t)) && platform.appliesOf(key(t)) > 0) throw new Error(`apply refused for ${key(t)} (quota exceeded)`)
      platform.mutations.push(`halt ${key(t)}`)
      platform.halted(key(t))
    },
    async verifyHalted(t, ctx) {
      const observe = async () => {
        if (platform.sharedBucket) await ctx.pace(platform.sharedBucket)
        return !platform.neverSettles.has(key(t)) && platform.values.get(key(t)) === 0
      }
      await pollUntil(observe, { signal: ctx.signal, intervalMs: 5 })
    },
    async restore(t, snapshot: TargetState) {
      platform.mutations.push(`restore ${key(t)}`)
      platform.values.set(key(t), snapshot.value as number)
    },
    async verifyRestored(t, snapshot, ctx) {
      await pollUntil(async () => platform.values.get(key(t)) === snapshot.value, { signal: ctx.signal, intervalMs: 5 })
    },
    async lastWriter(t) {
      return platform.writers.get(key(t))
    },
    describe: (s) => (s.value === 0 ? 'off' : `value=${String(s.value)}`),
    estimate: () => ({ calls: [{ key: `fake:${kind}`, ratePerSecond: 10 }], settleMs: 0 }),
  }
}

export interface RecordingPorts extends EnginePorts {
  events: EngineEvent[]
  notifications: { topics: readonly string[]; subject: string; message: Record<string, unknown> }[]
}

export function fakePorts(
  platform: FakePlatform,
  options: { caller?: string; notifyFails?: boolean; stateDir?: string } = {},
): RecordingPorts {
  const events: EngineEvent[] = []
  const notifications: RecordingPorts['notifications'] = []
  const start = performance.now()
  return {
    events,
    notifications,
    loadPrimitive: async (kind) => fakePrimitive(kind, platform),
    callerIdentity: async () => ({ arn: options.caller ?? 'arn:aws:sts::111122223333:assumed-role/killswitch-oncall/alice', account: '111122223333' }),
    notify: async (topics, subject, message) => {
      if (options.notifyFails) throw new Error('SNS is down')
      notifications.push({ topics, subject, message })
    },
    stateDir: options.stateDir ?? mkdtempSync(join(tmpdir(), 'killswitch-test-')),
    now: () => performance.now() - start,
    osUser: 'tester',
    host: 'test-host',
    emit: (e) => events.push(e),
  }
}

/** A runbook whose steps name fake targets: `${class}` becomes a target name. */
export function fakeRunbook(yamlSteps: { class: string; global?: string }): LoadedRunbook {
  const text = `apiVersion: killswitch/v1
kind: Runbook
metadata: { name: fake }
authority: { principals: ["arn:aws:iam::111122223333:role/killswitch-oncall"] }
credentials: { launchdarkly: { sdkKeyEnv: LD_SDK_KEY } }
slo: { agent: 10s, class: 30s, global: 60s }
notify: { sns: ["arn:aws:sns:us-east-1:111122223333:killswitch"] }
classes: [refund, support]
scopes:
  class:
    steps:
${yamlSteps.class}
${yamlSteps.global ? `  global:\n    steps:\n${yamlSteps.global}` : ''}
`
  return { runbook: parseRunbook(text, 'fake.yaml'), path: 'fake.yaml', digest: 'sha256:fake' }
}
