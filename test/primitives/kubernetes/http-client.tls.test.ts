/**
 * The HTTP client against a local https API server with its own CA (made with openssl in a temporary directory):
 * the server certificate is verified against the kubeconfig's CA and tls-server-name, or not at all with
 * insecure-skip-tls-verify; a client certificate, a bearer token or an exec plugin's token authenticates; failed
 * answers become errors that name the operation, the object and the reason.
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

const refundApi: WorkloadRef = { namespace: 'agents', kind: 'deployment', name: 'refund-api' }
const SCALE_PATH = '/apis/apps/v1/namespaces/agents/deployments/refund-api/scale'

interface SeenRequest {
  path: string
  clientCertificateCN?: string
  authorization?: string
}

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

  /** Writes a kubeconfig next to the certificates (so relative paths resolve there) and connects with it. */
  const connect = async (cluster: string, user: string): Promise<KubernetesClient> => {
    const path = join(dir, `kubeconfig-${Math.random().toString(36).slice(2)}`)
    await writeFile(
      path,
      `clusters:
- name: local
  cluster: {server: 'https://127.0.0.1:${port}', ${cluster}}
users:
- name: breakglass
  user: {${user}}
contexts:
- name: tls
  context: {cluster: local, user: breakglass}
current-context: tls
`,
    )
    return await connectWithKubeconfig({ kubeconfig: path, env: {} })()
  }

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

    const [key, cert, ca] = await Promise.all(['server.key', 'server.crt', 'ca.crt'].map((file) => readFile(join(dir, file))))
    server = createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: false }, (request, response) => {
      const socket = request.socket as TLSSocket
      const peer = socket.authorized ? socket.getPeerCertificate() : undefined
      const request_: SeenRequest = { path: request.url ?? '', clientCertificateCN: peer?.subject?.CN as string | undefined, authorization: request.headers.authorization }
      seen.push(request_)
      const answer = (code: number, body: unknown) => {
        response.writeHead(code, { 'content-type': 'application/json' })
        response.end(JSON.stringify(body))
      }
      const authenticated =
        request_.clientCertificateCN === 'killswitch-breakglass' ||
        request_.authorization === 'Bearer static-token' ||
        request_.authorization === 'Bearer secret-token-2'
      if (!authenticated) return answer(401, status(401, 'Unauthorized', 'Unauthorized'))
      if (request.url === SCALE_PATH) return answer(200, { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 }, status: { replicas: 3 } })
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
      `exec: {apiVersion: client.authentication.k8s.io/v1, command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(join(dir, 'token-plugin.mjs'))}]}`,
    )

    expect(await client.readScaleReplicas(refundApi, signal)).toBe(3)
    expect(seen.map((request) => request.authorization)).toEqual(['Bearer secret-token-1', 'Bearer secret-token-2'])
  })
})
