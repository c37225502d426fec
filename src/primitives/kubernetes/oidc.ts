/**
 * The kubeconfig `oidc` auth-provider, run as client-go's plugin/pkg/client/auth/oidc runs it: the `id-token` is the
 * bearer token while its JWT `exp` is more than 10 s away; after that the `refresh-token` is traded for a new one at
 * the issuer's token endpoint (found at `<idp-issuer-url>/.well-known/openid-configuration`, `grant_type=
 * refresh_token`, the client authenticated the way golang.org/x/oauth2 auto-detects: HTTP Basic first, then
 * `client_id`/`client_secret` in the form), and the new id-token (and refresh-token, if the issuer rotated it) is
 * written back to the kubeconfig file that defines the user, as kubectl writes it.
 *
 * Why write back: issuers that rotate refresh tokens (Dex, Keycloak) invalidate the old one once used, so a refresh
 * kept in memory would leave the operator's kubeconfig, and kubectl, with a dead token. Unlike kubectl, a write that
 * fails (a break-glass kubeconfig mounted read-only) does not fail the halt: the new token serves this invocation.
 *
 * Invariants: one source per kubeconfig user and issuer for the whole process, and one refresh at a time; the
 * issuer is reached with its own CA (`idp-certificate-authority(-data)`) and the environment's proxy rules, as
 * client-go reaches it; no token, secret or issuer answer body ever goes into an error, only status codes and the
 * OAuth `error` code and description.
 */
import { open, readFile, rm, writeFile } from 'node:fs/promises'
import type { Agent, IncomingMessage, RequestOptions } from 'node:http'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isMap, isSeq, parseDocument } from 'yaml'
import { PrimitiveError } from '../../core/primitive.js'
import { untilAborted } from '../../core/wait.js'
import type { OidcProviderConfig } from './kubeconfig.js'
import { createProxyAgent, isSpeakableProxy, proxyFromEnvironment } from './proxy.js'

export interface IdTokenSource {
  /** A valid id-token: the kubeconfig's, or a refreshed one. */
  get(signal: AbortSignal): Promise<string>
}

/** client-go's expiryDelta: a token this close to its `exp` counts as expired (clock skew). */
const EXPIRY_DELTA_MS = 10_000
/** How long one refresh (discovery and token request) may take, whoever is waiting for it. */
const REFRESH_TIMEOUT_MS = 30_000
const MAX_BODY_BYTES = 1024 * 1024

const sources = new Map<string, IdTokenSource>()

/** The process-wide source for this user's provider, as client-go caches one provider per issuer and client. */
export function oidcTokenSourceFor(provider: OidcProviderConfig, env: NodeJS.ProcessEnv): IdTokenSource {
  const key = JSON.stringify([provider.file, provider.user, provider.issuerUrl, provider.clientId])
  let source = sources.get(key)
  if (!source) {
    source = createOidcTokenSource(provider, env)
    sources.set(key, source)
  }
  return source
}

export function createOidcTokenSource(provider: OidcProviderConfig, env: NodeJS.ProcessEnv, now: () => number = Date.now): IdTokenSource {
  let idToken = provider.idToken
  let refreshToken = provider.refreshToken
  let running: Promise<string> | undefined

  const refresh = async (): Promise<string> => {
    if (!refreshToken) throw cannotRefresh(provider, idToken)
    const signal = AbortSignal.timeout(REFRESH_TIMEOUT_MS)
    const tokenUrl = await tokenEndpoint(provider, env, signal)
    const tokens = await redeemRefreshToken(provider, tokenUrl, refreshToken, env, signal)
    const rotated = tokens.refreshToken !== undefined && tokens.refreshToken !== refreshToken
    idToken = tokens.idToken
    if (rotated) refreshToken = tokens.refreshToken
    await writeBack(provider, { 'id-token': tokens.idToken, ...(rotated ? { 'refresh-token': tokens.refreshToken! } : {}) }).catch(() => undefined)
    return tokens.idToken
  }

  return {
    async get(signal) {
      if (idToken !== undefined && expiresAt(provider, idToken) - EXPIRY_DELTA_MS > now()) return idToken
      running ??= refresh().finally(() => {
        running = undefined
      })
      return await untilAborted(running, signal)
    },
  }
}

/** The JWT's `exp` in milliseconds; no `exp` counts as long expired, as in client-go. */
function expiresAt(provider: OidcProviderConfig, jwt: string): number {
  let claims: { exp?: unknown }
  try {
    claims = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }
  } catch {
    throw new PrimitiveError(
      `the oidc id-token of user ${provider.user} (${provider.file}) has claims that are not JSON`,
      'log in again with your OIDC login tool, or fix users[].user.auth-provider.config.id-token',
      'KubeconfigInvalid',
    )
  }
  return typeof claims.exp === 'number' ? Math.trunc(claims.exp) * 1000 : 0
}

function cannotRefresh(provider: OidcProviderConfig, idToken: string | undefined): PrimitiveError {
  const state =
    idToken === undefined
      ? 'has no id-token'
      : expiresAt(provider, idToken) === 0
        ? 'has an id-token without an expiry (exp)'
        : `has an id-token that expired at ${new Date(expiresAt(provider, idToken)).toISOString()}`
  return new PrimitiveError(
    `kubeconfig user ${provider.user} (${provider.file}) ${state}, and no refresh-token to renew it`,
    'log in again with the OIDC login tool that wrote this kubeconfig, or switch the user to an exec plugin that renews tokens unattended (kubelogin: kubectl oidc-login get-token)',
    'KubernetesOidcTokenExpired',
  )
}

function refreshFailed(provider: OidcProviderConfig, what: string): PrimitiveError {
  return new PrimitiveError(
    `could not refresh the oidc id-token of kubeconfig user ${provider.user} at ${provider.issuerUrl}: ${what}`,
    'check idp-issuer-url, client-id and client-secret in the kubeconfig, or log in again to get a new refresh-token',
    'KubernetesOidcRefreshFailed',
  )
}

async function tokenEndpoint(provider: OidcProviderConfig, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<URL> {
  const discovery = new URL(`${provider.issuerUrl.replace(/\/$/, '')}/.well-known/openid-configuration`)
  const answer = await send(provider, discovery, { method: 'GET', headers: { accept: 'application/json' } }, undefined, env, signal)
  if (answer.status !== 200) throw refreshFailed(provider, `${discovery.href} answered ${answer.status}`)
  let endpoint: unknown
  try {
    endpoint = (JSON.parse(answer.body) as { token_endpoint?: unknown }).token_endpoint
  } catch {
    throw refreshFailed(provider, `${discovery.href} answered with something that is not JSON`)
  }
  if (typeof endpoint !== 'string' || endpoint === '') throw refreshFailed(provider, `${discovery.href} names no token_endpoint`)
  try {
    return new URL(endpoint)
  } catch {
    throw refreshFailed(provider, `the token_endpoint ${endpoint} is not a URL`)
  }
}

/** golang.org/x/oauth2's refresh with AuthStyleAutoDetect: client credentials in a Basic header, then in the form. */
async function redeemRefreshToken(
  provider: OidcProviderConfig,
  tokenUrl: URL,
  refreshToken: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<{ idToken: string; refreshToken?: string }> {
  const form = { grant_type: 'refresh_token', refresh_token: refreshToken }
  const basic = Buffer.from(`${goQueryEscape(provider.clientId)}:${goQueryEscape(provider.clientSecret ?? '')}`).toString('base64')
  const inHeader = await tryRedeem(provider, tokenUrl, new URLSearchParams(form), { authorization: `Basic ${basic}` }, env, signal)
  if (!(inHeader instanceof PrimitiveError)) return inHeader
  const inForm = new URLSearchParams({ ...form, client_id: provider.clientId, ...(provider.clientSecret ? { client_secret: provider.clientSecret } : {}) })
  const second = await tryRedeem(provider, tokenUrl, inForm, {}, env, signal)
  if (second instanceof PrimitiveError) throw second
  return second
}

async function tryRedeem(
  provider: OidcProviderConfig,
  tokenUrl: URL,
  form: URLSearchParams,
  headers: Record<string, string>,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<{ idToken: string; refreshToken?: string } | PrimitiveError> {
  const body = form.toString()
  const answer = await send(
    provider,
    tokenUrl,
    { method: 'POST', headers: { ...headers, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
    body,
    env,
    signal,
  )
  const fields = parseTokenResponse(answer.contentType, answer.body)
  if (answer.status < 200 || answer.status > 299) {
    const code = typeof fields?.error === 'string' ? ` ${fields.error}` : ''
    const description = typeof fields?.error_description === 'string' ? `: ${fields.error_description}` : ''
    return refreshFailed(provider, `the token endpoint answered ${answer.status}${code}${description}`)
  }
  if (!fields) return refreshFailed(provider, 'the token endpoint answered with something that is neither JSON nor a form')
  if (typeof fields.access_token !== 'string' || fields.access_token === '') return refreshFailed(provider, 'the token response has no access_token')
  if (typeof fields.id_token !== 'string' || fields.id_token === '') {
    // Okta and others leave id_token out of refresh responses (kubernetes/kubernetes#36847).
    return refreshFailed(provider, 'the token response has no id_token: the scope "openid" was not granted at login, or the issuer does not renew id-tokens on refresh')
  }
  if (fields.id_token.split('.').length !== 3) return refreshFailed(provider, 'the id_token it returned is not a JWT')
  return { idToken: fields.id_token, ...(typeof fields.refresh_token === 'string' && fields.refresh_token !== '' ? { refreshToken: fields.refresh_token } : {}) }
}

/** oauth2's rule: a form body for application/x-www-form-urlencoded or text/plain, else JSON. */
function parseTokenResponse(contentType: string, body: string): Record<string, unknown> | undefined {
  const type = contentType.split(';')[0]!.trim().toLowerCase()
  if (type === 'application/x-www-form-urlencoded' || type === 'text/plain') return Object.fromEntries(new URLSearchParams(body))
  try {
    const parsed = JSON.parse(body) as unknown
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** Go's url.QueryEscape, which oauth2 applies to the client id and secret before Basic encoding (RFC 6749 §2.3.1). */
function goQueryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+')
}

interface Answer {
  status: number
  contentType: string
  body: string
}

async function send(
  provider: OidcProviderConfig,
  url: URL,
  options: RequestOptions,
  body: string | undefined,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<Answer> {
  const secure = url.protocol === 'https:'
  const tls = secure && provider.certificateAuthority ? { ca: provider.certificateAuthority } : {}
  const proxy = proxyFromEnvironment(url, env)
  let agent: Agent | undefined
  if (proxy && isSpeakableProxy(proxy.url)) agent = await createProxyAgent(proxy.url, secure, tls)
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const outgoing = (secure ? httpsRequest : httpRequest)(url, { ...options, ...tls, ...(agent ? { agent } : {}), signal }, (response: IncomingMessage) => {
        const chunks: Buffer[] = []
        let size = 0
        response.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_BODY_BYTES) response.destroy(new Error(`the answer is larger than ${MAX_BODY_BYTES} bytes`))
          else chunks.push(chunk)
        })
        response.once('error', reject)
        response.once('end', () =>
          resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
        )
      })
      outgoing.once('error', reject)
      outgoing.end(body)
    })
  } catch (error) {
    if (error instanceof PrimitiveError) throw error
    const reason = signal.aborted ? `no answer within ${REFRESH_TIMEOUT_MS / 1000} s` : ((error as NodeJS.ErrnoException).code ?? (error as Error).message)
    throw refreshFailed(provider, `${url.origin} could not be reached: ${reason}`)
  } finally {
    agent?.destroy()
  }
}

/**
 * Writes the refreshed tokens into the user's auth-provider config, in place (through a symlink, as kubectl writes)
 * and keeping the rest of the file's content and comments, under kubectl's lock file (`<file>.lock`, created
 * exclusively, as clientcmd's ModifyConfig does). Lines are never folded: a folded base64 value would no longer
 * decode in kubectl.
 */
async function writeBack(provider: OidcProviderConfig, tokens: Record<string, string>): Promise<void> {
  const lock = await open(`${provider.file}.lock`, 'wx')
  try {
    const document = parseDocument(await readFile(provider.file, 'utf8'), { version: '1.1' })
    const users = document.get('users')
    if (!isSeq(users)) return
    const index = users.items.findIndex((item) => isMap(item) && item.get('name') === provider.user)
    if (index < 0) return
    for (const [key, value] of Object.entries(tokens)) document.setIn(['users', index, 'user', 'auth-provider', 'config', key], value)
    await writeFile(provider.file, document.toString({ lineWidth: 0, indentSeq: false, flowCollectionPadding: false }))
  } finally {
    await lock.close()
    await rm(`${provider.file}.lock`, { force: true })
  }
}
