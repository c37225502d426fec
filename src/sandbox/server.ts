/**
 * The sandbox server: one loopback port serving emulated AWS (Lambda, IAM, STS, SNS, tagging), Kubernetes and
 * LaunchDarkly control planes, so that the real SDKs and CLIs reach it through their standard endpoint settings.
 *
 * Routing: a request signed with SigV4 goes to the AWS plane (the credential scope names the service and region);
 * `/_sandbox/*` is inspection; LaunchDarkly owns `/api/v2/*` and its SDK paths; Kubernetes owns `/api`, `/apis`,
 * `/version`. Anything else is a loud 404 so client drift is caught.
 */
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAwsPlane } from './aws/index.js'
import { createKubernetesPlane, kubeconfigFor } from './kubernetes/index.js'
import { createLaunchDarklyPlane } from './launchdarkly/index.js'
import { buildProfile, Realism, type InjectedFaults, type ProfileName, type ProfileOverrides } from './realism.js'
import { parseSeed, type Seed, type SeedInput } from './seed.js'

export interface SandboxRequest {
  method: string
  url: URL
  headers: IncomingHttpHeaders
  body: Buffer
  /** For AWS requests: what the SigV4 credential scope says. */
  aws?: { service: string; region: string; accessKeyId: string }
}

/** One emulated control plane. */
export interface Plane {
  readonly name: string
  /** Serves the request, including the plane's own 404 for unknown routes in its namespace. */
  handle(req: SandboxRequest, res: ServerResponse): Promise<void>
  /** The plane's full state as plain JSON, for the inspection endpoint and tests. */
  state(): unknown
  /** Ends open streams and timers. */
  close(): Promise<void>
}

export interface PlaneOptions {
  seed: Seed
  realism: Realism
  /** The sandbox's base URL, once it listens (e.g. for Kubernetes discovery's serverAddress). */
  baseUrl: () => string
}

export interface SandboxOptions {
  seed?: SeedInput
  profile?: ProfileName
  overrides?: ProfileOverrides
  /** 0 (default) picks a free port. */
  port?: number
  host?: string
  /** Where to write the kubeconfig; a new temporary directory by default. */
  workDir?: string
  /** Keep a log of every request's arrival (for benchmarks: when did the first mutation arrive?). */
  recordRequests?: boolean
  /** The dice behind latency jitter and injected faults, in [0, 1); tests pass a seeded one to repeat a run's faults. */
  random?: () => number
}

/** One request as it arrived: wall-clock epoch milliseconds (sub-millisecond), method, path and AWS action. */
export interface RequestLogEntry {
  at: number
  method: string
  path: string
  /** The query protocol's Action, or the JSON protocol's X-Amz-Target operation. */
  action?: string
  /** The status answered, once answered; 0 when the connection closed without one (an injected reset, or a stream the client ended). */
  status?: number
}

export interface SandboxState {
  profile: string
  /** Faults injected so far by the profile's knobs (errors, throttles, resets, stalls per API). */
  injectedFaults: InjectedFaults
  aws: unknown
  kubernetes: unknown
  launchdarkly: unknown
}

export interface Sandbox {
  readonly url: string
  readonly port: number
  /** Settings that point the standard clients at the sandbox: AWS_ENDPOINT_URL_*, KUBECONFIG, LaunchDarkly URIs, keys. */
  readonly env: Record<string, string>
  readonly kubeconfigPath: string
  readonly realism: Realism
  state(): SandboxState
  /** The request log; empty unless started with `recordRequests`. */
  requests(): RequestLogEntry[]
  stop(): Promise<void>
}

const AWS_SERVICES_ENV: Record<string, string> = {
  lambda: 'AWS_ENDPOINT_URL_LAMBDA',
  iam: 'AWS_ENDPOINT_URL_IAM',
  sts: 'AWS_ENDPOINT_URL_STS',
  sns: 'AWS_ENDPOINT_URL_SNS',
  tagging: 'AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API',
}

const SIGV4_SCOPE = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/

function awsScope(headers: IncomingHttpHeaders): SandboxRequest['aws'] {
  const auth = headers.authorization
  if (typeof auth !== 'string' || !auth.startsWith('AWS4-HMAC-SHA256')) return undefined
  const m = SIGV4_SCOPE.exec(auth)
  if (!m) return undefined
  return { accessKeyId: m[1]!, region: m[2]!, service: m[3]! }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function isLaunchDarklyPath(path: string): boolean {
  return (
    path.startsWith('/api/v2/') ||
    path === '/all' ||
    path.startsWith('/sdk/') ||
    path === '/bulk' ||
    path === '/diagnostic' ||
    path.startsWith('/meval')
  )
}

function isKubernetesPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/') || path === '/apis' || path.startsWith('/apis/') || path === '/version'
}

export function notFound(res: ServerResponse, what: string): void {
  res.writeHead(404, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ sandbox: 'killswitch', error: 'NotEmulated', message: `the sandbox does not emulate ${what}` }))
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const seed = parseSeed(options.seed ?? {})
  const realism = new Realism(buildProfile(options.profile ?? 'instant', options.overrides), options.random)
  let baseUrl = ''
  const planeOptions: PlaneOptions = { seed, realism, baseUrl: () => baseUrl }
  const aws = createAwsPlane(planeOptions)
  const kubernetes = createKubernetesPlane(planeOptions)
  const launchdarkly = createLaunchDarklyPlane(planeOptions)

  const state = (): SandboxState => ({
    profile: realism.profile.name,
    injectedFaults: realism.injected,
    aws: aws.state(),
    kubernetes: kubernetes.state(),
    launchdarkly: launchdarkly.state(),
  })

  const requestLog: RequestLogEntry[] = []
  const sockets = new Set<Socket>()
  const server = createServer(async (req, res) => {
    try {
      const arrived = performance.timeOrigin + performance.now()
      const url = new URL(req.url ?? '/', 'http://sandbox.local')
      const body = await readBody(req)
      if (options.recordRequests && url.pathname.startsWith('/_sandbox/') === false) {
        const target = req.headers['x-amz-target']
        const action = typeof target === 'string' ? target.split('.').pop() : /(?:^|&)Action=([^&]+)/.exec(body.toString('latin1'))?.[1]
        const entry: RequestLogEntry = { at: arrived, method: req.method ?? 'GET', path: url.pathname, ...(action ? { action } : {}) }
        requestLog.push(entry)
        res.once('finish', () => (entry.status = res.statusCode))
        res.once('close', () => (entry.status ??= 0))
      }
      const request: SandboxRequest = { method: req.method ?? 'GET', url, headers: req.headers, body, aws: awsScope(req.headers) }
      if (request.aws) return await aws.handle(request, res)
      if (url.pathname === '/_sandbox/state' && request.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify(state()))
      }
      if (url.pathname === '/_sandbox/requests' && request.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify(requestLog))
      }
      if (isLaunchDarklyPath(url.pathname)) return await launchdarkly.handle(request, res)
      if (isKubernetesPath(url.pathname)) return await kubernetes.handle(request, res)
      notFound(res, `${request.method} ${url.pathname}`)
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ sandbox: 'killswitch', error: 'SandboxFault', message: String(error) }))
    }
  })
  server.keepAliveTimeout = 30_000
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`

  const ownWorkDir = options.workDir === undefined
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'killswitch-sandbox-')))
  const kubeconfigPath = join(workDir, 'kubeconfig')
  await writeFile(kubeconfigPath, kubeconfigFor(baseUrl, seed.kubernetes.rbac.users, await kubernetes.secureEndpoint()), { mode: 0o600 })

  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: baseUrl,
    AWS_ACCESS_KEY_ID: 'AKIASANDBOXONCALL001',
    AWS_SECRET_ACCESS_KEY: 'sandbox-secret-access-key',
    AWS_REGION: 'us-east-1',
    KUBECONFIG: kubeconfigPath,
    KILLSWITCH_LAUNCHDARKLY_BASE_URI: baseUrl,
    KILLSWITCH_LAUNCHDARKLY_STREAM_URI: baseUrl,
    KILLSWITCH_LAUNCHDARKLY_EVENTS_URI: baseUrl,
    LD_API_TOKEN: seed.launchdarkly.apiTokens[0] ?? 'api-sandbox-token',
  }
  for (const variable of Object.values(AWS_SERVICES_ENV)) env[variable] = baseUrl
  for (const project of Object.values(seed.launchdarkly.projects)) {
    for (const [envKey, { sdkKey }] of Object.entries(project.environments)) {
      env[`LD_SDK_KEY_${envKey.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = sdkKey
    }
  }

  return {
    url: baseUrl,
    port,
    env,
    kubeconfigPath,
    realism,
    state,
    requests: () => requestLog,
    async stop() {
      await Promise.all([aws.close(), kubernetes.close(), launchdarkly.close()])
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (ownWorkDir) await rm(workDir, { recursive: true, force: true })
    },
  }
}
