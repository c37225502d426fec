/**
 * The Kubernetes step end to end, through the CLI, against a sandbox playing what production clusters do: KEDA,
 * Argo CD and Flux scaling a halted workload back up, CronJobs, evicted and foreign pods, a pod stuck behind a
 * finalizer, least-privilege RBAC, and a runbook that names a workload that is gone. Each test asserts the
 * platform's final state, the JSON output and the exit code.
 */
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { sandboxEnvironment } from '../../src/sandbox/attach.js'
import { parseSeed, type SeedInput } from '../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js'
import { runCli } from './harness.js'

const ONCALL = 'arn:aws:iam::111122223333:role/killswitch-oncall'

let sandbox: Sandbox | undefined
afterEach(async () => {
  await sandbox?.stop()
  sandbox = undefined
})

/** A sandbox with this Kubernetes seed, a one-step runbook for class=refund, and the CLI pointed at both. */
async function world(kubernetes: SeedInput['kubernetes'], step: Record<string, unknown>, options: { context?: string } = {}) {
  const seed = parseSeed({ kubernetes })
  sandbox = await startSandbox({ seed })
  const dir = await mkdtemp(join(tmpdir(), 'k8s-e2e-'))
  const runbook = join(dir, 'runbook.yaml')
  await writeFile(
    runbook,
    JSON.stringify({
      apiVersion: 'killswitch/v1',
      kind: 'Runbook',
      metadata: { name: 'k8s-e2e' },
      authority: { principals: [ONCALL] },
      credentials: { aws: { region: 'us-east-1' }, ...(options.context ? { kubernetes: { context: options.context } } : {}) },
      slo: { agent: '10s', class: '30s', global: '60s' },
      classes: ['refund'],
      scopes: { class: { steps: [{ scaleToZero: { namespace: 'agents', ...step } }] } },
    }),
  )
  const env = { ...sandboxEnvironment(sandbox, undefined, seed), KILLSWITCH_STATE_DIR: join(dir, 'state') }
  const cli = (args: string[]) => runCli([...args, '--runbook', runbook, '--json'], env)
  const halt = (...extra: string[]) => cli(['halt', '--scope', 'class=refund', '--reason', 'INC-7 e2e', '--yes', ...extra])
  const restore = () => cli(['restore', '--scope', 'class=refund', '--reason', 'INC-7 over', '--yes'])
  const plan = () => cli(['plan', '--scope', 'class=refund'])
  return { sandbox, cli, halt, restore, plan }
}

const k8s = () => (sandbox!.state() as any).kubernetes
const ns = () => k8s().agents
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const refundApi = (replicas = 3, extra: Record<string, unknown> = {}) => ({
  name: 'refund-api',
  labels: { class: 'refund' },
  replicas,
  terminationGracePeriodSeconds: 1,
  ...extra,
})

describe('reconcilers that would scale a halted workload back up', () => {
  it('pauses the KEDA ScaledObject for the halt, so the workload stays at 0; restore puts both back', async () => {
    const w = await world(
      { reconcileIntervalMs: 200, namespaces: { agents: { deployments: [refundApi()], scaledObjects: [{ name: 'refund-so', target: 'deployment/refund-api', minReplicaCount: 1 }] } } },
      { selector: 'class=refund' },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(0)
    expect(halted.json.result.status).toBe('halted')
    const so = halted.json.result.targets.find((t: any) => t.id.endsWith(':scaledobject.keda.sh/refund-so'))
    expect(so).toMatchObject({ status: 'halted', before: { object: 'ScaledObject', pausedReplicas: null } })
    await settle(1000)
    expect(ns().deployments['refund-api'].replicas).toBe(0)
    expect(ns().scaledObjects['refund-so'].annotations['autoscaling.keda.sh/paused-replicas']).toBe('0')

    const restored = await w.restore()
    expect(restored.code).toBe(0)
    expect(ns().deployments['refund-api'].replicas).toBe(3)
    expect(ns().scaledObjects['refund-so'].annotations ?? {}).not.toHaveProperty('autoscaling.keda.sh/paused-replicas')
  })

  it('suspends Argo CD self-heal of the tracking Application and puts the exact automated block back', async () => {
    const w = await world(
      {
        reconcileIntervalMs: 200,
        namespaces: { agents: { deployments: [refundApi(3, { metadataLabels: { 'app.kubernetes.io/instance': 'agents' } })] } },
        argocd: { applications: [{ name: 'agents', automated: { selfHeal: true, prune: true }, destinationNamespace: 'agents' }] },
      },
      { selector: 'class=refund' },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(0)
    await settle(1000)
    expect(ns().deployments['refund-api'].replicas).toBe(0)
    expect(k8s().argocd.applications.agents.automated).toBeNull()

    expect((await w.restore()).code).toBe(0)
    expect(k8s().argocd.applications.agents.automated).toEqual({ selfHeal: true, prune: true })
    expect(ns().deployments['refund-api'].replicas).toBe(3)
  })

  it('suspends the Flux Kustomization that applied the workload, and restore un-suspends it', async () => {
    const labels = { 'kustomize.toolkit.fluxcd.io/name': 'agents', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' }
    const w = await world(
      { reconcileIntervalMs: 200, namespaces: { agents: { deployments: [refundApi(3, { metadataLabels: labels })] } }, flux: { kustomizations: [{ name: 'agents' }] } },
      { selector: 'class=refund' },
    )
    expect((await w.halt()).code).toBe(0)
    await settle(1000)
    expect(ns().deployments['refund-api'].replicas).toBe(0)
    const ks = () => k8s()['flux-system'].kustomizations.agents
    expect(ks().suspend).toBe(true)
    expect((await w.restore()).code).toBe(0)
    expect(ks().suspend ?? false).toBe(false)
  })

  it('plan names the reconcilers as targets, the HPA and the foreign pods as warnings, and changes nothing', async () => {
    const w = await world(
      {
        namespaces: {
          agents: {
            deployments: [refundApi()],
            scaledObjects: [{ name: 'refund-so', target: 'deployment/refund-api', minReplicaCount: 1 }],
            hpas: [{ name: 'refund-hpa', target: 'deployment/refund-api', minReplicas: 1, maxReplicas: 5 }],
            pods: [{ name: 'log-agent-x1', labels: { class: 'refund' }, owner: { kind: 'DaemonSet', name: 'log-agent' } }],
          },
        },
      },
      { selector: 'class=refund' },
    )
    const plan = await w.plan()
    expect(plan.code).toBe(0)
    const targets = plan.json.result.steps[0].targets
    expect(targets.map((t: any) => t.label)).toEqual(['agents/ScaledObject/refund-so', 'agents/deployment/refund-api'])
    expect(targets[0]).toMatchObject({ action: 'halt', currentText: 'autoscaling' })
    const warnings = plan.json.result.warnings.join('\n')
    expect(warnings).toContain('HorizontalPodAutoscaler agents/refund-hpa scales deployment/refund-api')
    expect(warnings).toContain('belong to DaemonSet/log-agent, which this step does not stop: log-agent-x1')
    expect(ns().deployments['refund-api'].replicas).toBe(3)
    expect(ns().scaledObjects['refund-so'].annotations ?? {}).toEqual({})
  })

  it('with reconcilers: warn, names the ScaledObject and leaves it as it is', async () => {
    const w = await world(
      { namespaces: { agents: { deployments: [refundApi()], scaledObjects: [{ name: 'refund-so', target: 'deployment/refund-api' }] } } },
      { selector: 'class=refund', reconcilers: 'warn' },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(0)
    expect(halted.json.result.targets.map((t: any) => t.label)).toEqual(['agents/deployment/refund-api'])
    expect(halted.json.result.warnings.join('\n')).toContain('ScaledObject agents/refund-so reconciles deployment/refund-api and may scale it back up')
    expect(ns().scaledObjects['refund-so'].annotations ?? {}).toEqual({})
  })
})

describe('CronJobs', () => {
  it('suspends a matching CronJob, deletes its running Job with jobs: delete, and restore un-suspends it', async () => {
    const w = await world(
      { namespaces: { agents: { cronjobs: [{ name: 'refund-sweep', labels: { class: 'refund' }, schedule: '*/5 * * * *', activeJobs: 1, terminationGracePeriodSeconds: 1 }] } } },
      { selector: 'class=refund', jobs: 'delete' },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(0)
    expect(halted.json.result.targets).toEqual([expect.objectContaining({ id: 'k8s:killswitch-sandbox:agents:cronjob/refund-sweep', status: 'halted' })])
    expect(ns().cronjobs['refund-sweep'].suspend).toBe(true)
    expect(ns().pods.filter((p: any) => p.ownerKind === 'Job' && !['Failed', 'Succeeded'].includes(p.phase))).toEqual([])

    expect((await w.restore()).code).toBe(0)
    expect(ns().cronjobs['refund-sweep'].suspend).toBe(false)
  })
})

describe("verification counts the workload's own running pods", () => {
  it('halts a Deployment although an evicted (Failed) pod of it stays', async () => {
    const w = await world(
      { namespaces: { agents: { deployments: [refundApi(2)], pods: [{ name: 'refund-api-evicted', labels: { class: 'refund' }, ownerWorkload: 'deployment/refund-api', phase: 'Failed', reason: 'Evicted' }] } } },
      { names: ['deployment/refund-api'] },
    )
    const halted = await w.halt('--verify-timeout', '10s')
    expect(halted.code).toBe(0)
    expect(halted.json.result.status).toBe('halted')
    expect(ns().pods.map((p: any) => p.name)).toEqual(['refund-api-evicted'])
  })

  it("is not held back by a canary Deployment's pods that match its selector", async () => {
    const w = await world(
      {
        namespaces: {
          agents: {
            deployments: [refundApi(2), { name: 'refund-api-canary', labels: { class: 'refund', track: 'canary' }, replicas: 1, terminationGracePeriodSeconds: 1 }],
          },
        },
      },
      { names: ['deployment/refund-api'] },
    )
    const halted = await w.halt('--verify-timeout', '10s')
    expect(halted.code).toBe(0)
    expect(ns().deployments['refund-api-canary'].replicas).toBe(1)
  })

  it('names the pod still there, its finalizer and since when it terminates, when verification times out', async () => {
    const w = await world(
      { namespaces: { agents: { deployments: [refundApi(1, { podFinalizers: ['example.com/drain'] })] } } },
      { names: ['deployment/refund-api'] },
    )
    const halted = await w.halt('--verify-timeout', '3s')
    expect(halted.code).toBe(2)
    const target = halted.json.result.targets[0]
    expect(target.status).toBe('failed')
    expect(target.error).toMatch(/not observed halted within 3000 ms .*1 pod\(s\) still there: refund-api-\S+: Terminating since \S+ \(\d+ s ago, grace period 1 s\); finalizers example\.com\/drain/)
    expect(ns().deployments['refund-api'].replicas).toBe(0)
  })
})

describe('least privilege and stale runbooks', () => {
  const scaler = {
    name: 'scaler',
    namespaces: ['agents'],
    rules: [
      { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets'], verbs: ['get', 'list'] },
      { apiGroups: ['apps'], resources: ['deployments/scale', 'statefulsets/scale'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] },
    ],
  }

  it('halts with a role that may scale but not patch the workload; the annotation is a warning', async () => {
    const w = await world(
      { rbac: { users: [scaler] }, namespaces: { agents: { deployments: [refundApi(2)] } } },
      { selector: 'class=refund', gracePeriodSeconds: 0 },
      { context: 'killswitch-sandbox-as-scaler' },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(0)
    expect(halted.json.result.status).toBe('halted')
    const warnings = halted.json.result.warnings.join('\n')
    expect(warnings).toContain('could not write the killswitch.dev/replicas-before annotation on agents/deployment/refund-api (KubernetesForbidden)')
    expect(warnings).toContain('no permission to delete pods in agents, so gracePeriodSeconds 0 is not applied')
    expect(ns().deployments['refund-api'].replicas).toBe(0)
    expect(ns().deployments['refund-api'].annotations).toEqual({})

    const restored = await w.restore()
    expect(restored.code).toBe(0)
    expect(ns().deployments['refund-api'].replicas).toBe(2)
  })

  it('a role that may not patch the ScaledObject: the workload is halted, the pause fails, the halt says partial', async () => {
    const noPause = {
      ...scaler,
      rules: [...scaler.rules, { apiGroups: ['keda.sh'], resources: ['scaledobjects'], verbs: ['get', 'list'] }, { apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['list'] }],
    }
    const w = await world(
      { rbac: { users: [noPause] }, namespaces: { agents: { deployments: [refundApi(2)], scaledObjects: [{ name: 'refund-so', target: 'deployment/refund-api' }] } } },
      { selector: 'class=refund' },
      { context: 'killswitch-sandbox-as-scaler' },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(2)
    expect(halted.json.result.status).toBe('partial')
    const byLabel = Object.fromEntries(halted.json.result.targets.map((t: any) => [t.label, t]))
    expect(byLabel['agents/deployment/refund-api'].status).toBe('halted')
    expect(byLabel['agents/ScaledObject/refund-so'].status).toBe('failed')
    expect(byLabel['agents/ScaledObject/refund-so'].error).toMatch(/forbidden|KubernetesForbidden|refused/i)
    expect(ns().deployments['refund-api'].replicas).toBe(0)
    expect(ns().scaledObjects['refund-so'].annotations ?? {}).toEqual({})
  })

  it('fails only the named workload that is gone, halts the others, exit 2', async () => {
    const w = await world(
      { namespaces: { agents: { deployments: [refundApi(2)] } } },
      { names: ['deployment/refund-api', 'deployment/refund-gone'] },
    )
    const halted = await w.halt()
    expect(halted.code).toBe(2)
    expect(halted.json.result.status).toBe('partial')
    const byLabel = Object.fromEntries(halted.json.result.targets.map((t: any) => [t.label, t]))
    expect(byLabel['agents/deployment/refund-api'].status).toBe('halted')
    expect(byLabel['agents/deployment/refund-gone']).toMatchObject({ status: 'failed', missing: true })
    expect(byLabel['agents/deployment/refund-gone'].error).toContain('deployment/refund-gone does not exist in namespace agents')
    // What to do next is in the JSON as on screen.
    expect(halted.json.result.warnings.join('\n')).toContain('1 of 2 target(s) NOT halted: agents/deployment/refund-gone; fix what the errors name and run the same halt again')
    expect(ns().deployments['refund-api'].replicas).toBe(0)
  })
})

describe('a halt that springs back after it was verified', () => {
  it('halt --hold re-applies it and names the manager that undid it; status shows it NOT HALTED with that manager', async () => {
    const w = await world(
      { namespaces: { agents: { deployments: [refundApi(3)], scaleBack: [{ target: 'deployment/refund-api', afterMs: 4000, replicas: 2, manager: 'rogue-operator' }] } } },
      { names: ['deployment/refund-api'] },
    )
    const held = await w.halt('--hold', '7s', '--hold-interval', '300ms')
    const result = held.json.result
    expect(result.reversions.length).toBeGreaterThanOrEqual(1)
    expect(result.reversions[0]).toMatchObject({ label: 'agents/deployment/refund-api', by: 'rogue-operator', liveText: 'replicas=2' })
    expect(result.reversions[0].outcome).toBe('re-halted')

    // The rogue controller scales it back up once more after the hold: status reads it live.
    await settle(5000)
    const status = await w.cli(['status'])
    expect(status.code).toBe(0)
    const target = status.json.result.targets.find((t: any) => t.label === 'agents/deployment/refund-api')
    expect(target.live).toMatchObject({ halted: false, by: 'rogue-operator' })
  })
})

describe('a pod on a node that is gone', () => {
  it('a verification time-out says the pod is on a NotReady node', async () => {
    const w = await world(
      { nodes: [{ name: 'node-lost', ready: false }], namespaces: { agents: { deployments: [refundApi(1, { nodeName: 'node-lost' })] } } },
      { names: ['deployment/refund-api'] },
    )
    const halted = await w.halt('--verify-timeout', '2s')
    expect(halted.code).toBe(2)
    expect(halted.json.result.targets[0].error).toMatch(/Terminating since .*its node node-lost is NotReady \(no kubelet to stop it\)/)
    expect(ns().deployments['refund-api'].replicas).toBe(0)
  })
})
