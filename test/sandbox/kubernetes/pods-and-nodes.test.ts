/**
 * The plane as a production cluster looks to kubectl and @kubernetes/client-node: ReplicaSets between Deployments
 * and their pods (a canary whose selector overlaps included), pods that are not their workload's running ones
 * (evicted, succeeded, bare, another controller's), finalizers that hold a deleted pod, a NotReady node whose pods
 * never finish terminating, pod field selectors, and `kubectl rollout pause`.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { kubectlFor, NAMESPACE, namespaceState, podsOf, waitUntil } from './support.js'

const seed: SeedInput = {
  kubernetes: {
    nodes: [{ name: 'node-lost', ready: false }],
    namespaces: {
      [NAMESPACE]: {
        deployments: [
          { name: 'refund', labels: { app: 'refund' }, replicas: 2, terminationGracePeriodSeconds: 1 },
          { name: 'refund-canary', labels: { app: 'refund', track: 'canary' }, replicas: 1, terminationGracePeriodSeconds: 1 },
          { name: 'held', labels: { app: 'held' }, replicas: 1, podFinalizers: ['example.com/drain'], terminationGracePeriodSeconds: 1 },
          { name: 'stranded', labels: { app: 'stranded' }, replicas: 1, nodeName: 'node-lost', terminationGracePeriodSeconds: 1 },
        ],
        pods: [
          { name: 'refund-evicted', ownerWorkload: 'deployment/refund', phase: 'Failed', reason: 'Evicted' },
          { name: 'refund-done', ownerWorkload: 'deployment/refund', phase: 'Succeeded' },
          { name: 'debug', labels: { app: 'refund' } },
          { name: 'log-agent-x7k2p', labels: { app: 'refund' }, owner: { kind: 'DaemonSet', name: 'log-agent' } },
          { name: 'waiting', labels: { app: 'waiting' }, phase: 'Pending' },
        ],
      },
    },
  },
}

interface Owned {
  metadata: { name: string; uid: string; ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[] }
}

describe('pods, ReplicaSets and nodes as in a production cluster', () => {
  let sandbox: Sandbox
  let cacheDir: string
  let core: CoreV1Api
  const kubectl = kubectlFor(
    () => sandbox,
    () => cacheDir,
  )

  beforeEach(async () => {
    sandbox = await startSandbox({ seed })
    cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'))
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(sandbox.kubeconfigPath)
    core = kubeConfig.makeApiClient(CoreV1Api)
  })

  afterEach(async () => {
    await sandbox.stop()
    await rm(cacheDir, { recursive: true, force: true })
  })

  it("serves each Deployment's ReplicaSet, owning the Deployment's pods and not the canary's, though its selector matches them", async () => {
    const replicaSets = (await kubectl.json<{ items: (Owned & { spec: { replicas: number } })[] }>('get', 'replicasets')).items
    const deployments = (await kubectl.json<{ items: Owned[] }>('get', 'deployments')).items
    const deploymentOf = new Map(replicaSets.map((rs) => [rs.metadata.uid, rs.metadata.ownerReferences?.find((r) => r.controller)]))
    for (const rs of replicaSets) {
      const owner = deploymentOf.get(rs.metadata.uid)!
      expect(owner.kind).toBe('Deployment')
      expect(rs.metadata.name).toMatch(new RegExp(`^${owner.name}-[bcdfghjklmnpqrstvwxz2456789]{10}$`))
      expect(owner.uid).toBe(deployments.find((d) => d.metadata.name === owner.name)!.metadata.uid)
    }

    // `app=refund` selects the canary's pods too; ownership tells them apart.
    const pods = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: 'app=refund' })).items
    const ownerOf = (pod: V1Pod) => {
      const reference = pod.metadata?.ownerReferences?.find((r) => r.controller)
      if (reference?.kind !== 'ReplicaSet') return reference ? `${reference.kind}/${reference.name}` : 'bare'
      return `Deployment/${deploymentOf.get(reference.uid)!.name}`
    }
    const byOwner = (owner: string) => pods.filter((pod) => ownerOf(pod) === owner).map((pod) => pod.metadata!.name!)
    expect(byOwner('Deployment/refund')).toHaveLength(4)
    expect(byOwner('Deployment/refund')).toEqual(expect.arrayContaining(['refund-evicted', 'refund-done']))
    expect(byOwner('Deployment/refund-canary')).toHaveLength(1)
    expect(byOwner('DaemonSet/log-agent')).toEqual(['log-agent-x7k2p'])
    expect(byOwner('bare')).toEqual(['debug'])

    await kubectl('scale', 'deployment/refund', '--replicas=3')
    await waitUntil('the ReplicaSet follows the Deployment to 3', () => Object.entries(namespaceState(sandbox).replicasets).some(([name, rs]) => name.startsWith('refund-') && rs.owner === 'deployment/refund' && rs.replicas === 3))
    const table = await kubectl('get', 'rs', '-l', 'app=refund,!track')
    expect(table.split('\n')[1]).toMatch(/^refund-\w{10}\s+3\s+/)
  })

  it('scaling to zero terminates the running pods only: evicted and succeeded pods stay, and so do other owners\' pods', async () => {
    await kubectl('scale', 'deployment/refund', '--replicas=0')
    await waitUntil('the running refund pods are gone', () => podsOf(sandbox, 'deployment/refund').every((pod) => pod.phase !== 'Running'))
    expect(podsOf(sandbox, 'deployment/refund').map((p) => [p.name, p.phase, p.reason ?? '', p.terminating])).toEqual([
      ['refund-done', 'Succeeded', '', false],
      ['refund-evicted', 'Failed', 'Evicted', false],
    ])
    expect(podsOf(sandbox, 'deployment/refund-canary')).toHaveLength(1)
    expect(namespaceState(sandbox).pods.filter((p) => p.owner === '' || p.ownerKind === 'DaemonSet').map((p) => p.name)).toEqual(['debug', 'log-agent-x7k2p', 'waiting'])
    const statusColumn = await kubectl('get', 'pod', 'refund-evicted', 'refund-done')
    expect(statusColumn).toMatch(/refund-done\s+0\/1\s+Completed/)
    expect(statusColumn).toMatch(/refund-evicted\s+0\/1\s+Evicted/)
  })

  it('filters pods by status.phase and spec.nodeName, as the apiserver does, and refuses other fields', async () => {
    const names = async (selector: string) => (await kubectl('get', 'pods', '--field-selector', selector, '-o', 'name')).trim().split('\n').filter(Boolean).map((line) => line.replace('pod/', ''))
    const running = await names('status.phase=Running')
    expect(running).not.toContain('refund-evicted')
    expect(running).not.toContain('waiting')
    expect(running).toContain('debug')
    expect(await names('status.phase=Failed')).toEqual(['refund-evicted'])
    expect(await names('spec.nodeName=')).toEqual(['waiting'])
    expect(await names('spec.nodeName=node-lost')).toEqual([expect.stringMatching(/^stranded-/)])
    const notRunning = await core.listNamespacedPod({ namespace: NAMESPACE, fieldSelector: 'status.phase!=Running,metadata.name!=waiting' })
    expect(notRunning.items.map((p) => p.metadata!.name).sort()).toEqual(['refund-done', 'refund-evicted'])
    const refused = await kubectl.run('get', 'pods', '--field-selector', 'spec.priority=1')
    expect(refused.stderr).toContain('field label not supported: spec.priority')
  })

  it('a pod with a finalizer stays Terminating after its grace period until a PATCH removes the finalizer', async () => {
    const [held] = podsOf(sandbox, 'deployment/held')
    expect(held!.finalizers).toEqual(['example.com/drain'])
    await kubectl('delete', 'pod', held!.name, '--wait=false')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const table = await kubectl('get', 'pods', '-l', 'app=held')
    expect(table).toMatch(new RegExp(`${held!.name}\\s+1/1\\s+Terminating`))
    // The Deployment does not count a terminating pod: its replacement runs already.
    expect(podsOf(sandbox, 'deployment/held').filter((p) => !p.terminating)).toHaveLength(1)

    const adding = await kubectl.run('patch', 'pod', held!.name, '--type', 'merge', '-p', '{"metadata":{"finalizers":["example.com/drain","example.com/more"]}}')
    expect(adding.stderr).toContain(`The Pod "${held!.name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted`)

    await kubectl('patch', 'pod', held!.name, '--type', 'json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]')
    await waitUntil('the held pod is gone', () => !podsOf(sandbox, 'deployment/held').some((p) => p.name === held!.name))
  })

  it("a pod on a NotReady node never finishes terminating; its replacement runs on a Ready node; a forced delete removes it", async () => {
    expect(await kubectl('get', 'nodes')).toMatch(/node-lost\s+NotReady[\s\S]*sandbox-node-1\s+Ready/)
    const node = await core.readNode({ name: 'node-lost' })
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' })
    const [stranded] = podsOf(sandbox, 'deployment/stranded')
    expect(stranded!.node).toBe('node-lost')

    await kubectl('delete', 'pod', stranded!.name, '--wait=false')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const pods = podsOf(sandbox, 'deployment/stranded')
    expect(pods.find((p) => p.name === stranded!.name)).toMatchObject({ terminating: true, node: 'node-lost' })
    expect(pods.filter((p) => !p.terminating).map((p) => p.node)).toEqual(['sandbox-node-1'])

    await kubectl('delete', 'pod', stranded!.name, '--grace-period=0', '--force')
    expect(podsOf(sandbox, 'deployment/stranded').map((p) => p.name)).not.toContain(stranded!.name)
  })

  it('kubectl rollout pause keeps spec.paused; a paused Deployment still scales; rollout resume clears it', async () => {
    expect(await kubectl('rollout', 'pause', 'deployment/refund')).toContain('deployment.apps/refund paused')
    expect(await kubectl('get', 'deployment', 'refund', '-o', 'jsonpath={.spec.paused}')).toBe('true')
    expect(namespaceState(sandbox).deployments.refund!.paused).toBe(true)
    const again = await kubectl.run('rollout', 'pause', 'deployment/refund')
    expect(again.stderr).toContain('deployments.apps "refund" is already paused')

    await kubectl('scale', 'deployment/refund', '--replicas=1')
    await waitUntil('one running refund pod is left', () => podsOf(sandbox, 'deployment/refund').filter((p) => p.phase === 'Running' && !p.terminating).length === 1)

    expect(await kubectl('rollout', 'resume', 'deployment/refund')).toContain('deployment.apps/refund resumed')
    expect(await kubectl('get', 'deployment', 'refund', '-o', 'jsonpath={.spec.paused}')).toBe('')
    expect(namespaceState(sandbox).deployments.refund!.paused).toBe(false)
  })
})
