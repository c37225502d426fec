/**
 * Which proxy, if any, carries the requests to an API server, by kubectl's rules, and the agent that speaks to it.
 *
 * - A cluster's `proxy-url` carries every request, loopback and NO_PROXY notwithstanding: client-go's clientcmd
 *   sets `rest.Config.Proxy = http.ProxyURL(proxy-url)`, and refuses schemes other than http, https and socks5.
 * - Without one, the configured environment decides, as Go's `http.ProxyFromEnvironment`
 *   (golang.org/x/net/http/httpproxy) does for client-go: `HTTPS_PROXY` (else `https_proxy`) for an https server,
 *   `HTTP_PROXY` (else `http_proxy`) for an http one, unless the server is `localhost` or a loopback address, or
 *   `NO_PROXY` (else `no_proxy`) names it. A value without a scheme is taken as `http://value`.
 *
 * Invariants: the proxy libraries are imported only when a proxy is in use (start-up time); a proxy's credentials
 * (user info in its URL) never appear in a message, `describeProxy` leaves them out.
 */
import type { Agent } from 'node:http'
import { BlockList, isIP } from 'node:net'
import type { ConnectionOptions } from 'node:tls'

export interface ProxyChoice {
  url: URL
  /** Where it came from: `proxy-url`, or the environment variable that named it. */
  source: string
}

/** Go's default ports for a proxy URL without one (httpproxy's portMap, and net/http's for socks5h). */
const DEFAULT_PORT: Record<string, string> = { 'http:': '80', 'https:': '443', 'socks5:': '1080', 'socks5h:': '1080' }

/** The schemes clientcmd accepts in a kubeconfig's proxy-url (`parseProxyURL`). */
const KUBECONFIG_PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:'])

/** What Go's http.Transport can speak to: an http(s) proxy (CONNECT, or absolute-form for http) or SOCKS5. */
const ENVIRONMENT_PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:', 'socks5h:'])

/** Parses a kubeconfig `proxy-url`; the error text is clientcmd's, with the URL's password left out. */
export function parseKubeconfigProxyUrl(value: string): URL | string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(value)?.[1]
    return scheme ? `unsupported scheme "${scheme}", must be http, https, or socks5` : 'not a URL'
  }
  if (!KUBECONFIG_PROXY_SCHEMES.has(url.protocol)) return `unsupported scheme "${url.protocol.slice(0, -1)}", must be http, https, or socks5`
  if (url.hostname === '') return 'no host'
  return url
}

/** The proxy for requests to `server`: the cluster's proxy-url, else the environment's, else none. */
export function proxyFor(server: URL, proxyUrl: URL | undefined, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  if (proxyUrl) return { url: proxyUrl, source: 'proxy-url' }
  return proxyFromEnvironment(server, env)
}

/**
 * Go's `httpproxy.Config.ProxyFunc` over the configured environment. A value Go cannot parse is ignored (Go goes
 * direct); a scheme Go would not speak (anything but http, https, socks5, socks5h) is refused by the caller.
 */
export function proxyFromEnvironment(target: URL, env: NodeJS.ProcessEnv): ProxyChoice | undefined {
  const names = target.protocol === 'https:' ? ['HTTPS_PROXY', 'https_proxy'] : target.protocol === 'http:' ? ['HTTP_PROXY', 'http_proxy'] : []
  const name = names.find((n) => (env[n] ?? '') !== '')
  if (name === undefined) return undefined
  const url = parseEnvironmentProxy(env[name]!)
  if (url === undefined) return undefined
  if (!useProxy(target, firstNonEmpty(env.NO_PROXY, env.no_proxy))) return undefined
  return { url, source: name }
}

/** Whether the scheme of an environment proxy is one killswitch can speak, as Go's transport can. */
export function isSpeakableProxy(url: URL): boolean {
  return ENVIRONMENT_PROXY_SCHEMES.has(url.protocol)
}

/** The proxy as a message may show it: scheme, host and port, never its user info. */
export function describeProxy(proxy: ProxyChoice): string {
  const port = proxy.url.port || DEFAULT_PORT[proxy.url.protocol] || ''
  return `${proxy.url.protocol}//${proxy.url.hostname}${port ? `:${port}` : ''} (${proxy.source})`
}

/** Go's parseProxy: a full URL, or else `http://` + the value ("proxy.corp:3128"). */
function parseEnvironmentProxy(value: string): URL | undefined {
  try {
    const url = new URL(value)
    if (url.host !== '') return url
  } catch {
    // Not a URL as written: try it as host[:port].
  }
  try {
    return new URL(`http://${value}`)
  } catch {
    return undefined
  }
}

/** httpproxy's `useProxy`: false for localhost, loopback addresses and what NO_PROXY names. */
export function useProxy(target: URL, noProxy: string): boolean {
  const host = hostnameOf(target)
  const port = target.port || DEFAULT_PORT[target.protocol] || ''
  if (host === 'localhost') return false
  const family = ipFamily(host)
  if (family && LOOPBACK.check(host, family)) return false
  const name = host.toLowerCase()
  for (const rule of noProxy.split(',')) {
    const entry = rule.trim().toLowerCase()
    if (entry === '') continue
    if (entry === '*') return false
    if (matchesNoProxyEntry(entry, name, port, family)) return false
  }
  return true
}

function matchesNoProxyEntry(entry: string, host: string, port: string, family: 'ipv4' | 'ipv6' | undefined): boolean {
  // IPv4/CIDR, IPv6/CIDR.
  const cidr = /^(.+)\/(\d+)$/.exec(entry)
  if (cidr && ipFamily(cidr[1]!)) {
    const cidrFamily = ipFamily(cidr[1]!)!
    const bits = Number(cidr[2])
    if (bits > (cidrFamily === 'ipv4' ? 32 : 128)) return false
    if (!family) return false
    const list = new BlockList()
    list.addSubnet(cidr[1]!, bits, cidrFamily)
    return list.check(host, family)
  }
  // host:port, [IPv6]:port, or a bare host.
  let entryHost = entry
  let entryPort = ''
  const withPort = /^(\[[^\]]*\]|[^:]*):(\d*)$/.exec(entry)
  if (withPort) {
    entryHost = withPort[1]!.replace(/^\[|\]$/g, '')
    entryPort = withPort[2]!
    if (entryHost === '') return false
  }
  const entryFamily = ipFamily(entryHost)
  if (entryFamily) {
    if (!family) return false
    const list = new BlockList()
    list.addAddress(entryHost, entryFamily)
    return list.check(host, family) && (entryPort === '' || entryPort === port)
  }
  if (entryHost === '' || family) return false
  // "foo.com" matches foo.com and its subdomains; ".foo.com" and "*.foo.com" only the subdomains.
  let suffix = entryHost.startsWith('*.') ? entryHost.slice(1) : entryHost
  const matchHost = !suffix.startsWith('.')
  if (matchHost) suffix = `.${suffix}`
  suffix = asciiHostname(suffix)
  const matched = host.endsWith(suffix) || (matchHost && host === suffix.slice(1))
  return matched && (entryPort === '' || entryPort === port)
}

const LOOPBACK = (() => {
  const list = new BlockList()
  list.addSubnet('127.0.0.0', 8, 'ipv4')
  list.addAddress('::1', 'ipv6')
  return list
})()

function hostnameOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '')
}

function ipFamily(host: string): 'ipv4' | 'ipv6' | undefined {
  const version = isIP(host)
  return version === 4 ? 'ipv4' : version === 6 ? 'ipv6' : undefined
}

/** An internationalised name as the URL parser writes it (punycode), as Go's idna.Lookup.ToASCII does. */
function asciiHostname(name: string): string {
  if (/^[\x00-\x7f]*$/.test(name)) return name
  try {
    return `.${new URL(`http://${name.replace(/^\./, '')}`).hostname}`
  } catch {
    return name
  }
}

function firstNonEmpty(...values: Array<string | undefined>): string {
  return values.find((value) => value !== undefined && value !== '') ?? ''
}

/**
 * An agent that reaches the API server through `proxy`: CONNECT (https-proxy-agent) for an https server, the
 * absolute-form request (http-proxy-agent) for an http one, SOCKS5 with the server's name resolved by the proxy
 * (socks-proxy-agent; Go's SOCKS5 client sends the name, as `socks5h` does). `proxyTls` is what Go's transport uses
 * for the TLS hop to an https proxy: the cluster's own TLS settings. The target's TLS options go on each request.
 */
export async function createProxyAgent(proxy: URL, secureTarget: boolean, proxyTls: ConnectionOptions): Promise<Agent> {
  // The agents put their URL in debug output (DEBUG=…): the credentials travel in a header instead.
  const headers: Record<string, string> = {}
  if (proxy.username !== '' || proxy.password !== '') {
    headers['Proxy-Authorization'] = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`
  }
  const bare = new URL(proxy.href)
  bare.username = ''
  bare.password = ''
  const tlsToProxy = proxy.protocol === 'https:' ? { ...proxyTls, servername: proxyTls.servername ?? proxy.hostname.replace(/^\[|\]$/g, '') } : {}
  if (proxy.protocol === 'socks5:' || proxy.protocol === 'socks5h:') {
    const { SocksProxyAgent } = await import('socks-proxy-agent')
    const socks = new URL(proxy.href)
    socks.protocol = 'socks5h:'
    return new SocksProxyAgent(socks, { keepAlive: true })
  }
  if (secureTarget) {
    const { HttpsProxyAgent } = await import('https-proxy-agent')
    return new HttpsProxyAgent(bare, { keepAlive: true, headers, ...tlsToProxy })
  }
  const { HttpProxyAgent } = await import('http-proxy-agent')
  return new HttpProxyAgent(bare, { keepAlive: true, headers, ...tlsToProxy })
}
