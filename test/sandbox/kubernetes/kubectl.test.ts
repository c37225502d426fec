/**
 * The sandbox's Kubernetes plane against kubectl, an independent client: discovery, server-side printing,
 * the scale subresource, watches, annotate, and graceful termination as kubectl observes it.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { NAMESPACE, podsOf, seed, waitUntil } from './support.js'

const execFileAsync = promisify(execFile)

describe('kubectl against the sandbox', () => {
  let sandbox: Sandbox
  let cacheDir: string
  const kubectlArgs = (args: string[]) => ['--kubeconfig', sandbox.kubeconfigPath, '--cache-dir', cacheDir, '-n', NAMESPACE, ...args]
  const kubectl = async (...args: string[]) => (await execFileAsync('kubectl', kubectlArgs(args))).stdout

  beforeEach(async () => {
    sandbox = await startSandbox({ seed })
    cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'))
  })

  afterEach(async () => {
    await sandbox.stop()
    await rm(cacheDir, { recursive: true, force: true })
  })

  it('gets deployments as JSON with selector, template grace period, annotations and status', async () => {
    const list = JSON.parse(await kubectl('get', 'deployments', '-o', 'json')) as {
      items: { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: { terminationGracePeriodSeconds: number } } }; status: { replicas: number; readyReplicas: number } }[]
    }
    const refund = list.items.find((item) => item.metadata.name === 'refund')!
    expect(refund.kind).toBe('Deployment')
    expect(refund.metadata.annotations).toEqual({ team: 'payments' })
    expect(refund.spec.replicas).toBe(2)
    expect(refund.spec.selector.matchLabels).toEqual({ app: 'refund', class: 'refund' })
    expect(refund.spec.template.metadata.labels).toEqual({ app: 'refund', class: 'refund' })
    expect(refund.spec.template.spec.terminationGracePeriodSeconds).toBe(1)
    expect(refund.status).toMatchObject({ replicas: 2, readyReplicas: 2 })
  })

  it('scales a deployment to zero; get pods shows the pods Terminating, then they are gone after their grace period', async () => {
    expect(await kubectl('scale', 'deployment/refund', '--replicas=0')).toContain('deployment.apps/refund scaled')
    await waitUntil('the refund pods terminate', () => podsOf(sandbox, 'deployment/refund').every((pod) => pod.terminating))

    const table = await kubectl('get', 'pods', '-l', 'app=refund')
    const rows = table.trim().split('\n').slice(1)
    expect(rows).toHaveLength(2)
    for (const row of rows) expect(row).toMatch(/^refund-[a-z0-9]{10}-[a-z0-9]{5}\s+1\/1\s+Terminating\s/)

    await waitUntil('the refund pods are gone', () => podsOf(sandbox, 'deployment/refund').length === 0)
    const after = await execFileAsync('kubectl', kubectlArgs(['get', 'pods', '-l', 'app=refund']))
    expect(after.stdout).toBe('')
    expect(after.stderr).toContain('No resources found')
    expect(JSON.parse(await kubectl('get', 'deployment', 'refund', '-o', 'json')).spec.replicas).toBe(0)
  })

  it('get pods --watch shows the pods MODIFIED (terminating) and then DELETED', async () => {
    const watcher = spawn('kubectl', kubectlArgs(['get', 'pods', '-l', 'app=refund', '--watch', '--output-watch-events']))
    let output = ''
    watcher.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const lines = () => output.split('\n').filter((line) => line.trim() !== '')
    const events = (type: string) => lines().filter((line) => line.startsWith(type))
    try {
      await waitUntil('the watch lists the two running pods', () => events('ADDED').length === 2)
      await kubectl('scale', 'deployment/refund', '--replicas=0')
      await waitUntil('the watch sees both pods deleted', () => events('DELETED').length === 2)
    } finally {
      watcher.kill()
    }
    const modified = events('MODIFIED')
    expect(modified.length).toBeGreaterThanOrEqual(2)
    expect(modified.every((line) => /\sTerminating\s/.test(line))).toBe(true)
    const firstDeleted = lines().findIndex((line) => line.startsWith('DELETED'))
    const lastModified = lines().findLastIndex((line) => line.startsWith('MODIFIED'))
    expect(lastModified).toBeLessThan(firstDeleted)
  })

  it('scales a StatefulSet down from the highest ordinal', async () => {
    expect(await kubectl('scale', 'statefulset/memory', '--replicas=1')).toContain('statefulset.apps/memory scaled')
    await waitUntil('memory has one pod left', () => podsOf(sandbox, 'statefulset/memory').length === 1)
    expect(podsOf(sandbox, 'statefulset/memory')).toEqual([
      { name: 'memory-0', owner: 'statefulset/memory', ownerKind: 'StatefulSet', phase: 'Running', terminating: false, finalizers: [], node: 'sandbox-node-1' },
    ])
    const scale = JSON.parse(await kubectl('get', '--raw', `/apis/apps/v1/namespaces/${NAMESPACE}/statefulsets/memory/scale`))
    expect(scale).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 }, status: { replicas: 1, selector: 'app=memory,class=refund' } })
  })

  it('annotates a deployment; the annotation persists beside the seeded one', async () => {
    expect(await kubectl('annotate', 'deployment/refund', 'killswitch.dev/prior-replicas=2')).toContain('deployment.apps/refund annotated')
    const annotations = await kubectl('get', 'deployment', 'refund', '-o', 'jsonpath={.metadata.annotations}')
    expect(JSON.parse(annotations)).toEqual({ team: 'payments', 'killswitch.dev/prior-replicas': '2' })
    expect((sandbox.state().kubernetes as Record<string, { deployments: Record<string, { annotations: Record<string, string> }> }>)[NAMESPACE]!.deployments.refund!.annotations).toEqual({
      team: 'payments',
      'killswitch.dev/prior-replicas': '2',
    })
  })

  it('reports a missing workload as NotFound', async () => {
    await expect(kubectl('get', 'deployment', 'nope')).rejects.toMatchObject({ stderr: expect.stringContaining('Error from server (NotFound): deployments.apps "nope" not found') })
  })
})
