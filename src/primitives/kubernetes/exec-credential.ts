/**
 * Kubeconfig `exec` credential plugins (client.authentication.k8s.io v1 and v1beta1), the way EKS
 * (`aws eks get-token`), GKE (`gke-gcloud-auth-plugin`) and AKS (`kubelogin`) authenticate. The plugin runs with its
 * args and env on top of the configured environment, plus `KUBERNETES_EXEC_INFO` as kubectl sets it; it writes an
 * ExecCredential whose `status` carries a bearer token or a client certificate and key.
 *
 * Invariants: one source per plugin configuration and cluster for the whole process (`execCredentialSourceFor`),
 * as client-go keeps one Authenticator per exec config and cluster in a process-wide cache (plugin/pkg/client/auth/
 * exec/exec.go, `globalCache`): every client, every halt, restore and drill phase of one invocation shares it, so
 * the plugin runs once per context until its credential expires; one plugin run at a time per source, shared by
 * every request waiting for it; a credential is reused until its `expirationTimestamp` (forever without one) or
 * until `invalidate()` after a 401; a failed run is not remembered (the next request runs the plugin again); the
 * plugin's stdout (the secret) never appears in an error, only its exit status and stderr.
 */
import { spawn } from 'node:child_process'
import { PrimitiveError } from '../../core/primitive.js'
import { untilAborted } from '../../core/wait.js'
import type { ClientCertificate, ExecPluginConfig, KubernetesCluster } from './kubeconfig.js'

export interface ExecCredential {
  token?: string
  clientCertificate?: ClientCertificate
}

export interface ExecCredentialSource {
  /** The cached credential, or a fresh one from the plugin when none is cached or it expired. */
  get(signal: AbortSignal): Promise<ExecCredential>
  /** Forgets the cached credential (the API server rejected it), so the next `get` runs the plugin again. */
  invalidate(): void
}

/** Caps the plugin's stderr in an error message; plugins print whole help texts. */
const MAX_STDERR_CHARS = 500
/** What a plugin may write in all (execFile's maxBuffer before): an ExecCredential is a few kilobytes. */
const MAX_OUTPUT_BYTES = 1024 * 1024

const sources = new Map<string, ExecCredentialSource>()

/** The process-wide source for this plugin, cluster and environment, created on first use. */
export function execCredentialSourceFor(plugin: ExecPluginConfig, cluster: KubernetesCluster, env: NodeJS.ProcessEnv): ExecCredentialSource {
  const key = JSON.stringify([plugin, cluster.server.href, cluster.tlsServerName, cluster.insecureSkipTlsVerify, cluster.certificateAuthority?.toString('base64'), cluster.execExtension, env])
  let source = sources.get(key)
  if (!source) {
    source = createExecCredentialSource(plugin, cluster, env)
    sources.set(key, source)
  }
  return source
}

/** A source of its own, outside the process-wide cache (tests, and `execCredentialSourceFor`). */
export function createExecCredentialSource(
  plugin: ExecPluginConfig,
  cluster: KubernetesCluster,
  env: NodeJS.ProcessEnv,
  now: () => number = Date.now,
): ExecCredentialSource {
  let cached: { credential: ExecCredential; expiresAt: number } | undefined
  let running: Promise<ExecCredential> | undefined

  const run = async (): Promise<ExecCredential> => {
    const { credential, expiresAt } = await runPlugin(plugin, cluster, env)
    cached = { credential, expiresAt }
    return credential
  }

  return {
    async get(signal) {
      if (cached && now() < cached.expiresAt) return cached.credential
      running ??= run().finally(() => {
        running = undefined
      })
      return await untilAborted(running, signal)
    },
    invalidate() {
      cached = undefined
    },
  }
}

async function runPlugin(plugin: ExecPluginConfig, cluster: KubernetesCluster, env: NodeJS.ProcessEnv): Promise<{ credential: ExecCredential; expiresAt: number }> {
  if (plugin.interactiveMode === 'Always') {
    throw failed(plugin, 'requires an interactive terminal (interactiveMode: Always), and a halt never prompts', 'set interactiveMode to Never or IfAvailable, or use a plugin that runs unattended')
  }
  const stdout = await new Promise<string>((resolve, reject) => {
    // In a session of its own (detached): a terminal that hangs up during a halt sends SIGHUP to the whole job, which
    // the halt ignores (surviveHangup in src/cli/base-command.ts) but a plugin in the job would die of. (execFile
    // does not pass `detached` on, hence spawn.)
    const child = spawn(plugin.command, plugin.args, {
      env: { ...env, ...Object.fromEntries(plugin.env.map(({ name, value }) => [name, value])), KUBERNETES_EXEC_INFO: JSON.stringify(execInfo(plugin, cluster)) },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let size = 0
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_OUTPUT_BYTES) child.kill()
      else into.push(chunk)
    }
    child.stdout.on('data', collect(out))
    child.stderr.on('data', collect(err))
    child.once('error', (error: NodeJS.ErrnoException) => {
      // What client-go reports as "executable not found" (with the install hint): missing, or not executable.
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        reject(failed(plugin, error.code === 'ENOENT' ? 'was not found' : 'is not executable', plugin.installHint ?? `install ${plugin.command}, or fix users[].user.exec.command`))
      } else {
        reject(failed(plugin, `could not be started: ${error.code ?? error.message}`))
      }
    })
    child.once('close', (code, signal) => {
      if (code === 0 && size <= MAX_OUTPUT_BYTES) return resolve(Buffer.concat(out).toString('utf8'))
      const stderr = Buffer.concat(err).toString('utf8').trim().slice(-MAX_STDERR_CHARS)
      const how = size > MAX_OUTPUT_BYTES ? `wrote more than ${MAX_OUTPUT_BYTES} bytes` : code !== null ? `exited with code ${code}` : `exited with ${signal}`
      reject(failed(plugin, `${how}${stderr ? `: ${stderr}` : ''}`))
    })
    // Never interactive: a plugin that reads stdin sees its end at once instead of waiting forever.
    child.stdin.end()
  })
  return parseExecCredential(plugin, stdout)
}

/** What kubectl passes in KUBERNETES_EXEC_INFO: never interactive here, and the cluster when the plugin asks. */
function execInfo(plugin: ExecPluginConfig, cluster: KubernetesCluster): unknown {
  const spec: Record<string, unknown> = { interactive: false }
  if (plugin.provideClusterInfo) {
    spec.cluster = {
      server: cluster.server.href.replace(/\/$/, ''),
      'tls-server-name': cluster.tlsServerName,
      'insecure-skip-tls-verify': cluster.insecureSkipTlsVerify || undefined,
      'certificate-authority-data': cluster.certificateAuthority?.toString('base64'),
      config: cluster.execExtension,
    }
  }
  return { apiVersion: plugin.apiVersion, kind: 'ExecCredential', spec }
}

function parseExecCredential(plugin: ExecPluginConfig, stdout: string): { credential: ExecCredential; expiresAt: number } {
  let output: { apiVersion?: unknown; kind?: unknown; status?: Record<string, unknown> }
  try {
    output = JSON.parse(stdout) as typeof output
  } catch {
    throw failed(plugin, 'wrote something that is not JSON on stdout')
  }
  if (output?.kind !== 'ExecCredential' || output.apiVersion !== plugin.apiVersion) {
    throw failed(plugin, `wrote a ${String(output?.kind)} of ${String(output?.apiVersion)}, not the ExecCredential of ${plugin.apiVersion} the kubeconfig asks for`)
  }
  const status = output.status ?? {}
  const text = (key: string): string | undefined => (typeof status[key] === 'string' && status[key] !== '' ? status[key] : undefined)
  const token = text('token')
  const cert = text('clientCertificateData')
  const key = text('clientKeyData')
  if ((cert === undefined) !== (key === undefined)) throw failed(plugin, 'returned a client certificate without its key, or a key without its certificate')
  if (token === undefined && cert === undefined) throw failed(plugin, 'returned neither a token nor a client certificate')
  const expiration = text('expirationTimestamp')
  const expiresAt = expiration === undefined ? Number.POSITIVE_INFINITY : Date.parse(expiration)
  if (Number.isNaN(expiresAt)) throw failed(plugin, `returned an expirationTimestamp that is not a time: ${expiration}`)
  return {
    credential: { token, clientCertificate: cert === undefined ? undefined : { cert: Buffer.from(cert), key: Buffer.from(key!) } },
    expiresAt,
  }
}

function failed(plugin: ExecPluginConfig, what: string, hint?: string): PrimitiveError {
  return new PrimitiveError(
    `the kubeconfig exec credential plugin ${plugin.command} ${what}`,
    hint ?? 'run the plugin by hand to see what it needs (a login, a profile), or fix users[].user.exec in the kubeconfig',
    'KubernetesExecPluginFailed',
  )
}
