/**
 * The HTTP client against a local https API server with its own CA (made with openssl in a temporary directory):
 * the server certificate is verified against the kubeconfig's CA and tls-server-name, or not at all with
 * insecure-skip-tls-verify; a client certificate, a bearer token, basic auth or an exec plugin's token
 * authenticates; the same server reached through a CONNECT proxy with a client certificate and impersonation
 * headers; an exec plugin runs once per context for a whole invocation, and one that fails is reported as itself,
 * during a pod watch too; failed answers become errors that name the operation, the object and the reason.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import type { KubernetesClient, WorkloadRef } from '../../../src/primitives/kubernetes/client.js'
import { connectWithKubeconfig, KubernetesApiError } from '../../../src/primitives/kubernetes/http-client.js'
import { NamespacePods } from '../../../src/primitives/kubernetes/namespace-pods.js'
import { startHttpProxy } from './proxies.js'

const refundApi: WorkloadRef = { namespace: 'agents', kind: 'deployment', name: 'refund-api' }
const SCALE_PATH = '/apis/apps/v1/namespaces/agents/deployments/refund-api/scale'

interface SeenRequest {
  path: string
  clientCertificateCN?: string
  authorization?: string
  /** The Impersonate-* header lines as sent (name: value), when there are any. */
  impersonation?: string[]
}

const PODS_PATH = '/api/v1/namespaces/agents/pods'
/** An oidc id-token valid until 2100 (the server does not check signatures). */
const ID_TOKEN = [{ alg: 'RS256' }, { sub: 'jane', exp: 4102444800 }].map((part) => Buffer.from(JSON.stringify(part)).toString('base64url')).join('.') + '.signature'

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }
}

describe('the HTTP client over TLS', () => {
  let dir: string
  let server: Server
  let port: number
  let seen: SeenRequest[]
  const signal = new AbortController().signal

  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const newKeyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  const signWithCa = (name: string, extension: string) => {
    openssl('req', ...newKeyArgs, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'kube.test' : 'killswitch-breakglass'}`)
    execFileSync('sh', ['-c', `printf '%s\\n' '${extension}' > ${name}.ext`], { cwd: dir })
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`)
  }

  /** Writes a kubeconfig next to the certificates (so relative paths resolve there); returns its path. */
  const kubeconfig = async (cluster: string, user: string, server = `https://127.0.0.1:${port}`): Promise<string> => {
    const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`)
    await writeFile(
      path,
      `clusters:
- name: local
  cluster: {server: '${server}', ${cluster}}
users:
- name: breakglass
  user: {${user}}
contexts:
- name: tls
  context: {cluster: local, user: breakglass}
current-context: tls
`,
    )
    return path
  }
  const connect = async (cluster: string, user: string, env: NodeJS.ProcessEnv = {}, server?: string): Promise<KubernetesClient> =>
    await connectWithKubeconfig({ kubeconfig: await kubeconfig(cluster, user, server), env })()
  const runsOf = async (log: string) => (await readFile(log, 'utf8').catch(() => '')).length
  /** An exec user whose plugin logs each run to `log`; FLAKY makes every run after the first fail. */
  const execUser = (log: string, { expiresInMs = 3_600_000, flaky = false } = {}) =>
    `exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(join(dir, 'counting-plugin.mjs'))}], env: [{name: RUNS_LOG, value: ${JSON.stringify(log)}}, {name: EXPIRES_IN_MS, value: '${expiresInMs}'}, {name: FLAKY, value: '${flaky}'}], installHint: 'install the aws CLI v2'}`

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-tls-'))
    openssl('req', '-x509', ...newKeyArgs, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=killswitch-test-ca')
    // The server's certificate names only kube.test, so reaching it as 127.0.0.1 needs tls-server-name.
    signWithCa('server', 'subjectAltName=DNS:kube.test')
    signWithCa('client', 'extendedKeyUsage=clientAuth')

    // The plugin answers with secret-token-N on its Nth run; the server accepts only from the second run on.
    await writeFile(
      join(dir, 'token-plugin.mjs'),
      `import { appendFileSync, readFileSync } from 'node:fs'
const log = ${JSON.stringify(join(dir, 'plugin-runs'))}
appendFileSync(log, 'x')
const runs = readFileSync(log, 'utf8').length
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'secret-token-' + runs } }))
`,
    )

    // Answers static-token (which the server accepts) with an expiry; with FLAKY, only the first run succeeds.
    await writeFile(
      join(dir, 'counting-plugin.mjs'),
      `import { appendFileSync, readFileSync } from 'node:fs'
appendFileSync(process.env.RUNS_LOG, 'x')
if (process.env.FLAKY === 'true' && readFileSync(process.env.RUNS_LOG, 'utf8').length > 1) {
  process.stderr.write('error: the SSO session has expired, run aws sso login\\n')
  process.exit(2)
}
const expirationTimestamp = new Date(Date.now() + Number(process.env.EXPIRES_IN_MS)).toISOString()
process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: 'static-token', expirationTimestamp } }))
`,
    )

    const [key, cert, ca] = await Promise.all(['server.key', 'server.crt', 'ca.crt'].map((file) => readFile(join(dir, file))))
    server = createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: false }, (request, response) => {
      const socket = request.socket as TLSSocket
      const peer = socket.authorized ? socket.getPeerCertificate() : undefined
      const request_: SeenRequest = { path: request.url ?? '', clientCertificateCN: peer?.subject?.CN as string | undefined, authorization: request.headers.authorization }
      const impersonation: string[] = []
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        if (/^impersonate-/i.test(request.rawHeaders[i]!)) impersonation.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`)
      }
      if (impersonation.length > 0) request_.impersonation = impersonation
      seen.push(request_)
      const answer = (code: number, body: unknown) => {
        response.writeHead(code, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      const authenticated =
        request_.clientCertificateCN === 'killswitch-breakglass' ||
        request_.authorization === 'Bearer static-token' ||
        request_.authorization === `Bearer ${ID_TOKEN}` ||
        request_.authorization === `Basic ${Buffer.from('admin:s3cret').toString('base64')}` ||
        request_.authorization === 'Bearer secret-token-2'
      if (!authenticated) return answer(401, status(401, 'Unauthorized', 'Unauthorized'))
      if (request.url === SCALE_PATH) return answer(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { replicas: 3 } })
      if (request.url === PODS_PATH) return answer(200, { kind: 'PodList', metadata: { resourceVersion: '7' }, items: [{ metadata: { name: 'refund-api-1', labels: { app: 'refund' } } }] })
      if (request.url?.startsWith(`${PODS_PATH}?`)) {
        // A watch with no events, ended by the server after a second, as its timeoutSeconds would.
        response.writeHead(200, { 'content-type': 'application/json' })
        setTimeout(() => response.end(), 1000)
        return
      }
      answer(404, status(404, 'NotFound', 'deployments.apps "gone" not found'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  beforeEach(() => {
    seen = []
  })
  afterAll(async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    await rm(dir, { recursive: true, force: true })
  })

  it('verifies the server against the kubeconfig CA and tls-server-name, and authenticates with the client certificate', async () => {
    const client = await connect('certificate-authority: ca.crt, tls-server-name: kube.test', 'client-certificate: client.crt, client-key: client.key')

    expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    expect(seen).toEqual([{ path: SCALE_PATH, clientCertificateCN: 'killswitch-breakglass', authorization: undefined }])
  })

  it('refuses a server certificate the kubeconfig CA does not vouch for, or that names another host', async () => {
    const untrusted = await connect('tls-server-name: kube.test', 'token: static-token')
    const wrongName = await connect('certificate-authority: ca.crt', 'token: static-token')

    for (const client of [untrusted, wrongName]) {
      const error = await client.readScaleReplicas(refundApi, signal).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(PrimitiveError)
      expect((error as PrimitiveError).code).toBe('KubernetesTlsFailed')
      expect((error as PrimitiveError).message).toContain(`read the scale of deployment/refund-api in agents (context tls): https://127.0.0.1:${port} failed TLS verification`)
      expect((error as PrimitiveError).message).not.toContain('static-token')
    }
    expect(seen).toEqual([])
  })

  it('skips server verification with insecure-skip-tls-verify, and sends the bearer token', async () => {
    const client = await connect('insecure-skip-tls-verify: true', 'token: static-token')

    expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    expect(seen).toEqual([{ path: SCALE_PATH, clientCertificateCN: undefined, authorization: 'Bearer static-token' }])
  })

  it("turns the server's 401 into KubernetesUnauthorized naming the operation, without the credential", async () => {
    const client = await connect('certificate-authority: ca.crt, tls-server-name: kube.test', 'token: wrong-token')

    const error = await client.readScaleReplicas(refundApi, signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PrimitiveError)
    expect((error as PrimitiveError).code).toBe('KubernetesUnauthorized')
    expect((error as PrimitiveError).message).toBe('Kubernetes refused to read the scale of deployment/refund-api in agents (context tls): Unauthorized (Unauthorized)')
  })

  it('turns a Status answer into an error naming the object and the reason, and a 404 read into null', async () => {
    const client = await connect('certificate-authority: ca.crt, tls-server-name: kube.test', 'client-certificate: client.crt, client-key: client.key')
    const gone: WorkloadRef = { namespace: 'agents', kind: 'deployment', name: 'gone' }

    expect(await client.readWorkload(gone, signal)).toBeNull()
    const error = await client.patchScaleReplicas(gone, 0, signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KubernetesApiError)
    expect(error).toMatchObject({ statusCode: 404, reason: 'NotFound' })
    expect((error as Error).message).toBe('Kubernetes could not scale deployment/gone in agents to 0 (context tls): deployments.apps "gone" not found (NotFound)')
  })

  it("runs the exec plugin again when the server rejects the plugin's token, and retries once", async () => {
    const client = await connect(
      'certificate-authority: ca.crt, tls-server-name: kube.test',
      `exec: {apiVersion: client.authentication.k8s.io/v1, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(join(dir, 'token-plugin.mjs'))}], interactiveMode: Never}`,
    )

    expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    expect(seen.map((request) => request.authorization)).toEqual(['Bearer secret-token-1', 'Bearer secret-token-2'])
  })
  it('sends basic auth over https', async () => {
    const client = await connect('certificate-authority: ca.crt, tls-server-name: kube.test', 'username: admin, password: s3cret')

    expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    expect(seen[0]!.authorization).toBe(`Basic ${Buffer.from('admin:s3cret').toString('base64')}`)
  })

  it('reaches the TLS front through a CONNECT proxy with its client certificate and the impersonation headers', async () => {
    const proxy = await startHttpProxy(() => port)
    try {
      // kube.test is the name in the server certificate; only the proxy knows where it is.
      const client = await connect(
        'certificate-authority: ca.crt',
        "client-certificate: client.crt, client-key: client.key, as: jane@example.com, as-uid: '42', as-groups: [system:masters, 'on call'], as-user-extra: {scopes.example.com/team a%: [payments, 'Zürich']}",
        { HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost,.cluster.local' },
        `https://kube.test:${port}`,
      )

      expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
      expect(proxy.seen.map((entry) => entry.request)).toEqual([`CONNECT kube.test:${port}`])
      // The headers client-go's impersonatingRoundTripper writes, one line per group and per extra value.
      const zurich = Buffer.from('Zürich', 'utf8').toString('latin1')
      expect(seen).toEqual([
        {
          path: SCALE_PATH,
          clientCertificateCN: 'killswitch-breakglass',
          impersonation: [
            'Impersonate-User: jane@example.com',
            'Impersonate-Uid: 42',
            'Impersonate-Group: system:masters',
            'Impersonate-Group: on call',
            'Impersonate-Extra-scopes.example.com%2Fteam%20a%25: payments',
            `Impersonate-Extra-scopes.example.com%2Fteam%20a%25: ${zurich}`,
          ],
        },
      ])
    } finally {
      await proxy.close()
    }
  })

  it('fails as unreachable through a proxy that refuses the CONNECT, and never shows it the request', async () => {
    const proxy = await startHttpProxy(() => port, { refuse: 407 })
    try {
      const viaProxy = await connect(`certificate-authority: ca.crt, proxy-url: '${proxy.url}'`, 'token: static-token', {}, `https://kube.test:${port}`)

      const error = await viaProxy.readScaleReplicas(refundApi, signal).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'KubernetesUnreachable' })
      expect((error as Error).message).toContain(`through the proxy ${proxy.url} (proxy-url) is unreachable: the proxy answered CONNECT with 407`)
      expect(proxy.seen).toHaveLength(1)
      expect(proxy.seen[0]!.headers).not.toHaveProperty('authorization')
      expect(seen).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it('runs the exec plugin once per context for a whole invocation: every client, every phase, until it expires', async () => {
    const log = join(dir, 'runs-once')
    const path = await kubeconfig('certificate-authority: ca.crt, tls-server-name: kube.test', execUser(log))
    const source = { kubeconfig: path, env: {} }

    // How scale-to-zero connects: resolve asks for the current context, apply and verify for the target's context
    // by name; a drill's halt and restore each load the primitive anew, so each gets a connector of its own.
    const halt = connectWithKubeconfig(source)
    const clients = [await halt(), await halt('tls'), await connectWithKubeconfig(source)('tls'), await connectWithKubeconfig(source)()]
    for (const client of clients) expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    await Promise.all(clients.map((client) => client.listPods('agents', signal)))

    expect(await runsOf(log)).toBe(1)
    expect(seen.every((request) => request.authorization === 'Bearer static-token')).toBe(true)
  })

  it('reports a failing exec plugin as KubernetesExecPluginFailed with its exit code and stderr, never as unreachable', async () => {
    const missing = await connect(
      'certificate-authority: ca.crt, tls-server-name: kube.test',
      `exec: {apiVersion: client.authentication.k8s.io/v1, command: ./no-such-plugin, interactiveMode: Never, installHint: 'brew install aws-iam-authenticator'}`,
    )
    const notFound = await missing.readScaleReplicas(refundApi, signal).catch((e: unknown) => e)
    expect(notFound).toMatchObject({ code: 'KubernetesExecPluginFailed', hint: 'brew install aws-iam-authenticator' })

    const log = join(dir, 'runs-failing')
    await writeFile(log, 'x') // FLAKY fails every run after the first: this one fails from the start
    const failing = await connect('certificate-authority: ca.crt, tls-server-name: kube.test', execUser(log, { flaky: true }))
    const failed = await failing.listPods('agents', signal).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(PrimitiveError)
    expect(failed).toMatchObject({ code: 'KubernetesExecPluginFailed' })
    expect((failed as Error).message).toBe(`the kubeconfig exec credential plugin ${process.execPath} exited with code 2: error: the SSO session has expired, run aws sso login`)

    const watch = await failing.watchPods('agents', '7', () => undefined, () => undefined).catch((e: unknown) => e)
    expect(watch).toMatchObject({ code: 'KubernetesExecPluginFailed' })
    expect(seen).toEqual([])
  })

  it('fails a pod-cache verification with KubernetesExecPluginFailed when the plugin starts failing mid-watch', async () => {
    const log = join(dir, 'runs-mid-watch')
    // The first credential expires while the first watch is open (the server ends it after 1 s); the cache then
    // lists again, which needs the plugin, which now fails.
    const client = await connect('certificate-authority: ca.crt, tls-server-name: kube.test', execUser(log, { expiresInMs: 500, flaky: true }))
    const pods = new NamespacePods(client, 'agents', async () => undefined)
    try {
      const error = await pods.untilGone((pod) => pod.labels.app === 'refund', AbortSignal.timeout(10_000)).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'KubernetesExecPluginFailed' })
      expect((error as Error).message).toContain('exited with code 2')
      expect(await runsOf(log)).toBe(2)
    } finally {
      pods.close()
    }
  })
  it("sends the oidc auth-provider's id-token while it is valid", async () => {
    const client = await connect(
      'certificate-authority: ca.crt, tls-server-name: kube.test',
      `auth-provider: {name: oidc, config: {idp-issuer-url: 'https://issuer.invalid', client-id: kubectl, id-token: '${ID_TOKEN}'}}`,
    )

    expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    expect(seen.map((request) => request.authorization)).toEqual([`Bearer ${ID_TOKEN}`])
  })
})
