/**
 * The HTTP client's request shapes against a recording loopback server (plain http): merge patches, DeleteOptions,
 * label selectors, the watch's query and its NDJSON stream split across chunks, 429s waited out, and a scale of
 * zero that arrives without `spec.replicas`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { KubernetesClient, PodWatchEvent } from '../../../src/primitives/kubernetes/client.js'
import { connectWithKubeconfig } from '../../../src/primitives/kubernetes/http-client.js'

interface Recorded {
  method: string
  path: string
  query: Record<string, string>
  contentType?: string
  authorization?: string
  body: unknown
}

type Handler = (request: Recorded, response: ServerResponse) => void

describe('the HTTP client', () => {
  let dir: string
  let server: Server
  let client: KubernetesClient
  let recorded: Recorded[]
  let handle: Handler
  const signal = new AbortController().signal
  const json = (response: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(code, { 'content-type': 'application/json', ...headers })
    response.end(JSON.stringify(body))
  }

  beforeAll(async () => {
    server = createServer(async (request: IncomingMessage, response) => {
      const chunks: Buffer[] = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      const url = new URL(request.url ?? '/', 'http://localhost')
      const text = Buffer.concat(chunks).toString()
      const entry: Recorded = {
        method: request.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        contentType: request.headers['content-type'],
        authorization: request.headers.authorization,
        body: text === '' ? undefined : JSON.parse(text),
      }
      recorded.push(entry)
      handle(entry, response)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    dir = await mkdtemp(join(tmpdir(), 'killswitch-http-'))
    await writeFile(
      join(dir, 'kubeconfig'),
      `clusters:
- name: local
  cluster: {server: 'http://127.0.0.1:${(server.address() as AddressInfo).port}/proxy/'}
users:
- name: admin
  user: {username: admin, password: 'pa:ss'}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
`,
    )
    client = await connectWithKubeconfig({ kubeconfig: join(dir, 'kubeconfig'), env: {} })()
  })
  beforeEach(() => {
    recorded = []
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  it('merge-patches the scale and the annotations under the server path, and sends no credentials to an http server, as kubectl', async () => {
    handle = (_, response) => json(response, 200, {})
    const ref = { namespace: 'agents', kind: 'statefulset', name: 'refund-worker' } as const

    await client.patchScaleReplicas(ref, 0, signal)
    await client.patchAnnotations(ref, { 'killswitch.dev/replicas-before': null }, signal)

    // The kubeconfig's basic auth stays home: clientcmd applies a user's credentials only to an https server.
    expect(recorded).toEqual([
      { method: 'PATCH', path: '/proxy/apis/apps/v1/namespaces/agents/statefulsets/refund-worker/scale', query: {}, contentType: 'application/merge-patch+json', authorization: undefined, body: { spec: { replicas: 0 } } },
      { method: 'PATCH', path: '/proxy/apis/apps/v1/namespaces/agents/statefulsets/refund-worker', query: {}, contentType: 'application/merge-patch+json', authorization: undefined, body: { metadata: { annotations: { 'killswitch.dev/replicas-before': null } } } },
    ])
  })

  it('reads a scale without spec.replicas as 0', async () => {
    handle = (_, response) => json(response, 200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: {}, status: { replicas: 0 } })
    expect(await client.readScaleReplicas({ namespace: 'agents', kind: 'deployment', name: 'refund-api' }, signal)).toBe(0)
  })

  it('lists with the label selector and maps the workload spec, replica count included', async () => {
    handle = (_, response) =>
      json(response, 200, {
        kind: 'StatefulSetList',
        items: [
          {
            metadata: {
              name: 'ledger',
              namespace: 'agents',
              labels: { 'kustomize.toolkit.fluxcd.io/name': 'agents' },
              annotations: { a: 'b' },
              // Whoever wrote spec.replicas last owns it: the scale subresource's writer, not the older Apply.
              managedFields: [
                { manager: 'kustomize-controller', operation: 'Apply', time: '2026-01-01T00:00:00Z', fieldsV1: { 'f:metadata': {} } },
                { manager: 'keda-operator', operation: 'Update', subresource: 'scale', time: '2026-01-02T00:00:00Z', fieldsV1: { 'f:spec': { 'f:replicas': {} } } },
              ],
            },
            spec: { replicas: 0, selector: { matchLabels: { app: 'ledger' } }, podManagementPolicy: 'Parallel', template: { spec: { terminationGracePeriodSeconds: 5 } } },
          },
          { metadata: { name: 'bare', namespace: 'agents' }, spec: { selector: { matchLabels: { app: 'bare' } } } },
        ],
      })

    expect(await client.listWorkloads('agents', 'statefulset', 'class=refund,tier in (a,b)', signal)).toEqual([
      {
        namespace: 'agents',
        kind: 'statefulset',
        name: 'ledger',
        podSelector: 'app=ledger',
        labels: { 'kustomize.toolkit.fluxcd.io/name': 'agents' },
        replicasManager: 'keda-operator',
        annotations: { a: 'b' },
        terminationGracePeriodSeconds: 5,
        podManagementPolicy: 'Parallel',
        replicas: 0,
      },
      { namespace: 'agents', kind: 'statefulset', name: 'bare', podSelector: 'app=bare', labels: {}, annotations: {}, terminationGracePeriodSeconds: 30, podManagementPolicy: 'OrderedReady', replicas: null },
    ])
    expect(recorded[0]).toMatchObject({ method: 'GET', path: '/proxy/apis/apps/v1/namespaces/agents/statefulsets', query: { labelSelector: 'class=refund,tier in (a,b)' } })
  })

  it('deletes a pod with DeleteOptions carrying the grace period; a pod already gone is not an error', async () => {
    handle = (request, response) =>
      request.path.endsWith('/gone') ? json(response, 404, { kind: 'Status', reason: 'NotFound', code: 404 }) : json(response, 200, {})

    await client.deletePod('agents', 'refund-api-1', 0, signal)
    await client.deletePod('agents', 'gone', 0, signal)

    expect(recorded[0]).toMatchObject({
      method: 'DELETE',
      path: '/proxy/api/v1/namespaces/agents/pods/refund-api-1',
      contentType: 'application/json',
      body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 },
    })
    expect(recorded).toHaveLength(2)
  })

  it('waits out a 429 for its Retry-After and sends the request again', async () => {
    let answered = 0
    handle = (_, response) =>
      answered++ === 0
        ? json(response, 429, { kind: 'Status', reason: 'TooManyRequests', code: 429 }, { 'retry-after': '0' })
        : json(response, 200, { metadata: { resourceVersion: '42' }, items: [{ metadata: { name: 'p-1', labels: { app: 'refund' } }, spec: { nodeName: 'n-1' } }, { metadata: { name: 'p-2' } }] })

    expect(await client.listPods('agents', signal)).toEqual({
      pods: [
        { name: 'p-1', labels: { app: 'refund' }, owner: null, nodeName: 'n-1' },
        { name: 'p-2', labels: {}, owner: null },
      ],
      resourceVersion: '42',
    })
    expect(recorded).toHaveLength(2)
    // The whole namespace: one list serves every workload there.
    expect(recorded[1]).toMatchObject({ method: 'GET', path: '/proxy/api/v1/namespaces/agents/pods', query: {} })
  })

  it('retries a 503 and a connection reset, and reports a 5xx that persists', async () => {
    let answered = 0
    handle = (_, response) => {
      answered++
      if (answered === 1) return json(response, 503, { kind: 'Status', reason: 'ServiceUnavailable', code: 503 })
      if (answered === 2) return void response.socket?.destroy()
      json(response, 200, { spec: { replicas: 2 } })
    }
    expect(await client.readScaleReplicas({ kind: 'deployment', namespace: 'agents', name: 'refund' }, signal)).toBe(2)
    expect(recorded).toHaveLength(3)

    recorded = []
    handle = (_, response) => json(response, 500, { kind: 'Status', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500 })
    await expect(client.readScaleReplicas({ kind: 'deployment', namespace: 'agents', name: 'refund' }, signal)).rejects.toThrow(/etcdserver: request timed out/)
    expect(recorded).toHaveLength(5)
  })

  it('watches from the resourceVersion and parses events split across chunks until the server ends the stream', async () => {
    handle = (_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"type":"MODIFIED","object":{"metadata":{"name":"p-1","labels":{"app":"refund"},"deletionTimestamp":"2024-01-01T00:00:00Z"}}}\n{"type":"DEL')
      setImmediate(() => {
        response.write('ETED","object":{"metadata":{"name":"p-1","labels":{"app":"refund"}}}}\n{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"50"}}}\n')
        response.end('{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}')
      })
    }
    const events: PodWatchEvent[] = []
    const ended = new Promise<unknown>((resolve) => {
      void client.watchPods('agents', '42', (event) => events.push(event), (error) => resolve(error ?? 'closed by server'))
    })

    expect(await ended).toBe('closed by server')
    const refund = { name: 'p-1', labels: { app: 'refund' }, owner: null }
    expect(events).toEqual([
      { type: 'MODIFIED', pod: { ...refund, deletionTimestamp: '2024-01-01T00:00:00Z' } },
      { type: 'DELETED', pod: refund },
      { type: 'BOOKMARK' },
      { type: 'ERROR' },
    ])
    expect(recorded[0]).toMatchObject({
      method: 'GET',
      path: '/proxy/api/v1/namespaces/agents/pods',
      query: { watch: 'true', resourceVersion: '42', allowWatchBookmarks: 'true', timeoutSeconds: '30' },
    })
    expect(recorded[0]!.query).not.toHaveProperty('labelSelector')
  })

  it('ends a stopped watch with an AbortError and no further events', async () => {
    handle = (_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"type":"ADDED","object":{"metadata":{"name":"p-1"}}}\n')
    }
    const events: PodWatchEvent[] = []
    let end: (error: unknown) => void = () => undefined
    const ended = new Promise<unknown>((resolve) => (end = resolve))
    const watch = await client.watchPods('agents', '42', (event) => {
      events.push(event)
      // The watch handle exists only once watchPods resolves, which may be after the first event.
      setImmediate(() => watch.stop())
    }, end)

    expect(await ended).toMatchObject({ name: 'AbortError' })
    expect(events).toEqual([{ type: 'ADDED', pod: { name: 'p-1', labels: {}, owner: null } }])
  })

  it('rejects with the signal reason when the operation aborts mid-request', async () => {
    handle = () => undefined
    const controller = new AbortController()
    const reading = client.listPods('agents', controller.signal)
    const reason = new Error('halt timed out')
    setImmediate(() => controller.abort(reason))
    await expect(reading).rejects.toBe(reason)
  })
})
