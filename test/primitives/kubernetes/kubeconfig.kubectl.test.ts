/**
 * killswitch's kubeconfig loading against kubectl's own, kubeconfig by kubeconfig: for each case `kubectl config
 * view --flatten --minify` (same KUBECONFIG) must agree with the resolved connection on server, CA, client
 * certificate, token, user, proxy and impersonation; and kubectl and killswitch, sent at the same recording TLS
 * server (its own CA, made with openssl), must send the same Authorization and Impersonate-* headers and the same
 * client certificate, through the same proxy or none. Where @kubernetes/client-node reads the same fields, its
 * KubeConfig must agree too. Skipped when kubectl is not installed.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { promisify } from 'node:util'
import { KubeConfig } from '@kubernetes/client-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadKubeconfig, type KubernetesConnection } from '../../../src/primitives/kubernetes/kubeconfig.js'
import { createTransport } from '../../../src/primitives/kubernetes/transport.js'
import { startHttpProxy, type TestProxy } from './proxies.js'

const run = promisify(execFile)
const hasKubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

interface Sent {
  authorization?: string
  clientCertificateCN?: string
  impersonation: string[]
}

interface Case {
  name: string
  /** Kubeconfig files by name (in the case's directory), in KUBECONFIG order; `PORT`, `B64(...)`, `DIR` are filled in. */
  files: Array<[string, string]>
  context?: string
  env?: (proxy: TestProxy) => NodeJS.ProcessEnv
  /** Whether the request should travel through the test proxy. */
  proxied: boolean
  /** client-node reads these kubeconfigs faithfully (no duplicate names, no tokenFile, no as-groups). */
  clientNode?: boolean
}

const cluster = (name: string, fields: string) => `- name: ${name}\n  cluster: {${fields}}\n`
const user = (name: string, fields: string) => `- name: ${name}\n  user: {${fields}}\n`
const context = (name: string, clusterName: string, userName: string) => `- name: ${name}\n  context: {cluster: ${clusterName}, user: ${userName}}\n`
const config = (clusters: string, users: string, contexts: string, current?: string) =>
  `apiVersion: v1\nkind: Config\nclusters:\n${clusters}users:\n${users}contexts:\n${contexts}${current ? `current-context: ${current}\n` : ''}`

const plugin = (apiVersion: string, interactive = '') =>
  `exec: {apiVersion: ${apiVersion}, command: NODE, args: [DIR/plugin.mjs, ${apiVersion}], env: [{name: PLUGIN_TOKEN, value: exec-token}]${interactive}}`

const CASES: Case[] = [
  {
    name: 'a merged KUBECONFIG list: the first file wins per name and for current-context',
    files: [
      ['first', config(cluster('shared', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt"), user('ops', 'token: first-token'), context('prod', 'shared', 'ops'), 'prod')],
      ['second', config(cluster('shared', "server: 'https://127.0.0.1:1'"), user('ops', 'token: second-token'), context('other', 'shared', 'ops'), 'other')],
    ],
    proxied: false,
  },
  {
    name: 'the second file of the list, chosen by --context, its relative paths against its own directory',
    files: [
      ['first', config(cluster('a', "server: 'https://127.0.0.1:1'"), user('a', 'token: a'), context('a', 'a', 'a'), 'a')],
      ['sub/second', config(cluster('b', "server: 'https://127.0.0.1:PORT', certificate-authority: ../pki/ca.crt"), user('b', 'client-certificate: ../pki/client.crt, client-key: ../pki/client.key'), context('b', 'b', 'b'))],
    ],
    context: 'b',
    proxied: false,
  },
  {
    name: 'certificates from data, and tls-server-name for a server reached by address',
    files: [
      ['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority-data: B64(ca.crt), tls-server-name: kube.test"), user('u', 'client-certificate-data: B64(client.crt), client-key-data: B64(client.key)'), context('x', 'c', 'u'), 'x')],
    ],
    proxied: false,
    clientNode: true,
  },
  {
    name: 'a token file next to the kubeconfig, which wins over a token',
    files: [['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt"), user('u', 'token: static, tokenFile: pki/token'), context('x', 'c', 'u'), 'x')]],
    proxied: false,
  },
  {
    name: 'an exec plugin, client.authentication.k8s.io/v1',
    files: [['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt"), user('u', plugin('client.authentication.k8s.io/v1', ', interactiveMode: Never')), context('x', 'c', 'u'), 'x')]],
    proxied: false,
  },
  {
    name: 'an exec plugin, client.authentication.k8s.io/v1beta1',
    files: [['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt"), user('u', plugin('client.authentication.k8s.io/v1beta1')), context('x', 'c', 'u'), 'x')]],
    proxied: false,
  },
  {
    name: 'insecure-skip-tls-verify, with basic auth',
    files: [['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', insecure-skip-tls-verify: true"), user('u', "username: admin, password: 'pa:ss'"), context('x', 'c', 'u'), 'x')]],
    proxied: false,
    clientNode: true,
  },
  {
    name: 'impersonation: as, as-uid, as-groups, as-user-extra',
    files: [
      [
        'config',
        config(
          cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt"),
          user('u', "token: t, as: 'jane@example.com', as-uid: '1001', as-groups: [system:masters, 'on call'], as-user-extra: {scopes.example.com/team a%: [payments, ledger], reason: [drill, Zürich]}"),
          context('x', 'c', 'u'),
          'x',
        ),
      ],
    ],
    proxied: false,
  },
  {
    name: "a cluster's proxy-url, which a loopback server and NO_PROXY do not bypass",
    files: [['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt, tls-server-name: kube.test, proxy-url: 'PROXY'"), user('u', 'token: t, as: jane'), context('x', 'c', 'u'), 'x')]],
    env: () => ({ NO_PROXY: '*' }),
    proxied: true,
    clientNode: true,
  },
  {
    name: "an https:// proxy-url, its certificate checked against the cluster's CA as Go's transport checks it",
    files: [['config', config(cluster('c', "server: 'https://kube.test:PORT', certificate-authority: pki/ca.crt, proxy-url: 'TLSPROXY'"), user('u', 'token: t'), context('x', 'c', 'u'), 'x')]],
    proxied: true,
  },
  {
    name: 'HTTPS_PROXY from the environment for a named server',
    files: [['config', config(cluster('c', "server: 'https://kube.test:PORT', certificate-authority: pki/ca.crt"), user('u', 'token: t'), context('x', 'c', 'u'), 'x')]],
    env: (proxy) => ({ HTTPS_PROXY: proxy.url.replace('http://', ''), NO_PROXY: 'localhost,.cluster.local' }),
    proxied: true,
  },
  {
    name: 'HTTPS_PROXY from the environment, not used for a loopback server',
    files: [['config', config(cluster('c', "server: 'https://127.0.0.1:PORT', certificate-authority: pki/ca.crt"), user('u', 'token: t'), context('x', 'c', 'u'), 'x')]],
    env: (proxy) => ({ https_proxy: proxy.url }),
    proxied: false,
  },
]

describe.skipIf(!hasKubectl)('kubeconfigs, as kubectl reads them', () => {
  let dir: string
  let server: Server
  let port: number
  let proxy: TestProxy
  let tlsProxy: TestProxy
  let sent: Array<Sent & { path: string }> = []
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: join(dir, 'pki'), stdio: 'pipe' })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-kubectl-'))
    await mkdir(join(dir, 'pki'))
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    openssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=kubectl-comparison-ca')
    for (const [name, cn, extension] of [
      ['server', 'kube.test', 'subjectAltName=DNS:kube.test,IP:127.0.0.1'],
      ['client', 'breakglass-client', 'extendedKeyUsage=clientAuth'],
    ] as const) {
      openssl('req', ...key, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
      await writeFile(join(dir, 'pki', `${name}.ext`), `${extension}\n`)
      openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`)
    }
    await writeFile(join(dir, 'pki', 'token'), 'file-token\n')
    await writeFile(
      join(dir, 'plugin.mjs'),
      "process.stdout.write(JSON.stringify({ apiVersion: process.argv[2], kind: 'ExecCredential', status: { token: process.env.PLUGIN_TOKEN } }))\n",
    )
    const [serverKey, serverCert] = await Promise.all(['server.key', 'server.crt'].map((file) => readFile(join(dir, 'pki', file))))
    server = createServer({ key: serverKey, cert: serverCert, requestCert: true, rejectUnauthorized: false }, (request, response) => {
      const socket = request.socket as TLSSocket
      const impersonation: string[] = []
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        if (/^impersonate-/i.test(request.rawHeaders[i]!)) impersonation.push(`${request.rawHeaders[i]!.toLowerCase()}: ${request.rawHeaders[i + 1]}`)
      }
      sent.push({
        path: new URL(request.url ?? '/', 'https://x').pathname,
        authorization: request.headers.authorization,
        clientCertificateCN: socket.getPeerCertificate()?.subject?.CN as string | undefined,
        impersonation: impersonation.sort(),
      })
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end('{"kind":"APIVersions","versions":["v1"]}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
    proxy = await startHttpProxy(() => port)
    tlsProxy = await startHttpProxy(() => port, { tls: { key: serverKey!, cert: serverCert! } })
  })
  afterAll(async () => {
    await proxy?.close()
    await tlsProxy?.close()
    server?.closeAllConnections()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  /** Writes the case's files into a directory of its own (pki/ and plugin.mjs beside them) and returns KUBECONFIG. */
  const writeCase = async (index: number, entry: Case): Promise<string> => {
    const caseDir = join(dir, `case-${index}`)
    await mkdir(join(caseDir, 'sub'), { recursive: true })
    const paths: string[] = []
    for (const [name, text] of entry.files) {
      let filled = text
        .replaceAll('PORT', String(port))
        .replaceAll('TLSPROXY', tlsProxy.url)
        .replaceAll('PROXY', proxy.url)
        .replaceAll('NODE', JSON.stringify(process.execPath))
        .replaceAll('DIR', dir)
      for (const [, file] of filled.matchAll(/B64\(([^)]+)\)/g)) filled = filled.replace(`B64(${file})`, (await readFile(join(dir, 'pki', file!))).toString('base64'))
      await writeFile(join(caseDir, name), filled)
      paths.push(join(caseDir, name))
    }
    // Each case's relative pki/ paths: the case directory and its sub/ both reach the shared pki through a link.
    execFileSync('ln', ['-s', join(dir, 'pki'), join(caseDir, 'pki')])
    return paths.join(delimiter)
  }

  const kubectl = async (args: string[], env: NodeJS.ProcessEnv) =>
    (await run('kubectl', args, { env: { PATH: process.env.PATH, HOME: dir, ...env }, timeout: 20_000 })).stdout

  it.each(CASES.map((entry, index) => [entry.name, index] as const))('%s', async (_, index) => {
    const entry = CASES[index]!
    const KUBECONFIG = await writeCase(index, entry)
    const env = { KUBECONFIG, ...(entry.env?.(proxy) ?? {}) }
    const contextArgs = entry.context ? ['--context', entry.context] : []
    const connection = loadKubeconfig({ env, context: entry.context })

    // 1. What kubectl resolves, flattened (file contents inlined, relative paths resolved by kubectl).
    const view = JSON.parse(await kubectl(['config', 'view', '--flatten', '--minify', '-o', 'json', ...contextArgs], env)) as KubectlView
    expect(resolvedByKubectl(view)).toEqual(resolvedByKillswitch(connection))

    // 2. What each sends to the same server.
    const proxiedSince = () => {
      const proxied = proxy.seen.length + tlsProxy.seen.length > 0
      proxy.seen.length = 0
      tlsProxy.seen.length = 0
      return proxied
    }
    sent = []
    proxiedSince()
    await kubectl(['get', '--raw', '/api', '--request-timeout=10s', ...contextArgs], env)
    const byKubectl = { sent: sent.filter((request) => request.path === '/api').map(({ path: _, ...rest }) => rest), proxied: proxiedSince() }
    sent = []
    await createTransport(connection, env).call('read the API versions', { method: 'GET', path: '/api', signal: AbortSignal.timeout(10_000) })
    const byKillswitch = { sent: sent.map(({ path: _, ...rest }) => rest), proxied: proxiedSince() }
    expect(byKillswitch).toEqual(byKubectl)
    expect(byKillswitch.proxied).toBe(entry.proxied)

    // 3. client-node, for the fields it reads as kubectl does.
    if (entry.clientNode) {
      const kc = new KubeConfig()
      kc.loadFromFile(KUBECONFIG)
      if (entry.context) kc.setCurrentContext(entry.context)
      const nodeCluster = kc.getCurrentCluster()!
      const nodeUser = kc.getCurrentUser()!
      expect(connection.cluster.server.href).toBe(new URL(nodeCluster.server).href)
      expect(connection.cluster.certificateAuthority?.toString('base64')).toBe(nodeCluster.caData ?? (nodeCluster.caFile ? (await readFile(nodeCluster.caFile)).toString('base64') : undefined))
      expect(connection.cluster.insecureSkipTlsVerify).toBe(nodeCluster.skipTLSVerify)
      expect(connection.cluster.tlsServerName).toBe(nodeCluster.tlsServerName ?? undefined)
      expect(connection.cluster.proxyUrl?.href).toBe(nodeCluster.proxyUrl ? new URL(nodeCluster.proxyUrl).href : undefined)
      expect(connection.clientCertificate?.cert.toString('base64')).toBe(nodeUser.certData ?? undefined)
      expect(connection.impersonate?.user).toBe(nodeUser.impersonateUser ?? undefined)
      expect(connection.auth).toEqual(
        nodeUser.token ? { kind: 'token', token: nodeUser.token } : nodeUser.username ? { kind: 'basic', username: nodeUser.username, password: nodeUser.password } : { kind: 'none' },
      )
    }
  })

  it('resolves the in-cluster service account as @kubernetes/client-node does', () => {
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', HOME: join(dir, 'no-home') }
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT }
    Object.assign(process.env, { KUBERNETES_SERVICE_HOST: env.KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT: env.KUBERNETES_SERVICE_PORT })
    try {
      const kc = new KubeConfig()
      kc.loadFromCluster()
      const connection = loadKubeconfig({ env })
      expect(connection.context).toBe(kc.getCurrentContext())
      expect(connection.cluster.server.href).toBe(new URL(kc.getCurrentCluster()!.server).href)
      expect(connection.auth).toEqual({ kind: 'tokenFile', path: (kc.getCurrentUser()!.authProvider as { config: { tokenFile: string } }).config.tokenFile })
    } finally {
      for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
    }
  })
})

interface KubectlView {
  clusters: Array<{ cluster: Record<string, unknown> }>
  users: Array<{ user: Record<string, unknown> }>
}

/** The fields both sides resolve, from kubectl's flattened view (exec and tokenFile as kubectl keeps them). */
function resolvedByKubectl(view: KubectlView) {
  const cluster = view.clusters[0]!.cluster
  const user = view.users[0]?.user ?? {}
  return {
    server: new URL(cluster.server as string).href,
    certificateAuthority: cluster['certificate-authority-data'],
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] ?? false,
    tlsServerName: cluster['tls-server-name'],
    proxyUrl: cluster['proxy-url'] === undefined ? undefined : new URL(cluster['proxy-url'] as string).href,
    clientCertificate: user['client-certificate-data'],
    clientKey: user['client-key-data'],
    token: user.token,
    username: user.username,
    password: user.password,
    exec: user.exec === undefined ? undefined : { apiVersion: (user.exec as { apiVersion: string }).apiVersion, command: (user.exec as { command: string }).command },
    impersonate:
      user.as === undefined ? undefined : { user: user.as, uid: user['as-uid'], groups: user['as-groups'] ?? [], extra: user['as-user-extra'] ?? {} },
  }
}

function resolvedByKillswitch(connection: KubernetesConnection) {
  const auth = connection.auth
  return {
    server: connection.cluster.server.href,
    certificateAuthority: connection.cluster.certificateAuthority?.toString('base64'),
    insecureSkipTlsVerify: connection.cluster.insecureSkipTlsVerify,
    tlsServerName: connection.cluster.tlsServerName,
    proxyUrl: connection.cluster.proxyUrl?.href,
    clientCertificate: connection.clientCertificate?.cert.toString('base64'),
    clientKey: connection.clientCertificate?.key.toString('base64'),
    token: auth.kind === 'token' ? auth.token : auth.kind === 'tokenFile' ? auth.fallbackToken : undefined,
    username: auth.kind === 'basic' ? auth.username : undefined,
    password: auth.kind === 'basic' ? auth.password : undefined,
    exec: auth.kind === 'exec' ? { apiVersion: auth.plugin.apiVersion, command: auth.plugin.command } : undefined,
    impersonate: connection.impersonate && { uid: undefined, ...connection.impersonate },
  }
}
