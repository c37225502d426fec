/**
 * The oidc auth-provider against a local issuer (node:http): the kubeconfig's id-token while it is valid, a refresh
 * through the discovery document's token_endpoint once it expires (client authentication as golang.org/x/oauth2
 * auto-detects it), the new tokens written back into the kubeconfig, and errors that say what to do without ever
 * showing a token.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { loadKubeconfig, type OidcProviderConfig } from '../../../src/primitives/kubernetes/kubeconfig.js'
import { createOidcTokenSource } from '../../../src/primitives/kubernetes/oidc.js'

const NOW = Date.parse('2030-01-01T00:00:00Z')
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const jwt = (claims: Record<string, unknown>) => `${b64url({ alg: 'RS256' })}.${b64url({ sub: 'jane', ...claims })}.signature`
const validToken = jwt({ exp: NOW / 1000 + 3600 })
const expiredToken = jwt({ exp: NOW / 1000 - 60 })
const refreshedToken = jwt({ exp: NOW / 1000 + 7200, refreshed: true })

interface TokenRequest {
  authorization?: string
  form: Record<string, string>
}

type IssuerMode = 'basic' | 'form-only' | 'rotate' | 'no-id-token' | 'invalid-grant' | 'form-encoded'

describe('the oidc auth-provider', () => {
  let dir: string
  let issuer: Server
  let issuerUrl: string
  let mode: IssuerMode
  let discoveries: number
  let tokenRequests: TokenRequest[]
  const signal = new AbortController().signal

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-oidc-'))
    issuer = createServer(async (request, response) => {
      const chunks: Buffer[] = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      const json = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      if (request.url === '/realms/ops/.well-known/openid-configuration') {
        discoveries++
        return json(200, { issuer: `${issuerUrl}`, token_endpoint: `${issuerUrl}/protocol/token` })
      }
      if (request.url !== '/realms/ops/protocol/token' || request.method !== 'POST') return json(404, {})
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()))
      tokenRequests.push({ authorization: request.headers.authorization, form })
      if (mode === 'invalid-grant') return json(400, { error: 'invalid_grant', error_description: 'Token is not active' })
      if (mode === 'form-only' && request.headers.authorization) return json(401, { error: 'invalid_client' })
      if (mode === 'no-id-token') return json(200, { access_token: 'at', token_type: 'Bearer' })
      if (mode === 'form-encoded') {
        response.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
        return response.end(new URLSearchParams({ access_token: 'at', id_token: refreshedToken }).toString())
      }
      json(200, { access_token: 'at', token_type: 'Bearer', id_token: refreshedToken, ...(mode === 'rotate' ? { refresh_token: 'refresh-2' } : {}) })
    })
    await new Promise<void>((resolve) => issuer.listen(0, '127.0.0.1', resolve))
    issuerUrl = `http://127.0.0.1:${(issuer.address() as AddressInfo).port}/realms/ops`
  })
  beforeEach(() => {
    mode = 'basic'
    discoveries = 0
    tokenRequests = []
  })
  afterAll(async () => {
    issuer.closeAllConnections()
    await new Promise<void>((resolve) => issuer.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  /** A kubeconfig whose user is the oidc provider with `config`; returns its path. */
  const kubeconfig = async (config: Record<string, string>): Promise<string> => {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}`)
    const lines = Object.entries(config).map(([key, value]) => `        ${key}: '${value}'`)
    await writeFile(
      path,
      [
        '# the break-glass kubeconfig: keep this comment',
        'clusters:',
        '- name: prod',
        "  cluster: {server: 'https://kube.example:6443'}",
        'users:',
        '- name: someone-else',
        '  user: {token: unrelated}',
        '- name: oncall',
        '  user:',
        '    auth-provider:',
        '      name: oidc',
        '      config:',
        ...lines,
        'contexts:',
        '- name: prod',
        '  context: {cluster: prod, user: oncall}',
        'current-context: prod',
        '',
      ].join('\n'),
    )
    return path
  }
  const providerOf = (path: string): OidcProviderConfig => {
    const auth = loadKubeconfig({ kubeconfig: path, env: {} }).auth
    if (auth.kind !== 'oidc') throw new Error(`expected oidc, got ${auth.kind}`)
    return auth.provider
  }
  const settings = (extra: Record<string, string>) => ({ 'idp-issuer-url': issuerUrl, 'client-id': 'kubectl', 'client-secret': 's3cr3t/+', ...extra })

  it('uses the id-token while its exp is more than 10 s away, without asking the issuer', async () => {
    const provider = providerOf(await kubeconfig(settings({ 'id-token': validToken, 'refresh-token': 'refresh-1' })))
    expect(provider).toMatchObject({ user: 'oncall', issuerUrl, clientId: 'kubectl', idToken: validToken, refreshToken: 'refresh-1' })

    expect(await createOidcTokenSource(provider, {}, () => NOW).get(signal)).toBe(validToken)
    expect(discoveries).toBe(0)
  })

  it('refreshes an expired id-token at the discovered token endpoint, once for concurrent requests, and writes it back', async () => {
    mode = 'rotate'
    const path = await kubeconfig(settings({ 'id-token': expiredToken, 'refresh-token': 'refresh-1', 'extra-scopes': 'groups' }))
    const source = createOidcTokenSource(providerOf(path), {}, () => NOW)

    const tokens = await Promise.all([source.get(signal), source.get(signal), source.get(signal)])
    expect(tokens).toEqual([refreshedToken, refreshedToken, refreshedToken])
    expect(await source.get(signal)).toBe(refreshedToken)
    expect(discoveries).toBe(1)
    // oauth2 sends the client credentials URL-escaped in a Basic header first (RFC 6749 §2.3.1).
    expect(tokenRequests).toEqual([
      { authorization: `Basic ${Buffer.from('kubectl:s3cr3t%2F%2B').toString('base64')}`, form: { grant_type: 'refresh_token', refresh_token: 'refresh-1' } },
    ])

    const written = await readFile(path, 'utf8')
    expect(written).toContain('# the break-glass kubeconfig: keep this comment')
    expect(written).toContain("- name: someone-else\n  user: {token: unrelated}\n")
    expect(written).toContain("  cluster: {server: 'https://kube.example:6443'}\n")
    expect(written).not.toContain(expiredToken)
    expect(providerOf(path)).toMatchObject({ idToken: refreshedToken, refreshToken: 'refresh-2' })
    expect(loadKubeconfig({ kubeconfig: path, context: 'prod', env: {} }).cluster.server.href).toBe('https://kube.example:6443/')
  })

  it('sends the client credentials in the form when the issuer refuses them in a header, as oauth2 auto-detects', async () => {
    mode = 'form-only'
    const source = createOidcTokenSource(providerOf(await kubeconfig(settings({ 'id-token': expiredToken, 'refresh-token': 'refresh-1' }))), {}, () => NOW)

    expect(await source.get(signal)).toBe(refreshedToken)
    expect(tokenRequests.map((request) => request.form)).toEqual([
      { grant_type: 'refresh_token', refresh_token: 'refresh-1' },
      { grant_type: 'refresh_token', refresh_token: 'refresh-1', client_id: 'kubectl', client_secret: 's3cr3t/+' },
    ])
  })

  it('reads a form-encoded token response, and refreshes with no id-token at all', async () => {
    mode = 'form-encoded'
    const source = createOidcTokenSource(providerOf(await kubeconfig(settings({ 'refresh-token': 'refresh-1' }))), {}, () => NOW)
    expect(await source.get(signal)).toBe(refreshedToken)
  })

  it('keeps the refreshed token for this invocation when the kubeconfig cannot be written (kubectl holds its lock)', async () => {
    const path = await kubeconfig(settings({ 'id-token': expiredToken, 'refresh-token': 'refresh-1' }))
    await writeFile(`${path}.lock`, '')
    const before = await readFile(path, 'utf8')

    expect(await createOidcTokenSource(providerOf(path), {}, () => NOW).get(signal)).toBe(refreshedToken)
    expect(await readFile(path, 'utf8')).toBe(before)
  })

  it('refuses an expired id-token without a refresh-token, saying when it expired and what to do', async () => {
    const source = createOidcTokenSource(providerOf(await kubeconfig(settings({ 'id-token': expiredToken }))), {}, () => NOW)

    const error = await source.get(signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PrimitiveError)
    expect(error).toMatchObject({ code: 'KubernetesOidcTokenExpired' })
    expect((error as Error).message).toContain('has an id-token that expired at 2029-12-31T23:59:00.000Z, and no refresh-token to renew it')
    expect((error as PrimitiveError).hint).toContain('kubelogin')
    expect((error as Error).message).not.toContain(expiredToken)
    expect(discoveries).toBe(0)
  })

  it("reports the issuer's refusal by its OAuth error, never with a token", async () => {
    mode = 'invalid-grant'
    const source = createOidcTokenSource(providerOf(await kubeconfig(settings({ 'id-token': expiredToken, 'refresh-token': 'refresh-1' }))), {}, () => NOW)

    const error = await source.get(signal).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'KubernetesOidcRefreshFailed' })
    expect((error as Error).message).toBe(`could not refresh the oidc id-token of kubeconfig user oncall at ${issuerUrl}: the token endpoint answered 400 invalid_grant: Token is not active`)
    expect((error as Error).message).not.toMatch(/refresh-1|s3cr3t/)
  })

  it('refuses a refresh answer without an id_token, as kubectl does', async () => {
    mode = 'no-id-token'
    const source = createOidcTokenSource(providerOf(await kubeconfig(settings({ 'id-token': expiredToken, 'refresh-token': 'refresh-1' }))), {}, () => NOW)
    await expect(source.get(signal)).rejects.toMatchObject({ code: 'KubernetesOidcRefreshFailed', message: expect.stringContaining('has no id_token') })
  })

  it('refuses what client-go refuses: no issuer, no client id, an id-token that is not a JWT, a setting it does not have', async () => {
    const refused = async (config: Record<string, string>) => {
      try {
        loadKubeconfig({ kubeconfig: await kubeconfig(config), env: {} })
      } catch (error) {
        return error as PrimitiveError
      }
      throw new Error('expected the kubeconfig to be refused')
    }
    expect((await refused({ 'client-id': 'kubectl', 'id-token': validToken })).message).toContain('has no idp-issuer-url')
    expect((await refused({ 'idp-issuer-url': issuerUrl, 'id-token': validToken })).message).toContain('has no client-id')
    expect((await refused(settings({ 'id-token': 'opaque-token' }))).message).toContain('id-token is not a JWT')
    const unknown = await refused(settings({ 'id-token': validToken, 'idp-issuer': issuerUrl }))
    expect(unknown).toMatchObject({ code: 'KubeconfigInvalid' })
    expect(unknown.message).toContain('auth-provider.config.idp-issuer: not a setting of the oidc auth-provider')
  })
})
