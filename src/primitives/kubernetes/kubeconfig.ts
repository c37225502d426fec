/**
 * Loads the break-glass kubeconfig and resolves one context to what a connection needs: the server, its TLS
 * settings and how to authenticate. Sources, first found wins: the runbook's `credentials.kubernetes.kubeconfig`
 * (`~` expanded), else `KUBECONFIG` from the configured environment (a path list merged as kubectl merges it: the
 * first file that names a cluster, user or context wins, and the first `current-context` wins), else
 * `~/.kube/config`, else the in-cluster service account. The context is the runbook's, else the current one.
 *
 * Invariants: relative paths are resolved against the file that holds them, before merging; file contents
 * (certificates, keys) are read here, once, but a `tokenFile` is only named, because it rotates; nothing read here
 * ever goes into an error message except names and paths.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { PrimitiveError } from '../../core/primitive.js'

export interface KubeconfigSource {
  kubeconfig?: string
  /** Overrides the kubeconfig's current context. */
  context?: string
  env: NodeJS.ProcessEnv
}

/** A kubeconfig `exec` credential plugin, with `command` already resolved if it is a path. */
export interface ExecPluginConfig {
  apiVersion: 'client.authentication.k8s.io/v1' | 'client.authentication.k8s.io/v1beta1'
  command: string
  args: string[]
  env: Array<{ name: string; value: string }>
  provideClusterInfo: boolean
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always'
  installHint?: string
}

export type KubernetesAuth =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  /** Re-read on every request: projected service-account tokens rotate under a running process. */
  | { kind: 'tokenFile'; path: string }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'exec'; plugin: ExecPluginConfig }

export interface KubernetesCluster {
  server: URL
  /** PEM; absent means the system's trusted roots. */
  certificateAuthority?: Buffer
  insecureSkipTlsVerify: boolean
  tlsServerName?: string
  /** The cluster's `extensions[client.authentication.k8s.io/exec]`, handed to exec plugins with provideClusterInfo. */
  execExtension?: unknown
}

export interface ClientCertificate {
  cert: Buffer
  key: Buffer
}

/** One kubeconfig context, resolved: everything needed to reach and authenticate to its API server. */
export interface KubernetesConnection {
  context: string
  cluster: KubernetesCluster
  clientCertificate?: ClientCertificate
  auth: KubernetesAuth
}

/** The in-cluster context name @kubernetes/client-node used, kept so that journals written with it stay valid. */
const IN_CLUSTER_CONTEXT = 'inClusterContext'
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

const ClusterSchema = z.object({
  server: z.string(),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': z.string().optional(),
  extensions: z.array(z.object({ name: z.string(), extension: z.unknown() })).nullish(),
})

const ExecSchema = z.object({
  apiVersion: z.enum(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1']),
  command: z.string(),
  args: z.array(z.string()).nullish(),
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  provideClusterInfo: z.boolean().optional(),
  interactiveMode: z.enum(['Never', 'IfAvailable', 'Always']).optional(),
  installHint: z.string().optional(),
})

const UserSchema = z.object({
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  exec: ExecSchema.nullish(),
  'auth-provider': z.object({ name: z.string() }).nullish(),
})

const ContextSchema = z.object({ cluster: z.string(), user: z.string().optional(), namespace: z.string().optional() })

const KubeconfigSchema = z.object({
  clusters: z.array(z.object({ name: z.string(), cluster: ClusterSchema })).nullish(),
  users: z.array(z.object({ name: z.string(), user: UserSchema })).nullish(),
  contexts: z.array(z.object({ name: z.string(), context: ContextSchema })).nullish(),
  'current-context': z.string().optional(),
})

type ClusterEntry = z.infer<typeof ClusterSchema>
type UserEntry = z.infer<typeof UserSchema>
type ContextEntry = z.infer<typeof ContextSchema>

/** The merged kubeconfig; each entry keeps the directory of the file it came from, for its relative paths. */
interface MergedKubeconfig {
  clusters: Map<string, { entry: ClusterEntry; dir: string }>
  users: Map<string, { entry: UserEntry; dir: string }>
  contexts: Map<string, ContextEntry>
  currentContext?: string
}

export function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  if (path === '~') return env.HOME ?? homedir()
  if (path.startsWith('~/')) return join(env.HOME ?? homedir(), path.slice(2))
  return path
}

export function loadKubeconfig(source: KubeconfigSource): KubernetesConnection {
  const files = kubeconfigFiles(source)
  if (files.length === 0) {
    const inCluster = inClusterConnection(source)
    if (inCluster) return inCluster
    throw new PrimitiveError(
      'no kubeconfig found: credentials.kubernetes.kubeconfig is unset, KUBECONFIG names no existing file, and ~/.kube/config does not exist',
      'set credentials.kubernetes.kubeconfig in the runbook, or KUBECONFIG, to the break-glass kubeconfig',
      'KubeconfigNotFound',
    )
  }
  const merged = mergeKubeconfigs(files)
  const contextName = source.context ?? merged.currentContext
  if (contextName === undefined || contextName === '') {
    throw new PrimitiveError(
      `the kubeconfig (${files.join(', ')}) names no current-context`,
      'set credentials.kubernetes.context in the runbook, or a current-context in the kubeconfig',
      'KubernetesContextNotFound',
    )
  }
  const context = merged.contexts.get(contextName)
  if (!context) {
    throw new PrimitiveError(
      `kubeconfig context ${contextName} does not exist (known: ${[...merged.contexts.keys()].join(', ') || 'none'})`,
      'set credentials.kubernetes.context to one of the kubeconfig contexts, or fix credentials.kubernetes.kubeconfig',
      'KubernetesContextNotFound',
    )
  }
  const cluster = merged.clusters.get(context.cluster)
  if (!cluster) {
    throw invalid(`context ${contextName} names cluster ${context.cluster}, which the kubeconfig (${files.join(', ')}) does not define`)
  }
  const user = context.user === undefined || context.user === '' ? undefined : merged.users.get(context.user)
  if (context.user && !user) {
    throw invalid(`context ${contextName} names user ${context.user}, which the kubeconfig (${files.join(', ')}) does not define`)
  }
  return {
    context: contextName,
    cluster: resolveCluster(context.cluster, cluster.entry, cluster.dir),
    clientCertificate: user && resolveClientCertificate(context.user!, user.entry, user.dir),
    auth: user ? resolveAuth(context.user!, user.entry, user.dir) : { kind: 'none' },
  }
}

/** The runbook's file must exist; KUBECONFIG entries that do not exist are skipped, as kubectl skips them. */
function kubeconfigFiles(source: KubeconfigSource): string[] {
  if (source.kubeconfig !== undefined) return [resolve(expandHome(source.kubeconfig, source.env))]
  const listed = (source.env.KUBECONFIG ?? '').split(delimiter).filter((file) => file.length > 0)
  if (listed.length > 0) return [...new Set(listed.map((file) => resolve(expandHome(file, source.env))))].filter((file) => existsSync(file))
  const home = join(source.env.HOME ?? homedir(), '.kube', 'config')
  return existsSync(home) ? [home] : []
}

function mergeKubeconfigs(files: string[]): MergedKubeconfig {
  const merged: MergedKubeconfig = { clusters: new Map(), users: new Map(), contexts: new Map() }
  for (const file of files) {
    const config = readKubeconfig(file)
    const dir = dirname(file)
    for (const { name, cluster } of config.clusters ?? []) if (!merged.clusters.has(name)) merged.clusters.set(name, { entry: cluster, dir })
    for (const { name, user } of config.users ?? []) if (!merged.users.has(name)) merged.users.set(name, { entry: user, dir })
    for (const { name, context } of config.contexts ?? []) if (!merged.contexts.has(name)) merged.contexts.set(name, context)
    if (!merged.currentContext && config['current-context']) merged.currentContext = config['current-context']
  }
  return merged
}

function readKubeconfig(file: string): z.infer<typeof KubeconfigSchema> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw invalid(`cannot read kubeconfig ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
  }
  let document: unknown
  try {
    document = parseYaml(text) ?? {}
  } catch (error) {
    throw invalid(`kubeconfig ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = KubeconfigSchema.safeParse(document)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw invalid(`kubeconfig ${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`)
  }
  return parsed.data
}

function resolveCluster(name: string, entry: ClusterEntry, dir: string): KubernetesCluster {
  let server: URL
  try {
    server = new URL(entry.server)
  } catch {
    throw invalid(`cluster ${name}: server ${entry.server} is not a URL`)
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw invalid(`cluster ${name}: server ${entry.server} is neither https nor http`)
  return {
    server,
    certificateAuthority: pemOf(`cluster ${name} certificate-authority`, entry['certificate-authority-data'], entry['certificate-authority'], dir),
    insecureSkipTlsVerify: entry['insecure-skip-tls-verify'] ?? false,
    tlsServerName: entry['tls-server-name'] || undefined,
    execExtension: entry.extensions?.find((extension) => extension.name === 'client.authentication.k8s.io/exec')?.extension,
  }
}

function resolveClientCertificate(name: string, entry: UserEntry, dir: string): ClientCertificate | undefined {
  const cert = pemOf(`user ${name} client-certificate`, entry['client-certificate-data'], entry['client-certificate'], dir)
  const key = pemOf(`user ${name} client-key`, entry['client-key-data'], entry['client-key'], dir)
  if (!cert && !key) return undefined
  if (!cert || !key) throw invalid(`user ${name} has a client ${cert ? 'certificate without a key' : 'key without a certificate'}`)
  return { cert, key }
}

/** One method, as client-go picks it when several are set: a token, else a token file, else basic, else exec. */
function resolveAuth(name: string, entry: UserEntry, dir: string): KubernetesAuth {
  if (entry.token) return { kind: 'token', token: entry.token }
  if (entry.tokenFile) return { kind: 'tokenFile', path: relativeTo(dir, entry.tokenFile) }
  if (entry.username !== undefined && entry.password !== undefined) return { kind: 'basic', username: entry.username, password: entry.password }
  if (entry.exec) {
    const exec = entry.exec
    return {
      kind: 'exec',
      plugin: {
        apiVersion: exec.apiVersion,
        // A bare name is looked up on PATH; a path with a separator is relative to the kubeconfig, as in kubectl.
        command: exec.command.includes(sep) ? relativeTo(dir, exec.command) : exec.command,
        args: exec.args ?? [],
        env: exec.env ?? [],
        provideClusterInfo: exec.provideClusterInfo ?? false,
        interactiveMode: exec.interactiveMode,
        installHint: exec.installHint,
      },
    }
  }
  if (entry['auth-provider']) {
    throw new PrimitiveError(
      `user ${name} uses the auth-provider ${entry['auth-provider'].name}, which killswitch does not support`,
      'use an exec credential plugin instead (gke-gcloud-auth-plugin, kubelogin, aws eks get-token), as kubectl 1.26+ requires',
      'KubeconfigInvalid',
    )
  }
  return { kind: 'none' }
}

function inClusterConnection(source: KubeconfigSource): KubernetesConnection | undefined {
  const host = source.env.KUBERNETES_SERVICE_HOST
  const port = source.env.KUBERNETES_SERVICE_PORT
  if (!host || !port) return undefined
  // An IPv6 service address needs brackets in a URL.
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`)
  return {
    context: IN_CLUSTER_CONTEXT,
    cluster: { server, certificateAuthority: pemOf('in-cluster ca.crt', undefined, join(SERVICE_ACCOUNT_DIR, 'ca.crt'), '/'), insecureSkipTlsVerify: false },
    auth: { kind: 'tokenFile', path: join(SERVICE_ACCOUNT_DIR, 'token') },
  }
}

/** Inline base64 data wins over a file, as in kubectl. */
function pemOf(what: string, data: string | undefined, file: string | undefined, dir: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64')
  if (!file) return undefined
  const path = relativeTo(dir, file)
  try {
    return readFileSync(path)
  } catch (error) {
    throw invalid(`cannot read the ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
  }
}

function relativeTo(dir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dir, path)
}

function invalid(message: string): PrimitiveError {
  return new PrimitiveError(message, 'fix the kubeconfig, or point credentials.kubernetes.kubeconfig at another one', 'KubeconfigInvalid')
}
