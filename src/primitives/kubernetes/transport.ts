/**
 * The wire under the Kubernetes client: one keep-alive Agent per context (rebuilt only when an exec plugin hands out
 * a new client certificate), through the cluster's proxy when there is one; the Authorization and Impersonate-*
 * headers and the client certificate of each request; and the retry rules. Wire formats: docs/primitives/kubernetes.md.
 *
 * Invariants: every request carries the caller's AbortSignal and rejects with its reason when it aborts; a 429 is
 * waited out (`Retry-After`, else 1 s) and retried until that signal aborts; a transient failure (5xx, connection
 * reset, time-out) is retried with jittered back-off (every request the client makes is safe to repeat); a 401 under
 * an exec plugin re-runs the plugin once; a credential that cannot be had (an exec plugin that fails, an unreadable
 * token file, an oidc refresh refused) fails the request with its own error, never as "unreachable"; any other
 * failure names the operation, the object, the context and the API server's reason, and never a credential. The
 * proxy agents and the oidc refresh are imported only when a kubeconfig needs them.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { readFile } from 'node:fs/promises'
import type { ConnectionOptions } from 'node:tls'
import { PrimitiveError } from '../../core/primitive.js'
import { registerSecret } from '../../core/secrets.js'
import { delay } from '../../core/wait.js'
import { execCredentialSourceFor, type ExecCredentialSource } from './exec-credential.js'
import type { ClientCertificate, Impersonation, KubernetesConnection } from './kubeconfig.js'
import type { IdTokenSource } from './oidc.js'
import { createProxyAgent, describeProxy, isSpeakableProxy, proxyFor, type ProxyChoice } from './proxy.js'
import { backOff, isTransientNetworkError, isTransientStatus, parseRetryAfterMs } from '../transient.js'

/** Wait after a 429 that names no Retry-After. */
const DEFAULT_RETRY_MS = 1000
/** How long a token file's contents are reused before it is read again (client-go's CachedFileTokenSource). */
const TOKEN_FILE_PERIOD_MS = 60_000
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
  const proxy = proxyFor(cluster.server, cluster.proxyUrl, env)
  if (proxy && !isSpeakableProxy(proxy.url)) {
    throw new PrimitiveError(
      `the proxy ${describeProxy(proxy)} for context ${context} has the scheme ${proxy.url.protocol.slice(0, -1)}, which is none of http, https, socks5, socks5h`,
      `fix ${proxy.source}, or name the API server in NO_PROXY`,
      'KubernetesProxyInvalid',
    )
  }
  const auth = connection.auth
  const exec: ExecCredentialSource | undefined = auth.kind === 'exec' ? execCredentialSourceFor(auth.plugin, cluster, env) : undefined
  const tokenFile = auth.kind === 'tokenFile' ? createTokenFileSource(auth.path, auth.fallbackToken) : undefined
  let oidc: Promise<IdTokenSource> | undefined
  const impersonation = impersonationHeaders(connection.impersonate)

  const tlsOptions = (certificate: ClientCertificate | undefined): ConnectionOptions => ({
    ca: cluster.certificateAuthority,
    cert: certificate?.cert,
    key: certificate?.key,
    rejectUnauthorized: !cluster.insecureSkipTlsVerify,
    servername: cluster.tlsServerName,
  })
  let agent: { agent: Promise<HttpAgent>; certificate?: ClientCertificate } | undefined
  const agentFor = (certificate: ClientCertificate | undefined): Promise<HttpAgent> => {
    if (agent && agent.certificate === certificate) return agent.agent
    void agent?.agent.then((old) => old.destroy())
    // Go's transport uses the cluster's TLS settings for the hop to an https proxy too.
    const created = proxy
      ? createProxyAgent(proxy.url, secure, tlsOptions(certificate))
      : Promise.resolve(secure ? new HttpsAgent({ keepAlive: true, ...tlsOptions(certificate) }) : new HttpAgent({ keepAlive: true }))
    agent = { agent: created, certificate }
    return created
  }

  /** The Authorization header and client certificate for the next request; tokens and keys stay in here. */
  const credentials = async (signal: AbortSignal): Promise<{ authorization?: string; certificate?: ClientCertificate }> => {
    const found = await credentialsOnce(signal)
    // Whatever text a failure produces later (a library echoing a header), these values are redacted from it.
    registerSecret(found.authorization?.replace(/^(Bearer|Basic) /, ''))
    if (auth.kind === 'basic') registerSecret(auth.password)
    registerSecret(found.certificate?.key.toString('utf8'))
    return found
  }
  const credentialsOnce = async (signal: AbortSignal): Promise<{ authorization?: string; certificate?: ClientCertificate }> => {
    const certificate = connection.clientCertificate
    switch (auth.kind) {
      case 'none':
        return { certificate }
      case 'token':
        return { authorization: `Bearer ${auth.token}`, certificate }
      case 'tokenFile':
        return { authorization: `Bearer ${await tokenFile!.get(signal)}`, certificate }
      case 'basic':
        return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`, certificate }
      case 'exec': {
        const credential = await exec!.get(signal)
        return {
          authorization: credential.token === undefined ? undefined : `Bearer ${credential.token}`,
          certificate: credential.clientCertificate ?? certificate,
        }
      }
      case 'oidc': {
        oidc ??= import('./oidc.js').then(({ oidcTokenSourceFor }) => oidcTokenSourceFor(auth.provider, env))
        return { authorization: `Bearer ${await (await oidc).get(signal)}`, certificate }
      }
    }
  }

  /** One request on the wire; rejects with the socket's failure, or the proxy's refusal. */
  const send = async (request: ApiRequest, authorization: string | undefined, certificate: ClientCertificate | undefined): Promise<IncomingMessage> => {
    const url = new URL(cluster.server.href)
    url.pathname = basePath + request.path
    url.search = new URLSearchParams(request.query).toString()
    const body = request.body === undefined ? undefined : JSON.stringify(request.body)
    const headers: OutgoingHttpHeaders = {
      accept: 'application/json',
      'user-agent': 'killswitch',
      ...impersonation,
      ...(authorization ? { authorization } : {}),
      ...(body === undefined ? {} : { 'content-type': request.contentType ?? 'application/json', 'content-length': Buffer.byteLength(body) }),
    }
    // A proxy agent takes the API server's TLS settings from the request (its own are for the proxy).
    const options: RequestOptions = { method: request.method, agent: await agentFor(certificate), signal: request.signal, headers, ...(secure ? tlsOptions(certificate) : {}) }
    return await new Promise<IncomingMessage>((resolve, reject) => {
      const outgoing = (secure ? httpsRequest : httpRequest)(url, options, resolve)
      outgoing.on('error', reject)
      // https-proxy-agent replays a refused CONNECT's answer as if the API server had sent it: stop that here.
      outgoing.once('proxyConnect', (answer: { statusCode?: number; statusText?: string }) => {
        if (answer.statusCode === undefined || answer.statusCode === 200) return
        const error = new ProxyRefusedError(`the proxy answered CONNECT with ${answer.statusCode}${answer.statusText ? ` ${answer.statusText}` : ''}`)
        reject(error)
        outgoing.destroy(error)
      })
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
      // Outside the try below: a credential that cannot be had is a failure of its own, not the server's.
      const { authorization, certificate } = await credentials(request.signal)
      let response: IncomingMessage
      try {
        response = await send(request, authorization, certificate)
      } catch (error) {
        if (request.signal.aborted) throw request.signal.reason
        // A reset (often a keep-alive socket the server closed as the request left) or a time-out: send it again.
        if (isTransientNetworkError(error) && (await backOff(++failures, request.signal))) continue
        throw unreachable(context, what, cluster.server, proxy, error)
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
      throw apiError(context, what, status, text, connection.credentialsWithheld === true)
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

/** A refused CONNECT (407, 403, 502 from the proxy): the API server was never reached. */
class ProxyRefusedError extends Error {
  override name = 'ProxyRefusedError'
}

/**
 * client-go's CachedFileTokenSource: the file is read again once a minute; when a read fails, the last token read
 * serves, else the user's `token` (when it set both), else the request fails.
 */
function createTokenFileSource(path: string, fallbackToken: string | undefined, now: () => number = Date.now): { get(signal: AbortSignal): Promise<string> } {
  let cached: { token: string; readAt: number } | undefined
  return {
    async get(signal) {
      if (cached && now() - cached.readAt < TOKEN_FILE_PERIOD_MS) return cached.token
      try {
        cached = { token: (await readFile(path, { encoding: 'utf8', signal })).trim(), readAt: now() }
        return cached.token
      } catch (error) {
        if (signal.aborted) throw signal.reason
        if (cached) return cached.token
        if (fallbackToken !== undefined) return fallbackToken
        throw new PrimitiveError(
          `cannot read the kubeconfig tokenFile ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
          'fix users[].user.tokenFile in the kubeconfig',
          'KubeconfigInvalid',
        )
      }
    },
  }
}

/**
 * client-go's impersonatingRoundTripper: Impersonate-User, Impersonate-Uid, one Impersonate-Group per group, and
 * Impersonate-Extra-<key> per value, the key percent-encoded as client-go's headerKeyEscape does it. Values go out
 * as their UTF-8 bytes, as Go sends them (node writes a header string as Latin-1).
 */
function impersonationHeaders(impersonate: Impersonation | undefined): OutgoingHttpHeaders {
  if (!impersonate) return {}
  const bytes = (value: string) => Buffer.from(value, 'utf8').toString('latin1')
  const headers: OutgoingHttpHeaders = { 'Impersonate-User': bytes(impersonate.user) }
  if (impersonate.uid !== undefined) headers['Impersonate-Uid'] = bytes(impersonate.uid)
  if (impersonate.groups.length > 0) headers['Impersonate-Group'] = impersonate.groups.map(bytes)
  for (const [key, values] of Object.entries(impersonate.extra)) {
    if (values.length > 0) headers[`Impersonate-Extra-${headerKeyEscape(key)}`] = values.map(bytes)
  }
  return headers
}

/** Each byte of the UTF-8 key that is an HTTP token character (RFC 7230) other than `%` stays; the others become %XX. */
export function headerKeyEscape(key: string): string {
  let escaped = ''
  for (const byte of Buffer.from(key, 'utf8')) {
    const char = String.fromCharCode(byte)
    escaped += byte < 0x7f && /^[!#$&'*+\-.^_`|~0-9A-Za-z]$/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return escaped
}

/** Turns a failed answer into an error naming the operation and the API server's reason; 401/403 get a next step. */
function apiError(context: string, what: string, status: number, body: string, credentialsWithheld: boolean): Error {
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
      credentialsWithheld
        ? "the server is http://, and kubectl and killswitch send a kubeconfig's credentials only over https: use the server's https:// address"
        : 'grant the break-glass identity the RBAC rules in docs/primitives/kubernetes.md, or check credentials.kubernetes',
      status === 401 ? 'KubernetesUnauthorized' : 'KubernetesForbidden',
    )
  }
  return new KubernetesApiError(`Kubernetes could not ${what} (context ${context}): ${because}`, status, reason)
}

const TLS_ERROR = /CERT|SIGNATURE|TLS|SSL|ISSUER/

function unreachable(context: string, what: string, server: URL, proxy: ProxyChoice | undefined, error: unknown): PrimitiveError {
  const code = (error as NodeJS.ErrnoException).code ?? ''
  const tls = TLS_ERROR.test(code)
  const via = proxy ? ` through the proxy ${describeProxy(proxy)}` : ''
  return new PrimitiveError(
    `Kubernetes could not ${what} (context ${context}): ${server.origin}${via} ${tls ? 'failed TLS verification' : 'is unreachable'}: ${(error as Error).message}`,
    tls
      ? "check the cluster's certificate-authority(-data) and tls-server-name in the kubeconfig"
      : proxy
        ? `check the proxy (${proxy.source === 'proxy-url' ? 'the cluster proxy-url in the kubeconfig' : `${proxy.source}, or NO_PROXY`}) and that it can reach the cluster server`
        : 'check the cluster server in the kubeconfig and that this machine can reach it',
    tls ? 'KubernetesTlsFailed' : 'KubernetesUnreachable',
  )
}
