/**
 * Loads the break-glass kubeconfig and resolves one context to what a connection needs: the server, its TLS
 * settings, its proxy, how to authenticate and whom to impersonate, as kubectl (client-go's clientcmd) resolves it.
 * Sources, first found wins: the runbook's `credentials.kubernetes.kubeconfig` (`~` expanded), else `KUBECONFIG`
 * from the configured environment (a path list merged as kubectl merges it: the first file that names a cluster,
 * user or context wins, and the first `current-context` wins), else `~/.kube/config`, else the in-cluster service
 * account. The context is the runbook's, else the current one.
 *
 * Invariants: every field of clientcmd's v1 `Config` is either used or refused by name, and a field clientcmd does
 * not have is refused too (kubectl would ignore it: a misspelt `proxy-url` must not send a halt around the proxy);
 * what kubectl refuses (two authentication methods, certificate data and file both set, …) is refused here;
 * relative paths are resolved against the file that holds them, before merging; file contents (certificates, keys)
 * are read here, once, but a `tokenFile` is only named, because it rotates; nothing read here ever goes into an
 * error message except names, paths and field names.
 */
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, isAbsolute, join, resolve, sep } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { PrimitiveError } from '../../core/primitive.js'
import { parseKubeconfigProxyUrl } from './proxy.js'

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

/** The `oidc` auth-provider of a user entry: an id-token, and what it takes to refresh it. */
export interface OidcProviderConfig {
  /** The kubeconfig file that defines the user, where refreshed tokens are written back, as kubectl writes them. */
  file: string
  user: string
  issuerUrl: string
  clientId: string
  clientSecret?: string
  idToken?: string
  refreshToken?: string
  /** PEM for the issuer's TLS (`idp-certificate-authority(-data)`); absent means the system's trusted roots. */
  certificateAuthority?: Buffer
}

export type KubernetesAuth =
  | { kind: 'none' }
  | { kind: 'token'; token: string }
  /**
   * Re-read as it rotates (projected service-account tokens). With `token` also set, client-go sends the file's
   * token and falls back to `token` only when the file cannot be read; `fallbackToken` is that.
   */
  | { kind: 'tokenFile'; path: string; fallbackToken?: string }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'exec'; plugin: ExecPluginConfig }
  | { kind: 'oidc'; provider: OidcProviderConfig }

export interface KubernetesCluster {
  server: URL
  /** PEM; absent means the system's trusted roots. */
  certificateAuthority?: Buffer
  insecureSkipTlsVerify: boolean
  tlsServerName?: string
  /** The cluster's `proxy-url`: every request goes through it. Absent: the environment's proxy rules apply. */
  proxyUrl?: URL
  /** The cluster's `extensions[client.authentication.k8s.io/exec]`, handed to exec plugins with provideClusterInfo. */
  execExtension?: unknown
}

export interface ClientCertificate {
  cert: Buffer
  key: Buffer
}

/** The user's `as`, `as-uid`, `as-groups`, `as-user-extra`: sent as Impersonate-* headers on every request. */
export interface Impersonation {
  user: string
  uid?: string
  groups: string[]
  extra: Record<string, string[]>
}

/** One kubeconfig context, resolved: everything needed to reach and authenticate to its API server. */
export interface KubernetesConnection {
  context: string
  cluster: KubernetesCluster
  clientCertificate?: ClientCertificate
  auth: KubernetesAuth
  impersonate?: Impersonation
  /**
   * Set when the user entry has credentials that are not sent because the server is `http://`: clientcmd applies
   * a user's credentials only to an https server ("only try to read the auth information if we are secure").
   */
  credentialsWithheld?: boolean
}

/** The in-cluster context name @kubernetes/client-node used, kept so that journals written with it stay valid. */
const IN_CLUSTER_CONTEXT = 'inClusterContext'
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const

/** The fields of clientcmd's v1 types (k8s.io/client-go/tools/clientcmd/api/v1/types.go). Null is absent, as in Go. */
const text = z.string().nullish()
const flag = z.boolean().nullish()
const NamedExtensionSchema = z.strictObject({ name: z.string(), extension: z.unknown() })
const extensions = z.array(NamedExtensionSchema).nullish()

const ClusterSchema = z.strictObject({
  server: text,
  'tls-server-name': text,
  'insecure-skip-tls-verify': flag,
  'certificate-authority': text,
  'certificate-authority-data': text,
  'proxy-url': text,
  'disable-compression': flag,
  extensions,
})

const ExecSchema = z.strictObject({
  command: text,
  args: z.array(z.string()).nullish(),
  env: z.array(z.strictObject({ name: z.string(), value: z.string().nullish() })).nullish(),
  apiVersion: text,
  installHint: text,
  provideClusterInfo: flag,
  interactiveMode: text,
})

const UserSchema = z.strictObject({
  'client-certificate': text,
  'client-certificate-data': text,
  'client-key': text,
  'client-key-data': text,
  token: text,
  tokenFile: text,
  as: text,
  'as-uid': text,
  'as-groups': z.array(z.string()).nullish(),
  'as-user-extra': z.record(z.string(), z.array(z.string()).nullish()).nullish(),
  username: text,
  password: text,
  'auth-provider': z.strictObject({ name: z.string(), config: z.record(z.string(), z.string().nullish()).nullish() }).nullish(),
  exec: ExecSchema.nullish(),
  extensions,
})

const ContextSchema = z.strictObject({ cluster: text, user: text, namespace: text, extensions })

const KubeconfigSchema = z.strictObject({
  kind: z.literal('Config').nullish(),
  apiVersion: z.literal('v1').nullish(),
  preferences: z.strictObject({ colors: flag, extensions }).nullish(),
  clusters: z.array(z.strictObject({ name: z.string(), cluster: ClusterSchema.nullish() })).nullish(),
  users: z.array(z.strictObject({ name: z.string(), user: UserSchema.nullish() })).nullish(),
  contexts: z.array(z.strictObject({ name: z.string(), context: ContextSchema.nullish() })).nullish(),
  'current-context': text,
  extensions,
})

type ClusterEntry = z.infer<typeof ClusterSchema>
type UserEntry = z.infer<typeof UserSchema>
type ContextEntry = z.infer<typeof ContextSchema>

/** The merged kubeconfig; each entry keeps the file it came from, for its relative paths and for write-back. */
interface MergedKubeconfig {
  clusters: Map<string, { entry: ClusterEntry; file: string }>
  users: Map<string, { entry: UserEntry; file: string }>
  contexts: Map<string, ContextEntry>
  currentContext?: string
}

/** The oidc auth-provider's config keys (client-go plugin/pkg/client/auth/oidc); `extra-scopes` is read and unused there too. */
const OIDC_KEYS = new Set([
  'idp-issuer-url',
  'client-id',
  'client-secret',
  'idp-certificate-authority',
  'idp-certificate-authority-data',
  'id-token',
  'refresh-token',
  'extra-scopes',
])

/** The auth-providers kubectl removed, and what replaces each (kubectl's own error names them). */
const REMOVED_AUTH_PROVIDERS: Record<string, string> = {
  gcp: 'the gke-gcloud-auth-plugin exec plugin (gcloud components install gke-gcloud-auth-plugin; then gcloud container clusters get-credentials)',
  azure: 'the kubelogin exec plugin (github.com/Azure/kubelogin; kubelogin convert-kubeconfig -l azurecli)',
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
  const clusterName = context.cluster ?? ''
  const cluster = merged.clusters.get(clusterName)
  if (!cluster) {
    throw invalid(
      clusterName === ''
        ? `context ${contextName} names no cluster`
        : `context ${contextName} names cluster ${clusterName}, which the kubeconfig (${files.join(', ')}) does not define`,
    )
  }
  const userName = context.user ?? ''
  const user = userName === '' ? undefined : merged.users.get(userName)
  if (userName !== '' && !user) {
    throw invalid(`context ${contextName} names user ${userName}, which the kubeconfig (${files.join(', ')}) does not define`)
  }
  const resolvedCluster = resolveCluster(clusterName, cluster.entry, cluster.file)
  const connection: KubernetesConnection = { context: contextName, cluster: resolvedCluster, auth: { kind: 'none' } }
  if (!user) return connection
  validateUser(userName, user.entry, user.file)
  const impersonate = resolveImpersonation(user.entry)
  if (impersonate) connection.impersonate = impersonate
  if (resolvedCluster.server.protocol !== 'https:') {
    if (hasCredentials(user.entry)) connection.credentialsWithheld = true
    return connection
  }
  const clientCertificate = resolveClientCertificate(userName, user.entry, dirname(user.file))
  if (clientCertificate) connection.clientCertificate = clientCertificate
  connection.auth = resolveAuth(userName, user.entry, user.file, clientCertificate !== undefined)
  return connection
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
    for (const { name, cluster } of config.clusters ?? []) if (!merged.clusters.has(name)) merged.clusters.set(name, { entry: cluster ?? {}, file })
    for (const { name, user } of config.users ?? []) if (!merged.users.has(name)) merged.users.set(name, { entry: user ?? {}, file })
    for (const { name, context } of config.contexts ?? []) if (!merged.contexts.has(name)) merged.contexts.set(name, context ?? {})
    if (!merged.currentContext && config['current-context']) merged.currentContext = config['current-context']
  }
  return merged
}

/** Reads one file as kubectl does (YAML 1.1, so `yes` is true), and checks every field against clientcmd's types. */
export function readKubeconfig(file: string): z.infer<typeof KubeconfigSchema> {
  let textContent: string
  try {
    textContent = readFileSync(file, 'utf8')
  } catch (error) {
    throw invalid(`cannot read kubeconfig ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
  }
  let document: unknown
  try {
    document = parseYaml(textContent, { version: '1.1' }) ?? {}
  } catch (error) {
    throw invalid(`kubeconfig ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`)
  }
  const parsed = KubeconfigSchema.safeParse(document)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const at = fieldPath(document, issue.path)
    if (issue.code === 'unrecognized_keys') {
      const fields = issue.keys.map((key) => (at === '' ? key : `${at}.${key}`))
      throw new PrimitiveError(
        `kubeconfig ${file}: ${fields.join(', ')}: ${fields.length > 1 ? 'fields' : 'field'} not supported (not a field of kubectl's kubeconfig v1)`,
        'remove or correct the field: killswitch refuses a kubeconfig field it does not know rather than ignore it',
        'KubeconfigInvalid',
      )
    }
    throw invalid(`kubeconfig ${file}: ${at || '(top level)'}: ${issue.message}`)
  }
  return parsed.data
}

/** `users[1].user.token`, with the entry's name where the path passes through a named list: `users[1] (admin).user`. */
function fieldPath(document: unknown, path: PropertyKey[]): string {
  let out = ''
  let node: unknown = document
  for (const key of path) {
    if (typeof key === 'number') {
      node = Array.isArray(node) ? node[key] : undefined
      const name = node && typeof node === 'object' && typeof (node as { name?: unknown }).name === 'string' ? (node as { name: string }).name : undefined
      out += `[${key}]${name !== undefined && out.match(/^(clusters|users|contexts)$/) ? ` (${name})` : ''}`
    } else {
      node = node && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined
      out += out === '' ? String(key) : `.${String(key)}`
    }
  }
  return out
}

function resolveCluster(name: string, entry: ClusterEntry, file: string): KubernetesCluster {
  const where = `cluster ${name} (${file})`
  if (!entry.server) throw invalid(`no server found for ${where}`)
  let server: URL
  try {
    server = new URL(entry.server)
  } catch {
    throw invalid(`${where}: server ${entry.server} is not a URL`)
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw invalid(`${where}: server ${entry.server} is neither https nor http`)
  if (entry['certificate-authority'] && entry['certificate-authority-data']) {
    throw invalid(`${where}: certificate-authority-data and certificate-authority are both specified (kubectl refuses this too)`)
  }
  let proxyUrl: URL | undefined
  if (entry['proxy-url']) {
    const parsed = parseKubeconfigProxyUrl(entry['proxy-url'])
    if (typeof parsed === 'string') throw invalid(`${where}: invalid proxy-url: ${parsed}`)
    proxyUrl = parsed
  }
  const cluster: KubernetesCluster = {
    server,
    insecureSkipTlsVerify: entry['insecure-skip-tls-verify'] ?? false,
  }
  const ca = pemOf(`${where} certificate-authority`, entry['certificate-authority-data'], entry['certificate-authority'], dirname(file))
  if (ca) cluster.certificateAuthority = ca
  if (entry['tls-server-name']) cluster.tlsServerName = entry['tls-server-name']
  if (proxyUrl) cluster.proxyUrl = proxyUrl
  const execExtension = entry.extensions?.find((extension) => extension.name === 'client.authentication.k8s.io/exec')?.extension
  if (execExtension !== undefined) cluster.execExtension = execExtension
  return cluster
}

/** What clientcmd's validateAuthInfo refuses, and the auth-providers that no longer exist. */
function validateUser(name: string, entry: UserEntry, file: string): void {
  const where = `user ${name} (${file})`
  const methods = [entry.token ? 'token' : undefined, entry.username || entry.password ? 'basicAuth' : undefined].filter(Boolean)
  if (methods.length > 1) throw invalid(`${where}: more than one authentication method found (${methods.join(', ')}); only one is allowed, as in kubectl`)
  if (entry['client-certificate'] && entry['client-certificate-data']) throw invalid(`${where}: client-certificate-data and client-certificate are both specified`)
  if (entry['client-key'] && entry['client-key-data']) throw invalid(`${where}: client-key-data and client-key are both specified`)
  if (!entry.as && (entry['as-uid'] || entry['as-groups']?.length || Object.keys(entry['as-user-extra'] ?? {}).length)) {
    throw invalid(`${where}: as-uid, as-groups or as-user-extra without as: impersonating groups or extras needs a user to impersonate`)
  }
  if (entry.exec && entry['auth-provider']) throw invalid(`${where}: auth-provider cannot be combined with an exec plugin`)
  if (entry.exec) validateExec(where, entry.exec)
  const provider = entry['auth-provider']
  if (provider) {
    if (provider.name !== 'oidc') {
      const replacement = REMOVED_AUTH_PROVIDERS[provider.name]
      throw new PrimitiveError(
        replacement
          ? `${where} uses the auth-provider ${provider.name}, which kubectl and killswitch no longer support`
          : `${where} uses the auth-provider ${provider.name}, which kubectl does not have either (it knows oidc; gcp and azure were removed)`,
        replacement ? `switch the user to ${replacement}` : 'use an exec credential plugin, or the oidc auth-provider',
        'KubeconfigInvalid',
      )
    }
    for (const key of Object.keys(provider.config ?? {})) {
      if (!OIDC_KEYS.has(key)) throw invalid(`${where}: auth-provider.config.${key}: not a setting of the oidc auth-provider (it has ${[...OIDC_KEYS].join(', ')})`)
    }
  }
}

function validateExec(where: string, exec: NonNullable<UserEntry['exec']>): void {
  if (!exec.command) throw invalid(`${where}: exec.command must be specified`)
  if (!exec.apiVersion) throw invalid(`${where}: exec.apiVersion must be specified`)
  if (!(EXEC_API_VERSIONS as readonly string[]).includes(exec.apiVersion)) {
    throw invalid(`${where}: exec.apiVersion ${exec.apiVersion} is not one kubectl accepts (${EXEC_API_VERSIONS.join(', ')})`)
  }
  // clientcmd defaults interactiveMode to IfAvailable for v1beta1 only; v1 must say.
  if (!exec.interactiveMode && exec.apiVersion === 'client.authentication.k8s.io/v1') throw invalid(`${where}: exec.interactiveMode must be specified for client.authentication.k8s.io/v1`)
  if (exec.interactiveMode && !['Never', 'IfAvailable', 'Always'].includes(exec.interactiveMode)) throw invalid(`${where}: invalid exec.interactiveMode ${exec.interactiveMode}`)
  for (const variable of exec.env ?? []) if (variable.name === '') throw invalid(`${where}: an exec.env entry has no name`)
}

function hasCredentials(entry: UserEntry): boolean {
  return Boolean(
    entry.token || entry.tokenFile || entry.username || entry.password || entry['client-certificate'] || entry['client-certificate-data'] || entry.exec || entry['auth-provider'],
  )
}

function resolveImpersonation(entry: UserEntry): Impersonation | undefined {
  if (!entry.as) return undefined
  const impersonation: Impersonation = {
    user: entry.as,
    groups: entry['as-groups'] ?? [],
    extra: Object.fromEntries(Object.entries(entry['as-user-extra'] ?? {}).map(([key, values]) => [key, values ?? []])),
  }
  if (entry['as-uid']) impersonation.uid = entry['as-uid']
  return impersonation
}

function resolveClientCertificate(name: string, entry: UserEntry, dir: string): ClientCertificate | undefined {
  const cert = pemOf(`user ${name} client-certificate`, entry['client-certificate-data'], entry['client-certificate'], dir)
  const key = pemOf(`user ${name} client-key`, entry['client-key-data'], entry['client-key'], dir)
  if (!cert && !key) return undefined
  if (!cert || !key) throw invalid(`user ${name} has a client ${cert ? 'certificate without a key' : 'key without a certificate'}`)
  return { cert, key }
}

/**
 * The bearer (or basic) credential, as client-go layers them: a token or token file, else basic auth; an exec
 * plugin only when the user has none of those and no client certificate (client-go's exec Authenticator steps
 * aside then); the oidc auth-provider's id-token when there is no token or basic auth.
 */
function resolveAuth(name: string, entry: UserEntry, file: string, hasClientCertificate: boolean): KubernetesAuth {
  const dir = dirname(file)
  // client-go builds the provider (and so checks its settings) even when a token makes it step aside.
  const oidc = entry['auth-provider'] ? resolveOidc(name, entry['auth-provider'].config ?? {}, file) : undefined
  if (entry.tokenFile) {
    const auth: KubernetesAuth = { kind: 'tokenFile', path: relativeTo(dir, entry.tokenFile) }
    if (entry.token) auth.fallbackToken = entry.token
    return auth
  }
  if (entry.token) return { kind: 'token', token: entry.token }
  if (entry.username || entry.password) return { kind: 'basic', username: entry.username ?? '', password: entry.password ?? '' }
  if (oidc) return { kind: 'oidc', provider: oidc }
  if (entry.exec && !hasClientCertificate) {
    const exec = entry.exec
    const plugin: ExecPluginConfig = {
      apiVersion: exec.apiVersion as ExecPluginConfig['apiVersion'],
      // A bare name is looked up on PATH; a path with a separator is relative to the kubeconfig, as in kubectl.
      command: exec.command!.includes(sep) ? relativeTo(dir, exec.command!) : exec.command!,
      args: exec.args ?? [],
      env: (exec.env ?? []).map(({ name: variable, value }) => ({ name: variable, value: value ?? '' })),
      provideClusterInfo: exec.provideClusterInfo ?? false,
      interactiveMode: (exec.interactiveMode ?? 'IfAvailable') as ExecPluginConfig['interactiveMode'],
    }
    if (exec.installHint) plugin.installHint = exec.installHint
    return { kind: 'exec', plugin }
  }
  return { kind: 'none' }
}

/** client-go's oidc provider requires an issuer and a client id even to use a still-valid id-token. */
function resolveOidc(name: string, config: Record<string, string | null | undefined>, file: string): OidcProviderConfig {
  const where = `user ${name} (${file}): auth-provider oidc`
  const value = (key: string): string | undefined => config[key] || undefined
  const issuerUrl = value('idp-issuer-url')
  const clientId = value('client-id')
  if (!issuerUrl) throw invalid(`${where} has no idp-issuer-url (kubectl requires one too)`)
  if (!clientId) throw invalid(`${where} has no client-id (kubectl requires one too)`)
  try {
    new URL(issuerUrl)
  } catch {
    throw invalid(`${where}: idp-issuer-url ${issuerUrl} is not a URL`)
  }
  const idToken = value('id-token')
  if (idToken !== undefined && idToken.split('.').length !== 3) throw invalid(`${where}: id-token is not a JWT (three dot-separated parts)`)
  const provider: OidcProviderConfig = { file, user: name, issuerUrl, clientId }
  const secret = value('client-secret')
  const refreshToken = value('refresh-token')
  if (secret) provider.clientSecret = secret
  if (idToken) provider.idToken = idToken
  if (refreshToken) provider.refreshToken = refreshToken
  // client-go does not resolve this path against the kubeconfig (it is not among clientcmd's file references).
  const ca = pemOf(`${where} idp-certificate-authority`, value('idp-certificate-authority-data'), value('idp-certificate-authority'), process.cwd())
  if (ca) provider.certificateAuthority = ca
  return provider
}

/** client-go's InClusterConfig: the service host and port, the token file, and ca.crt when it can be read. */
function inClusterConnection(source: KubeconfigSource): KubernetesConnection | undefined {
  const host = source.env.KUBERNETES_SERVICE_HOST
  const port = source.env.KUBERNETES_SERVICE_PORT
  if (!host || !port) return undefined
  // An IPv6 service address needs brackets in a URL.
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`)
  const cluster: KubernetesCluster = { server, insecureSkipTlsVerify: false }
  try {
    cluster.certificateAuthority = readFileSync(join(SERVICE_ACCOUNT_DIR, 'ca.crt'))
  } catch {
    // client-go logs this and goes on with the system's roots.
  }
  return { context: IN_CLUSTER_CONTEXT, cluster, auth: { kind: 'tokenFile', path: join(SERVICE_ACCOUNT_DIR, 'token') } }
}

/** Inline base64 data, else a file (kubectl refuses both; see validateUser and resolveCluster). */
function pemOf(what: string, data: string | null | undefined, file: string | null | undefined, dir: string): Buffer | undefined {
  if (data) {
    // Go decodes []byte fields with base64.StdEncoding, which skips line breaks and nothing else.
    const compact = data.replace(/[\r\n]/g, '')
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) throw invalid(`the ${what}-data is not base64`)
    return Buffer.from(compact, 'base64')
  }
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
