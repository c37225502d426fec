/**
 * The wire under the Kubernetes client: one keep-alive Agent per context (rebuilt only when an exec plugin hands out
 * a new client certificate), the Authorization header and client certificate of each request, and the retry rules.
 * Wire formats: docs/primitives/kubernetes.md.
 *
 * Invariants: every request carries the caller's AbortSignal and rejects with its reason when it aborts; a 429 is
 * waited out (`Retry-After`, else 1 s) and retried until that signal aborts; a transient failure (5xx, connection
 * reset, time-out) is retried with jittered back-off (every request the client makes is safe to repeat); a 401 under
 * an exec plugin re-runs the plugin once; any other failure names the operation, the object, the context and the API
 * server's reason, and never a credential.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { readFile } from 'node:fs/promises'
import { PrimitiveError } from '../../core/primitive.js'
import { delay } from '../../core/wait.js'
import { createExecCredentialSource, type ExecCredentialSource } from './exec-credential.js'
import type { ClientCertificate, KubernetesConnection } from './kubeconfig.js'
import { backOff, isTransientNetworkError, isTransientStatus, parseRetryAfterMs } from '../transient.js'

/** Wait after a 429 that names no Retry-After. */
const DEFAULT_RETRY_MS = 1000

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

export interface ApiRequest {
  method: 'GET' | 'PATCH' | 'DELETE' | 'POST'
  path: string
  query?: Record<string, string>
  body?: unknown
  contentType?: string
  signal: AbortSignal
}

interface StatusObject {
  kind?: string
  message?: string
  reason?: string
}

export interface Transport {
  readonly context: string
  /**
   * Sends a request until it gets an answer that is not a 429, and returns the 2xx response (its body unread), or
   * `null` for a 404 when the caller expects one.
   */
  call(what: string, request: ApiRequest, options?: { notFoundIsNull?: boolean }): Promise<IncomingMessage | null>
  /** `call`, with the body parsed as JSON. */
  json<T>(what: string, request: ApiRequest, options?: { notFoundIsNull?: boolean }): Promise<T | null>
}

export function createTransport(connection: KubernetesConnection, env: NodeJS.ProcessEnv): Transport {
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

  return { context, call, json }
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
