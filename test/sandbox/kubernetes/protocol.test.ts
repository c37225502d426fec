/**
 * The Kubernetes plane's wire contract, read with plain HTTP: discovery documents, Status errors, injected
 * faults, watch start points and bookmarks, and the plane's state() summary.
 */
import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { NAMESPACE, namespaceState, podsOf, seed, waitUntil } from './support.js'

let sandbox: Sandbox | undefined

afterEach(async () => {
  await sandbox?.stop()
  sandbox = undefined
})

async function started(overrides?: Parameters<typeof startSandbox>[0]): Promise<Sandbox> {
  sandbox = await startSandbox({ seed, ...overrides })
  return sandbox
}

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; type: string | null; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${sandbox!.url}${path}`, init)
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, body: (await response.json()) as Record<string, unknown> }
}

/** A watch read to its end (the server closes it at timeoutSeconds): the parsed events. */
async function watchToEnd(path: string): Promise<{ type: string; object: { metadata: { name?: string; resourceVersion: string; deletionTimestamp?: string } } }[]> {
  const text = await (await fetch(`${sandbox!.url}${path}`)).text()
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line))
}

const deploymentScale = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/refund/scale`

describe('discovery', () => {
  it('serves legacy discovery as application/json with the scale subresources', async () => {
    await started()
    const apiVersions = await call('/api')
    expect(apiVersions.type).toBe('application/json')
    expect(apiVersions.body).toMatchObject({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: new URL(sandbox!.url).host }] })
    const groups = (await call('/apis')).body as { kind: string; groups: { name: string; preferredVersion: { groupVersion: string } }[] }
    expect(groups.kind).toBe('APIGroupList')
    // No CRD is installed by this seed: only the built-in groups.
    expect(groups.groups.map((g) => g.preferredVersion.groupVersion)).toEqual(['apps/v1', 'authentication.k8s.io/v1', 'authorization.k8s.io/v1', 'autoscaling/v2', 'batch/v1'])
    const apps = await call('/apis/apps/v1')
    const resources = apps.body.resources as { name: string; group?: string; version?: string; kind: string }[]
    expect(resources.map((r) => r.name)).toEqual(['deployments', 'deployments/scale', 'replicasets', 'statefulsets', 'statefulsets/scale'])
    expect(resources.find((r) => r.name === 'statefulsets/scale')).toMatchObject({ group: 'autoscaling', version: 'v1', kind: 'Scale' })
    const core = await call('/api/v1')
    expect((core.body.resources as { name: string }[]).map((r) => r.name)).toEqual(['namespaces', 'nodes', 'pods'])
    expect((await call('/apis/batch/v1')).body.resources).toEqual([
      expect.objectContaining({ name: 'cronjobs', kind: 'CronJob', shortNames: ['cj'], namespaced: true }),
      expect.objectContaining({ name: 'jobs', kind: 'Job', verbs: ['delete', 'get', 'list', 'watch'] }),
    ])
    expect((await call('/version')).body).toMatchObject({ major: '1', gitVersion: expect.stringMatching(/^v1\./) })
  })
})

describe('errors', () => {
  it('answers unknown paths, methods and media types with Status objects', async () => {
    await started()
    // KEDA's CRD is not installed by this seed: its group is as unknown as any other.
    const unknown = await call('/apis/keda.sh/v1alpha1/namespaces/agents/scaledobjects')
    expect(unknown).toMatchObject({ status: 404, type: 'application/json', body: { kind: 'Status', reason: 'NotFound', code: 404 } })
    expect(unknown.body.message).toContain('/apis/keda.sh/v1alpha1/namespaces/agents/scaledobjects')

    expect((await call(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, { method: 'POST', body: '{}' })).body).toMatchObject({ reason: 'MethodNotAllowed', code: 405 })
    expect((await call(`/api/v1/namespaces/${NAMESPACE}/pods/nope`)).body).toMatchObject({ reason: 'NotFound', code: 404, details: { name: 'nope', kind: 'pods' } })

    const wrongType = await call(deploymentScale, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"spec":{"replicas":0}}' })
    expect(wrongType.body).toMatchObject({ kind: 'Status', reason: 'UnsupportedMediaType', code: 415 })
    const badBody = await call(deploymentScale, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":' })
    expect(badBody.body).toMatchObject({ kind: 'Status', reason: 'BadRequest', code: 400 })
    const negative = await call(deploymentScale, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"replicas":-1}}' })
    expect(negative.body).toMatchObject({ reason: 'Invalid', code: 422 })
    const badSelector = await call(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent('app in refund')}`)
    expect(badSelector.body).toMatchObject({ reason: 'BadRequest', code: 400 })
    expect(namespaceState(sandbox!).deployments.refund!.replicas).toBe(2)
  })

  it('refuses to change an immutable selector', async () => {
    await started()
    const patched = await call(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/refund`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ spec: { selector: { matchLabels: { app: 'other' } } } }),
    })
    expect(patched.body).toMatchObject({ reason: 'Invalid', code: 422 })
  })

  it('injects 500 and 429 (with Retry-After) as Status objects, and resets connections', async () => {
    await started({ overrides: { apis: { kubernetes: { errorRate: 1 } } } })
    expect(await call('/api/v1/pods')).toMatchObject({ status: 500, body: { kind: 'Status', reason: 'InternalError', code: 500 } })
    await sandbox!.stop()

    await started({ overrides: { apis: { kubernetes: { throttleRate: 1 } } } })
    const throttled = await call('/api/v1/pods')
    expect(throttled).toMatchObject({ status: 429, body: { kind: 'Status', reason: 'TooManyRequests', details: { retryAfterSeconds: 1 } } })
    expect(throttled.headers.get('retry-after')).toBe('1')
    await sandbox!.stop()

    await started({ overrides: { apis: { kubernetes: { resetRate: 1 } } } })
    const reset = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
      const req = request(`${sandbox!.url}/api/v1/pods`, () => reject(new Error('expected no answer')))
      req.on('error', resolve)
      req.end()
    })
    expect(reset.code).toBe('ECONNRESET')
  })
})

describe('lists and watches', () => {
  it('lists pods across namespaces with a list resourceVersion and items without kind', async () => {
    await started()
    const list = await call('/api/v1/pods?labelSelector=app%3Drefund')
    expect(list.body).toMatchObject({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: expect.stringMatching(/^\d+$/) } })
    const items = list.body.items as { kind?: string; metadata: { namespace: string; ownerReferences: { kind: string }[] }; status: { phase: string } }[]
    expect(items).toHaveLength(2)
    for (const item of items) {
      expect(item.kind).toBeUndefined()
      expect(item.metadata.namespace).toBe(NAMESPACE)
      expect(item.metadata.ownerReferences[0]!.kind).toBe('ReplicaSet')
      expect(item.status.phase).toBe('Running')
    }
  })

  it('a watch without resourceVersion starts with ADDED for current objects and ends at timeoutSeconds with a BOOKMARK', async () => {
    await started()
    const events = await watchToEnd(`/api/v1/namespaces/${NAMESPACE}/pods?watch=true&labelSelector=app%3Dmemory&timeoutSeconds=1&allowWatchBookmarks=true`)
    expect(events.map((e) => `${e.type} ${e.object.metadata.name ?? ''}`.trim())).toEqual(['ADDED memory-0', 'ADDED memory-1', 'ADDED memory-2', 'BOOKMARK'])
  })

  it('a watch from a resourceVersion replays what changed after it', async () => {
    await started()
    const list = await call(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments`)
    const listVersion = (list.body.metadata as { resourceVersion: string }).resourceVersion
    await call(deploymentScale, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"replicas":0}}' })
    await waitUntil('the refund pods are gone', () => podsOf(sandbox!, 'deployment/refund').length === 0)

    const events = await watchToEnd(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments?watch=true&fieldSelector=metadata.name%3Drefund&resourceVersion=${listVersion}&timeoutSeconds=1`)
    expect(events.length).toBeGreaterThanOrEqual(2)
    expect(events.every((e) => e.type === 'MODIFIED' && e.object.metadata.name === 'refund')).toBe(true)
    const versions = events.map((e) => Number(e.object.metadata.resourceVersion))
    expect(versions[0]).toBeGreaterThan(Number(listVersion))
    expect([...versions].sort((a, b) => a - b)).toEqual(versions)
  })

  it('serves Tables to kubectl-style Accept headers with Terminating in the Status column', async () => {
    await started()
    await call(deploymentScale, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json' }, body: '[{"op":"replace","path":"/spec/replicas","value":0}]' })
    await waitUntil('the refund pods terminate', () => podsOf(sandbox!, 'deployment/refund').every((pod) => pod.terminating))
    const table = await call(`/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=app%3Drefund`, { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' } })
    expect(table.body).toMatchObject({ kind: 'Table', apiVersion: 'meta.k8s.io/v1' })
    expect((table.body.columnDefinitions as { name: string }[]).map((c) => c.name).slice(0, 5)).toEqual(['Name', 'Ready', 'Status', 'Restarts', 'Age'])
    const rows = table.body.rows as { cells: unknown[]; object: { kind: string } }[]
    expect(rows.map((r) => r.cells[2])).toEqual(['Terminating', 'Terminating'])
    expect(rows[0]!.object.kind).toBe('PartialObjectMetadata')
  })

  it('Deployment status counts terminating pods as terminatingReplicas, not replicas (omitempty zeros)', async () => {
    await started()
    await call(deploymentScale, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"replicas":0}}' })
    await waitUntil('the refund pods terminate', () => podsOf(sandbox!, 'deployment/refund').every((pod) => pod.terminating))
    const deployment = await call(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/refund`)
    expect(deployment.body.status).toEqual({ observedGeneration: 2, terminatingReplicas: 2 })
    expect((await call(deploymentScale)).body).toMatchObject({ spec: {}, status: { replicas: 0 } })
    expect(namespaceState(sandbox!).deployments.refund!.status).toEqual({ replicas: 0, terminatingReplicas: 2 })
  })
})

describe('state()', () => {
  it('summarises workloads and pods per namespace', async () => {
    await started()
    await call(`/apis/apps/v1/namespaces/${NAMESPACE}/statefulsets/memory/scale`, { method: 'PATCH', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"replicas":2}}' })
    await waitUntil('memory-2 terminates', () => podsOf(sandbox!, 'statefulset/memory').some((pod) => pod.terminating))
    const state = namespaceState(sandbox!)
    expect(state.deployments.refund).toEqual({
      replicas: 2,
      annotations: { team: 'payments' },
      labels: { app: 'refund', class: 'refund' },
      status: { replicas: 2 },
      paused: false,
      replicasManager: 'kubectl-client-side-apply',
    })
    expect(state.statefulsets.memory).toMatchObject({ replicas: 2, status: { replicas: 3 } })
    const pod = { owner: 'statefulset/memory', ownerKind: 'StatefulSet', phase: 'Running', finalizers: [], node: 'sandbox-node-1' }
    expect(podsOf(sandbox!, 'statefulset/memory')).toEqual([
      { ...pod, name: 'memory-0', terminating: false },
      { ...pod, name: 'memory-1', terminating: false },
      { ...pod, name: 'memory-2', terminating: true },
    ])
    expect(Object.keys(sandbox!.state().kubernetes as object)).toEqual(expect.arrayContaining(['default', NAMESPACE]))
  })
})
