/**
 * Proxies, as kubectl applies them: the rules of Go's http.ProxyFromEnvironment (golang.org/x/net/http/httpproxy)
 * over the configured environment, a cluster's proxy-url over everything, and requests that really travel through
 * a forward proxy and a SOCKS5 proxy (written in ./proxies.ts) to a local API server. The CONNECT tunnel to a TLS
 * API server is in http-client.tls.test.ts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { connectWithKubeconfig } from '../../../src/primitives/kubernetes/http-client.js'
import { proxyFor, proxyFromEnvironment, useProxy } from '../../../src/primitives/kubernetes/proxy.js'
import { startHttpProxy, startSocksProxy, type TestProxy } from './proxies.js'

const ref = { namespace: 'agents', kind: 'deployment', name: 'refund-api' } as const
const signal = new AbortController().signal

describe("the environment's proxy, by Go's rules", () => {
  const proxied = (server: string, env: NodeJS.ProcessEnv) => proxyFromEnvironment(new URL(server), env)?.url.href

  it('takes HTTPS_PROXY for an https server and HTTP_PROXY for an http one, uppercase first, lowercase if empty', () => {
    const env = { HTTPS_PROXY: 'http://secure.proxy:3128', HTTP_PROXY: 'http://plain.proxy:3128' }
    expect(proxied('https://kube.example', env)).toBe('http://secure.proxy:3128/')
    expect(proxied('http://kube.example', env)).toBe('http://plain.proxy:3128/')
    expect(proxied('https://kube.example', { HTTPS_PROXY: '', https_proxy: 'http://lower:1' })).toBe('http://lower:1/')
    expect(proxied('https://kube.example', { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:1' })).toBe('http://upper:1/')
    expect(proxied('https://kube.example', { HTTP_PROXY: 'http://plain.proxy:3128' })).toBeUndefined()
  })

  it('reads a value without a scheme as http://value, as Go does, and keeps socks5 and https proxies', () => {
    expect(proxied('https://kube.example', { HTTPS_PROXY: 'proxy.corp:3128' })).toBe('http://proxy.corp:3128/')
    expect(proxied('https://kube.example', { HTTPS_PROXY: '10.0.0.1:3128' })).toBe('http://10.0.0.1:3128/')
    expect(proxied('https://kube.example', { HTTPS_PROXY: 'socks5://10.0.0.1:1080' })).toBe('socks5://10.0.0.1:1080')
    expect(proxied('https://kube.example', { HTTPS_PROXY: 'https://proxy.corp' })).toBe('https://proxy.corp/')
  })

  it('never proxies localhost or a loopback address, whatever NO_PROXY says', () => {
    const env = { HTTPS_PROXY: 'http://proxy:3128' }
    for (const server of ['https://localhost:6443', 'https://127.0.0.1:6443', 'https://127.1.2.3', 'https://[::1]:6443']) {
      expect(proxied(server, env), server).toBeUndefined()
    }
    expect(proxied('https://localhost.example:6443', env)).toBe('http://proxy:3128/')
  })

  // The cases of httpproxy's useProxy: names match themselves and their subdomains, a leading dot or "*." only the
  // subdomains; IPs and CIDRs match addresses only; a port narrows an entry; "*" matches everything.
  const noProxyCases: Array<[noProxy: string, server: string, useProxy: boolean]> = [
    ['example.com', 'https://example.com', false],
    ['example.com', 'https://api.example.com', false],
    ['example.com', 'https://notexample.com', true],
    ['.example.com', 'https://example.com', true],
    ['.example.com', 'https://api.example.com', false],
    ['*.example.com', 'https://example.com', true],
    ['*.example.com', 'https://api.example.com', false],
    ['EXAMPLE.com', 'https://Api.Example.COM', false],
    [' other.org , example.com ', 'https://example.com', false],
    ['example.com:6443', 'https://example.com:6443', false],
    ['example.com:6443', 'https://example.com', true],
    ['example.com:443', 'https://example.com', false],
    ['10.0.0.0/8', 'https://10.1.2.3:6443', false],
    ['10.0.0.0/8', 'https://11.1.2.3:6443', true],
    ['10.0.0.0/8', 'https://ten.example', true],
    ['10.1.2.3', 'https://10.1.2.3:6443', false],
    ['10.1.2.3:6443', 'https://10.1.2.3:6443', false],
    ['10.1.2.3:443', 'https://10.1.2.3:6443', true],
    ['fd00::/8', 'https://[fd00::1]:6443', false],
    ['[fd00::1]:6443', 'https://[fd00::1]:6443', false],
    ['0.0.1', 'https://10.0.0.1', true],
    ['*', 'https://anything.example', false],
    [':6443', 'https://example.com:6443', true],
    ['', 'https://example.com', true],
  ]
  it.each(noProxyCases)('NO_PROXY=%j and %s: proxied %s', (noProxy, server, expected) => {
    expect(useProxy(new URL(server), noProxy)).toBe(expected)
    expect(proxied(server, { HTTPS_PROXY: 'http://proxy:3128', NO_PROXY: noProxy }) !== undefined).toBe(expected)
  })

  it('takes NO_PROXY over no_proxy, and no_proxy when NO_PROXY is empty', () => {
    expect(proxied('https://kube.example', { HTTPS_PROXY: 'http://p:1', NO_PROXY: 'other', no_proxy: 'kube.example' })).toBe('http://p:1/')
    expect(proxied('https://kube.example', { HTTPS_PROXY: 'http://p:1', no_proxy: 'kube.example' })).toBeUndefined()
  })

  it("uses the cluster's proxy-url for every server, loopback and NO_PROXY included, as http.ProxyURL does", () => {
    const proxyUrl = new URL('http://cluster.proxy:3128')
    expect(proxyFor(new URL('https://127.0.0.1:6443'), proxyUrl, { NO_PROXY: '*', HTTPS_PROXY: 'http://env:1' })).toEqual({ url: proxyUrl, source: 'proxy-url' })
  })
})

describe('requests through a proxy', () => {
  let dir: string
  let api: Server
  let apiPort: number
  let seenByApi: Array<{ url: string; headers: IncomingHttpHeaders }> = []
  let proxies: TestProxy[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-proxy-'))
    api = createServer((request, response) => {
      seenByApi.push({ url: request.url ?? '', headers: request.headers })
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ kind: 'Scale', spec: { replicas: 4 } }))
    })
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
    apiPort = (api.address() as AddressInfo).port
  })
  afterEach(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()))
    proxies = []
    seenByApi = []
  })
  afterAll(async () => {
    api.closeAllConnections()
    await new Promise<void>((resolve) => api.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  const connect = async (server: string, env: NodeJS.ProcessEnv, clusterExtra = '') => {
    const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`)
    await writeFile(
      path,
      `clusters:
- name: c
  cluster: {server: '${server}'${clusterExtra}}
users:
- name: u
  user: {as: breakglass-operator}
contexts:
- name: proxied
  context: {cluster: c, user: u}
current-context: proxied
`,
    )
    return await connectWithKubeconfig({ kubeconfig: path, env })()
  }
  const scalePath = '/apis/apps/v1/namespaces/agents/deployments/refund-api/scale'

  it('sends an http server its requests in absolute form through HTTP_PROXY, the API server named as in the kubeconfig', async () => {
    const proxy = await startHttpProxy(() => apiPort)
    proxies.push(proxy)
    const client = await connect(`http://kube.test:${apiPort}`, { HTTP_PROXY: proxy.url })

    expect(await client.readScaleReplicas(ref, signal)).toBe(4)
    expect(proxy.seen.map((entry) => entry.request)).toEqual([`GET http://kube.test:${apiPort}${scalePath}`])
    expect(seenByApi).toMatchObject([{ url: scalePath, headers: { host: `kube.test:${apiPort}`, 'impersonate-user': 'breakglass-operator' } }])
  })

  it('goes straight to a loopback server, and to one NO_PROXY names, without asking the proxy', async () => {
    const proxy = await startHttpProxy(() => apiPort)
    proxies.push(proxy)
    const loopback = await connect(`http://127.0.0.1:${apiPort}`, { HTTP_PROXY: proxy.url })
    expect(await loopback.readScaleReplicas(ref, signal)).toBe(4)

    const named = await connect(`http://kube.invalid:${apiPort}`, { HTTP_PROXY: proxy.url, NO_PROXY: '.invalid' })
    const error = await named.readScaleReplicas(ref, signal).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'KubernetesUnreachable' })
    expect((error as Error).message).not.toContain('through the proxy')
    expect(proxy.seen).toEqual([])
  })

  it("takes the cluster's proxy-url even for a loopback server that NO_PROXY names", async () => {
    const proxy = await startHttpProxy(() => apiPort)
    proxies.push(proxy)
    const client = await connect(`http://127.0.0.1:${apiPort}`, { NO_PROXY: '*', HTTP_PROXY: 'http://127.0.0.1:1' }, `, proxy-url: '${proxy.url}'`)

    expect(await client.readScaleReplicas(ref, signal)).toBe(4)
    expect(proxy.seen.map((entry) => entry.request)).toEqual([`GET http://127.0.0.1:${apiPort}${scalePath}`])
  })

  it('authenticates to the proxy with the user info of its URL', async () => {
    const proxy = await startHttpProxy(() => apiPort)
    proxies.push(proxy)
    const withCredentials = proxy.url.replace('http://', 'http://proxy%20user:s%3Acret@')
    const client = await connect(`http://kube.test:${apiPort}`, {}, `, proxy-url: '${withCredentials}'`)

    expect(await client.readScaleReplicas(ref, signal)).toBe(4)
    expect(proxy.seen[0]!.credentials).toBe(`Basic ${Buffer.from('proxy user:s:cret').toString('base64')}`)
    expect(seenByApi[0]!.headers).not.toHaveProperty('proxy-authorization')
  })

  it('reaches the server through a SOCKS5 proxy-url, which resolves the name itself, as Go asks it to', async () => {
    const proxy = await startSocksProxy(() => apiPort, { name: 'sock', password: 'pw' })
    proxies.push(proxy)
    const client = await connect(`http://kube.test:${apiPort}`, {}, `, proxy-url: 'socks5://sock:pw@127.0.0.1:${proxy.port}'`)

    expect(await client.readScaleReplicas(ref, signal)).toBe(4)
    expect(proxy.seen).toEqual([{ request: `SOCKS5 kube.test:${apiPort}`, credentials: 'sock:pw' }])
    expect(seenByApi).toHaveLength(1)
  })

  it('names the proxy, never its password, when it cannot be reached', async () => {
    const client = await connect(`http://kube.test:${apiPort}`, {}, ", proxy-url: 'http://ops:hunter2@127.0.0.1:1'")

    const error = await client.readScaleReplicas(ref, signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PrimitiveError)
    expect(error).toMatchObject({ code: 'KubernetesUnreachable' })
    expect((error as Error).message).toContain('through the proxy http://127.0.0.1:1 (proxy-url)')
    expect(`${(error as Error).message} ${(error as PrimitiveError).hint}`).not.toContain('hunter2')
  })

  it('refuses an environment proxy of a scheme Go cannot speak, naming the variable', async () => {
    const error = await connect(`https://kube.test:${apiPort}`, { HTTPS_PROXY: 'ftp://user:pw@proxy:21' }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'KubernetesProxyInvalid', hint: 'fix HTTPS_PROXY, or name the API server in NO_PROXY' })
    expect((error as Error).message).not.toContain('pw')
  })
})
