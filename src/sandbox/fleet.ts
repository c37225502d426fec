/**
 * Generates a sandbox seed from a runbook: a fleet of agents per class whose resources match every scope's
 * selectors (the agent's own, its class's and the global one), so that any scope of the runbook halts something
 * real. The fleet is deliberately uneven, as production is: some functions reserved at a positive value and some
 * unreserved, roles that already carry inline policies, a StatefulSet beside the Deployments, a flag already off.
 */
import type { Runbook, Step } from '../core/runbook/schema.js'
import { substituteStep, type Scope } from '../core/scope.js'
import type { SeedInput } from './seed.js'

export interface FleetOptions {
  /** Agents generated per class when the runbook has no agents inventory. */
  agentsPerClass?: number
  replicas?: number
  /** Pod terminationGracePeriodSeconds: small keeps a demo short, realistic is 30. */
  podGraceSeconds?: number
}

type Tags = Record<string, string>

/** Labels a selector requires (`k=v`, `k==v`, `k in (a,b)`, `k`); negative terms add nothing. */
export function labelsFor(selector: string): Tags {
  const labels: Tags = {}
  for (const term of selector.split(/,(?![^(]*\))/).map((t) => t.trim())) {
    let m: RegExpExecArray | null
    if ((m = /^([^=!\s]+)\s*==?\s*(.*)$/.exec(term))) labels[m[1]!] = m[2]!
    else if ((m = /^(\S+)\s+in\s+\(([^,)]*)/.exec(term))) labels[m[1]!] = m[2]!.trim()
    else if (/^[A-Za-z0-9./_-]+$/.test(term)) labels[term] = 'true'
  }
  return labels
}

export function agentIds(runbook: Runbook, perClass: number): Map<string, string[]> {
  const ids = new Map<string, string[]>()
  for (const cls of runbook.classes) {
    ids.set(cls, runbook.agents?.[cls] ?? Array.from({ length: perClass }, (_, i) => `${cls}-${String(i + 1).padStart(String(perClass).length, '0')}`))
  }
  return ids
}

function accountOf(arn: string): string | undefined {
  return /^arn:[^:]+:[^:]*:[^:]*:(\d{12}):/.exec(arn)?.[1]
}

export function seedFromRunbook(runbook: Runbook, options: FleetOptions = {}): SeedInput {
  const perClass = options.agentsPerClass ?? 3
  const replicas = options.replicas ?? 2
  const grace = options.podGraceSeconds ?? 2
  const region = runbook.credentials.aws?.region ?? 'us-east-1'
  const principal = runbook.authority.principals.find((p) => !p.includes('*')) ?? 'arn:aws:iam::111122223333:role/killswitch-oncall'
  const homeAccount = accountOf(principal) ?? '111122223333'

  type Account = {
    lambda: Record<string, { name: string; tags: Tags; reservedConcurrency?: number }[]>
    iam: { roles: { name: string; path: string; tags: Tags; inlinePolicies: Record<string, Record<string, unknown>> }[]; users: { name: string; path: string; tags: Tags }[]; groups: { name: string; path: string }[] }
    sns: Record<string, string[]>
    lambdaConcurrencyLimit: number
  }
  const accounts = new Map<string, Account>()
  const account = (id: string): Account => {
    let a = accounts.get(id)
    if (!a) {
      a = { lambda: {}, iam: { roles: [], users: [], groups: [] }, sns: {}, lambdaConcurrencyLimit: 1000 }
      accounts.set(id, a)
    }
    return a
  }
  account(homeAccount)
  const namespaces = new Map<string, { deployments: Map<string, { labels: Tags; stateful: boolean }>; statefulsets: Map<string, { labels: Tags }> }>()
  const flags = new Map<string, { environments: Set<string>; keys: Map<string, string> }>()

  const ids = agentIds(runbook, perClass)
  // Substituted steps are shared: the global scope's once, a class's once per class. A fleet of 10,000 agents
  // must not substitute a 10,000-flag step 10,000 times.
  const substituted = new Map<string, Step[]>()
  const flagStepsSeen = new Set<string>()
  let agentIndex = 0
  for (const [cls, agents] of ids) {
    for (const agent of agents) {
      agentIndex++
      const fn = { tags: {} as Tags, names: new Set<string>(), accounts: new Set<string>(), regions: new Set<string>() }
      const role = { tags: {} as Tags, path: '/', names: new Set<string>(), accounts: new Set<string>() }
      const workloads = new Map<string, Tags>()
      const extraWorkloads: { ns: string; kind: string; name: string }[] = []
      for (const level of ['agent', 'class', 'global'] as const) {
        const key = level === 'agent' ? `agent:${agent}` : level === 'class' ? `class:${cls}` : 'global'
        let steps = substituted.get(key)
        if (!steps) {
          const scope: Scope = { level, label: level, variables: level === 'agent' ? { agent, class: cls } : level === 'class' ? { class: cls } : {} }
          steps = (runbook.scopes[level]?.steps ?? []).map((raw) => substituteStep(raw, scope))
          if (level !== 'agent') substituted.set(key, steps)
        }
        for (const [stepIndex, step] of steps.entries()) {
          if (step.lambdaConcurrencyZero) {
            const f = step.lambdaConcurrencyZero.functions
            Object.assign(fn.tags, f.tags)
            for (const n of f.names ?? []) if (!n.startsWith('arn:')) fn.names.add(n)
            for (const a of f.accounts ?? []) fn.accounts.add(a)
            for (const r of f.regions ?? []) fn.regions.add(r)
          }
          if (step.denyAll) {
            const r = step.denyAll.roles
            if (r) {
              Object.assign(role.tags, r.tags)
              if (r.pathPrefix) role.path = r.pathPrefix
              for (const n of r.names ?? []) role.names.add(n)
              for (const a of r.accounts ?? []) role.accounts.add(a)
            }
          }
          if (step.scaleToZero) {
            const s = step.scaleToZero
            if (s.selector) workloads.set(s.namespace, { ...workloads.get(s.namespace), ...labelsFor(s.selector) })
            for (const n of s.names ?? []) {
              const [kind, name] = n.split('/') as [string, string]
              extraWorkloads.push({ ns: s.namespace, kind, name })
            }
          }
          if (step.flagOff && !flagStepsSeen.has(`${key}#${stepIndex}`)) {
            flagStepsSeen.add(`${key}#${stepIndex}`)
            const f = step.flagOff
            let project = flags.get(f.project)
            if (!project) {
              project = { environments: new Set(), keys: new Map() }
              flags.set(f.project, project)
            }
            project.environments.add(f.environment)
            for (const key of f.flags) project.keys.set(key, f.environment)
          }
        }
      }
      if (Object.keys(fn.tags).length > 0 || fn.names.size > 0) {
        const fnAccounts = fn.accounts.size > 0 ? [...fn.accounts] : [homeAccount]
        const fnRegions = fn.regions.size > 0 ? [...fn.regions] : [region]
        for (const acct of fnAccounts) {
          for (const reg of fnRegions) {
            const list = (account(acct).lambda[reg] ??= [])
            // Uneven on purpose: a third reserved at a positive value, the rest unreserved (0 and unreserved differ).
            const reserved = agentIndex % 3 === 0 ? { reservedConcurrency: 5 } : {}
            if (Object.keys(fn.tags).length > 0) list.push({ name: `${agent}-worker`, tags: { ...fn.tags }, ...reserved })
            for (const name of fn.names) if (!list.some((f) => f.name === name)) list.push({ name, tags: { ...fn.tags } })
          }
        }
      }
      if (Object.keys(role.tags).length > 0 || role.path !== '/' || role.names.size > 0) {
        for (const acct of role.accounts.size > 0 ? [...role.accounts] : [homeAccount]) {
          const roles = account(acct).iam.roles
          const inlinePolicies: Record<string, Record<string, unknown>> =
            agentIndex % 2 === 0
              ? { 'agent-permissions': { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }] } }
              : {}
          roles.push({ name: `${agent}-role`, path: role.path, tags: { ...role.tags }, inlinePolicies })
          for (const name of role.names) if (!roles.some((r) => r.name === name)) roles.push({ name, path: role.path, tags: { ...role.tags }, inlinePolicies: {} })
        }
      }
      for (const [ns, labels] of workloads) {
        let n = namespaces.get(ns)
        if (!n) {
          n = { deployments: new Map(), statefulsets: new Map() }
          namespaces.set(ns, n)
        }
        if (agentIndex % 3 === 2) n.statefulsets.set(`${agent}-memory`, { labels })
        else n.deployments.set(agent, { labels, stateful: false })
      }
      for (const w of extraWorkloads) {
        let n = namespaces.get(w.ns)
        if (!n) {
          n = { deployments: new Map(), statefulsets: new Map() }
          namespaces.set(w.ns, n)
        }
        if (w.kind === 'statefulset') n.statefulsets.set(w.name, { labels: { app: w.name } })
        else n.deployments.set(w.name, { labels: { app: w.name }, stateful: false })
      }
    }
  }

  for (const [acct, { roleArn }] of Object.entries(runbook.credentials.aws?.accounts ?? {})) {
    const name = roleArn.split('/').pop()!
    const roles = account(acct).iam.roles
    if (!roles.some((r) => r.name === name)) roles.push({ name, path: '/', tags: {}, inlinePolicies: {} })
  }
  for (const topic of runbook.notify.sns) {
    const [, , , reg, acct, name] = topic.split(':')
    if (reg && acct && name) (account(acct).sns[reg] ??= []).push(name)
  }
  for (const a of accounts.values()) {
    const reserved = Object.values(a.lambda).flat().reduce((n, f) => n + (f.reservedConcurrency ?? 0), 0)
    a.lambdaConcurrencyLimit = Math.max(1000, reserved + 200)
  }

  let flagIndex = 0
  return {
    aws: {
      defaultAccount: homeAccount,
      defaultPrincipal: principal,
      accounts: Object.fromEntries(accounts),
    },
    kubernetes: {
      namespaces: Object.fromEntries(
        [...namespaces].map(([ns, n]) => [
          ns,
          {
            deployments: [...n.deployments].map(([name, d]) => ({ name, labels: d.labels, replicas, terminationGracePeriodSeconds: grace })),
            statefulsets: [...n.statefulsets].map(([name, s]) => ({ name, labels: s.labels, replicas, terminationGracePeriodSeconds: grace, podManagementPolicy: 'OrderedReady' as const })),
          },
        ]),
      ),
    },
    launchdarkly: {
      apiTokens: ['api-sandbox-token'],
      projects: Object.fromEntries(
        [...flags].map(([project, p]) => [
          project,
          {
            environments: Object.fromEntries([...p.environments].map((env) => [env, { sdkKey: `sdk-sandbox-${project}-${env}` }])),
            // Some flags start off (every class's "tools" flag, one in five of the rest): a halt must keep them off
            // and a restore must not turn them on.
            flags: [...p.keys].map(([key, env]): { key: string; on: Record<string, boolean> } => ({
              key,
              on: { [env]: !key.endsWith('-tools-enabled') && ++flagIndex % 5 !== 3 },
            })),
          },
        ]),
      ),
    },
  }
}
