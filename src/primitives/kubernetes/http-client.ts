/**
 * `KubernetesClient` over node:https / node:http: the handful of REST calls scale-to-zero makes, with no SDK to load
 * (the Kubernetes SDK costs more start-up time than a whole halt). Wire formats: docs/primitives/kubernetes.md and
 * PROTOCOLS.md §E.1.
 *
 * Invariants: one keep-alive Agent per context (rebuilt only when an exec plugin hands out a new client
 * certificate); every request carries the caller's AbortSignal and rejects with its reason when it aborts; a 429 is
 * waited out (`Retry-After`, else 1 s) and retried until that signal aborts; a transient failure (5xx, connection
 * reset, time-out) is retried with jittered back-off up to TRANSIENT_ATTEMPTS attempts (every request here is safe
 * to repeat); a 401 under an exec plugin re-runs the plugin once; any other failure names the operation, the object,
 * the context and the API server's reason, and never a credential.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { readFile } from 'node:fs/promises'
import { PrimitiveError } from '../../core/primitive.js'
import { delay } from '../../core/wait.js'
import type { KubernetesClient, KubernetesConnector, PodSummary, PodWatchEvent, Workload, WorkloadKind, WorkloadRef } from './client.js'
import { createExecCredentialSource, type ExecCredentialSource } from './exec-credential.js'
import { loadKubeconfig, type ClientCertificate, type KubeconfigSource, type KubernetesConnection } from './kubeconfig.js'
import { labelSelectorToQuery, type StructuredLabelSelector } from './label-selector.js'
import { backOff, isTransientNetworkError, isTransientStatus, parseRetryAfterMs } from '../transient.js'

/** Kubernetes' default when a pod spec leaves terminationGracePeriodSeconds unset. */
const DEFAULT_GRACE_PERIOD_SECONDS = 30
/** Wait after a 429 that names no Retry-After. */
const DEFAULT_RETRY_MS = 1000
/** The API server ends a watch after this long; the caller then lists again. */
const WATCH_SERVER_TIMEOUT_SECONDS = 30
/** The client gives up on a watch the server did not end in time (a dead connection) with a TimeoutError. */
const WATCH_CLIENT_TIMEOUT_MS = (WATCH_SERVER_TIMEOUT_SECONDS + 10) * 1000

const PLURAL: Record<WorkloadKind, string> = { deployment: 'deployments', statefulset: 'statefulsets' }

/** Connects with the runbook's kubeconfig; `context` overrides the configured one (a journal's recorded context). */
export function connectWithKubeconfig(source: KubeconfigSource): KubernetesConnector {
  return async (context) => createHttpKubernetesClient(loadKubeconfig({ ...source, context: context ?? source.context }), source.env)
}

/** A non-2xx answer other than 401/403, with the API server's `Status` reason (`NotFound`, `Conflict`, `Invalid`…). */
export class KubernetesApiError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly reason: string | undefined,
  ) {
    super(message)
    this.name = 'KubernetesApiError'
  }
}

interface ApiRequest {
  method: 'GET' | 'PATCH' | 'DELETE'
  path: string
  query?: Record<string, string>
  body?: unknown
  contentType?: string
  signal: AbortSignal
}

/** What the client reads of a Deployment or StatefulSet. */
interface WorkloadObject {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> }
  spec?: {
    replicas?: number
    selector?: StructuredLabelSelector
    podManagementPolicy?: string
    template?: { spec?: { terminationGracePeriodSeconds?: number } }
  }
}

/** What the client reads of a Pod: its name and labels, nothing that would grow the cache. */
interface PodObject {
  metadata?: { name?: string; labels?: Record<string, string> }
}

interface ListOf<T> {
  metadata?: { resourceVersion?: string }
  items?: T[]
}

interface StatusObject {
  kind?: string
  message?: string
  reason?: string
}

export function createHttpKubernetesClient(connection: KubernetesConnection, env: NodeJS.ProcessEnv): KubernetesClient {
  const { context, cluster } = connection
  const secure = cluster.server.protocol === 'https:'
  const basePath = cluster.server.pathname.replace(/\/$/, '')
  const exec: ExecCredentialSource | undefined =
    connection.auth.kind === 'exec' ? createExecCredentialSource(connection.auth.plugin, cluster, env) : undefined

  let agent: { agent: HttpAgent; certificate?: ClientCertificate } | undefined
  const agentFor = (certificate: ClientCertificate | undefined): HttpAgent => {
    if (agent && agent.certificate === certificate) return agent.agent
    agent?.agent.destroy()
    const created = secure
      ? new HttpsAgent({
          keepAlive: true,
          ca: cluster.certificateAuthority,
          cert: certificate?.cert,
          key: certificate?.key,
          rejectUnauthorized: !cluster.insecureSkipTlsVerify,
          servername: cluster.tlsServerName,
        })
      : new HttpAgent({ keepAlive: true })
    agent = { agent: created, certificate }
    return created
  }

  /** The Authorization header and client certificate for the next request; tokens and keys stay in here. */
  const credentials = async (signal: AbortSignal): Promise<{ authorization?: string; certificate?: ClientCertificate }> => {
    const auth = connection.auth
    const certificate = connection.clientCertificate
    switch (auth.kind) {
      case 'none':
        return { certificate }
      case 'token':
        return { authorization: `Bearer ${auth.token}`, certificate }
      case 'tokenFile':
        return { authorization: `Bearer ${(await readTokenFile(auth.path, signal)).trim()}`, certificate }
      case 'basic':
        return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`, certificate }
      case 'exec': {
        const credential = await exec!.get(signal)
        return {
          authorization: credential.token === undefined ? undefined : `Bearer ${credential.token}`,
          certificate: credential.clientCertificate ?? certificate,
        }
      }
    }
  }

  const send = async (request: ApiRequest): Promise<IncomingMessage> => {
    const { authorization, certificate } = await credentials(request.signal)
    const url = new URL(cluster.server.href)
    url.pathname = basePath + request.path
    url.search = new URLSearchParams(request.query).toString()
    const body = request.body === undefined ? undefined : JSON.stringify(request.body)
    const options: RequestOptions = {
      method: request.method,
      agent: agentFor(certificate),
      signal: request.signal,
      headers: {
        accept: 'application/json',
        'user-agent': 'killswitch',
        ...(authorization ? { authorization } : {}),
        ...(body === undefined ? {} : { 'content-type': request.contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) }),
      },
    }
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = (secure ? httpsRequest : httpRequest)(url, options, resolve)
      outgoing.on('error', reject)
      outgoing.end(body)
    })
  }

  /**
   * Sends a request until it gets an answer that is not a 429, and returns the 2xx response (its body unread), or
   * `null` for a 404 when the caller expects one.
   */
  const call = async (what: string, request: ApiRequest, options: { notFoundIsNull?: boolean } = {}): Promise<IncomingMessage | null> => {
    let reauthenticated = false
    // Counts transient failures only: 429s and the exec plugin's re-run have their own rules.
    let failures = 0
    for (;;) {
      let response: IncomingMessage
      try {
        response = await send(request)
      } catch (error) {
        if (request.signal.aborted) throw request.signal.reason
        // A reset (often a keep-alive socket the server closed as the request left) or a time-out: send it again.
        if (isTransientNetworkError(error) && (await backOff(++failures, request.signal))) continue
        throw unreachable(context, what, cluster.server, error)
      }
      const status = response.statusCode ?? 0
      if (status >= 200 && status < 300) return response
      const text = await readText(response, request.signal)
      if (status === 404 && options.notFoundIsNull) return null
      const retryAfter = parseRetryAfterMs(response.headers['retry-after'], Date.now())
      if (status === 429) {
        await delay(retryAfter ?? DEFAULT_RETRY_MS, request.signal)
        continue
      }
      if (isTransientStatus(status) && (await backOff(++failures, request.signal, Math.random, retryAfter))) continue
      if (status === 401 && exec && !reauthenticated) {
        reauthenticated = true
        exec.invalidate()
        continue
      }
      throw apiError(context, what, status, text)
    }
  }

  const json = async <T>(what: string, request: ApiRequest, options: { notFoundIsNull?: boolean } = {}): Promise<T | null> => {
    const response = await call(what, request, options)
    if (response === null) return null
    const text = await readText(response, request.signal)
    try {
      return JSON.parse(text) as T
    } catch {
      throw new Error(`Kubernetes could not ${what} (context ${context}): the API server answered ${response.statusCode} with a body that is not JSON`)
    }
  }

  const workloadPath = (ref: WorkloadRef, subresource = '') =>
    `/apis/apps/v1/namespaces/${encodeURIComponent(ref.namespace)}/${PLURAL[ref.kind]}/${encodeURIComponent(ref.name)}${subresource}`
  const podsPath = (namespace: string) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`
  const mergePatch = (path: string, body: unknown, signal: AbortSignal): ApiRequest => ({
    method: 'PATCH',
    path,
    body,
    contentType: 'application/merge-patch+json',
    signal,
  })

  return {
    context,
    async listWorkloads(namespace, kind, labelSelector, signal) {
      const list = await json<ListOf<WorkloadObject>>(`list ${PLURAL[kind]} in ${namespace} with selector ${labelSelector}`, {
        method: 'GET',
        path: `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/${PLURAL[kind]}`,
        query: { labelSelector },
        signal,
      })
      return (list?.items ?? []).map((item) => toWorkload(kind, item))
    },
    async readWorkload(ref, signal) {
      const object = await json<WorkloadObject>(`read ${describeRef(ref)}`, { method: 'GET', path: workloadPath(ref), signal }, { notFoundIsNull: true })
      return object && toWorkload(ref.kind, object)
    },
    async readScaleReplicas(ref, signal) {
      const scale = await json<{ spec?: { replicas?: number } }>(`read the scale of ${describeRef(ref)}`, {
        method: 'GET',
        path: workloadPath(ref, '/scale'),
        signal,
      })
      // ScaleSpec.replicas is `omitempty` on the wire, so zero replicas arrive as an absent field.
      return scale?.spec?.replicas ?? 0
    },
    async patchScaleReplicas(ref, replicas, signal) {
      await json(`scale ${describeRef(ref)} to ${replicas}`, mergePatch(workloadPath(ref, '/scale'), { spec: { replicas } }, signal))
    },
    async patchAnnotations(ref, annotations, signal) {
      await json(`annotate ${describeRef(ref)}`, mergePatch(workloadPath(ref), { metadata: { annotations } }, signal))
    },
    async listPods(namespace, signal) {
      const list = await json<ListOf<PodObject>>(`list pods in ${namespace}`, { method: 'GET', path: podsPath(namespace), signal })
      return { pods: (list?.items ?? []).map(toPodSummary), resourceVersion: list?.metadata?.resourceVersion ?? '' }
    },
    async deletePod(namespace, name, gracePeriodSeconds, signal) {
      await json(
        `delete pod ${name} in ${namespace}`,
        {
          method: 'DELETE',
          path: `${podsPath(namespace)}/${encodeURIComponent(name)}`,
          body: { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds },
          signal,
        },
        { notFoundIsNull: true },
      )
    },
    async watchPods(namespace, resourceVersion, onEvent, onEnd) {
      const stopped = new AbortController()
      const timeout = AbortSignal.timeout(WATCH_CLIENT_TIMEOUT_MS)
      const signal = AbortSignal.any([stopped.signal, timeout])
      const response = await call(`watch pods in ${namespace}`, {
        method: 'GET',
        path: podsPath(namespace),
        query: {
          watch: 'true',
          resourceVersion,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(WATCH_SERVER_TIMEOUT_SECONDS),
        },
        signal,
      })
      streamWatchEvents(response!, onEvent).then(
        () => onEnd(),
        (error: unknown) => onEnd(signal.aborted ? signal.reason : error),
      )
      return { stop: () => stopped.abort() }
    },
  }
}

/** Reads the newline-delimited `{"type":…,"object":…}` events of a watch until the server ends the response. */
async function streamWatchEvents(response: IncomingMessage, onEvent: (event: PodWatchEvent) => void): Promise<void> {
  response.setEncoding('utf8')
  let pending = ''
  const deliver = (line: string) => {
    if (line.trim() === '') return
    const event = JSON.parse(line) as { type: PodWatchEvent['type']; object?: PodObject }
    onEvent(event.type === 'ERROR' || event.type === 'BOOKMARK' ? { type: event.type } : { type: event.type, pod: toPodSummary(event.object ?? {}) })
  }
  for await (const chunk of response as AsyncIterable<string>) {
    pending += chunk
    let newline: number
    while ((newline = pending.indexOf('\n')) >= 0) {
      deliver(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
    }
  }
  deliver(pending)
}

function toWorkload(kind: WorkloadKind, object: WorkloadObject): Workload {
  return {
    namespace: object.metadata?.namespace ?? '',
    kind,
    name: object.metadata?.name ?? '',
    podSelector: labelSelectorToQuery(object.spec?.selector),
    annotations: object.metadata?.annotations ?? {},
    terminationGracePeriodSeconds: object.spec?.template?.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS,
    podManagementPolicy: kind === 'statefulset' ? (object.spec?.podManagementPolicy === 'Parallel' ? 'Parallel' : 'OrderedReady') : null,
    replicas: typeof object.spec?.replicas === 'number' ? object.spec.replicas : null,
  }
}

function toPodSummary(object: PodObject): PodSummary {
  return { name: object.metadata?.name ?? '', labels: object.metadata?.labels ?? {} }
}

async function readText(response: IncomingMessage, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = []
  try {
    for await (const chunk of response) chunks.push(chunk as Buffer)
  } catch (error) {
    if (signal.aborted) throw signal.reason
    throw error
  }
  return Buffer.concat(chunks).toString('utf8')
}

async function readTokenFile(path: string, signal: AbortSignal): Promise<string> {
  try {
    return await readFile(path, { encoding: 'utf8', signal })
  } catch (error) {
    if (signal.aborted) throw signal.reason
    throw new PrimitiveError(
      `cannot read the kubeconfig tokenFile ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      'fix users[].user.tokenFile in the kubeconfig',
      'KubeconfigInvalid',
    )
  }
}

function describeRef(ref: WorkloadRef): string {
  return `${ref.kind}/${ref.name} in ${ref.namespace}`
}

/** Turns a failed answer into an error naming the operation and the API server's reason; 401/403 get a next step. */
function apiError(context: string, what: string, status: number, body: string): Error {
  let parsed: StatusObject | undefined
  try {
    parsed = JSON.parse(body) as StatusObject
  } catch {
    parsed = undefined
  }
  const reason = parsed?.kind === 'Status' ? parsed.reason : undefined
  const detail = parsed?.kind === 'Status' && parsed.message ? parsed.message : `HTTP ${status}`
  const because = `${detail}${reason ? ` (${reason})` : ''}`
  if (status === 401 || status === 403) {
    return new PrimitiveError(
      `Kubernetes refused to ${what} (context ${context}): ${because}`,
      'grant the break-glass identity the RBAC rules in docs/primitives/kubernetes.md, or check credentials.kubernetes',
      status === 401 ? 'KubernetesUnauthorized' : 'KubernetesForbidden',
    )
  }
  return new KubernetesApiError(`Kubernetes could not ${what} (context ${context}): ${because}`, status, reason)
}

const TLS_ERROR = /CERT|SIGNATURE|TLS|SSL|ISSUER/

function unreachable(context: string, what: string, server: URL, error: unknown): PrimitiveError {
  const code = (error as NodeJS.ErrnoException).code ?? ''
  const tls = TLS_ERROR.test(code)
  return new PrimitiveError(
    `Kubernetes could not ${what} (context ${context}): ${server.origin} ${tls ? 'failed TLS verification' : 'is unreachable'}: ${(error as Error).message}`,
    tls
      ? "check the cluster's certificate-authority(-data) and tls-server-name in the kubeconfig"
      : 'check the cluster server in the kubeconfig and that this machine can reach it',
    tls ? 'KubernetesTlsFailed' : 'KubernetesUnreachable',
  )
}
