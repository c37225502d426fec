/**
 * Exec credential plugins, run for real: a small node script stands in for `aws eks get-token`. It logs the
 * KUBERNETES_EXEC_INFO it received and its own env, and answers with a numbered token, so the tests can tell how
 * many times it ran.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { createExecCredentialSource } from '../../../src/primitives/kubernetes/exec-credential.js'
import type { ExecPluginConfig, KubernetesCluster } from '../../../src/primitives/kubernetes/kubeconfig.js'

const PLUGIN = `
import { appendFileSync, existsSync, readFileSync } from 'node:fs'
const log = process.env.PLUGIN_LOG
const runs = existsSync(log) ? readFileSync(log, 'utf8').split('\\n').filter(Boolean).length + 1 : 1
appendFileSync(log, JSON.stringify({ info: JSON.parse(process.env.KUBERNETES_EXEC_INFO), region: process.env.AWS_REGION, args: process.argv.slice(2) }) + '\\n')
if (process.env.PLUGIN_MODE === 'fail') {
  process.stderr.write('error: no SSO session, run aws sso login\\n')
  process.exit(3)
}
const status = process.env.PLUGIN_MODE === 'cert'
  ? { clientCertificateData: 'CERT PEM', clientKeyData: 'KEY PEM' }
  : { token: 'secret-token-' + runs, expirationTimestamp: process.env.PLUGIN_EXPIRES }
process.stdout.write(JSON.stringify({ apiVersion: process.env.PLUGIN_API_VERSION, kind: 'ExecCredential', status }))
`

const EXPIRES = '2030-01-01T00:00:00Z'
const cluster: KubernetesCluster = {
  server: new URL('https://eks.example:443'),
  certificateAuthority: Buffer.from('CA PEM'),
  insecureSkipTlsVerify: false,
  tlsServerName: 'kubernetes',
  execExtension: { region: 'eu-west-1' },
}

describe('exec credential plugins', () => {
  let dir: string
  let log: string
  const signal = new AbortController().signal
  const runs = async () =>
    (await readFile(log, 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { info: unknown; region?: string; args: string[] })
  const plugin = (mode: string, overrides: Partial<ExecPluginConfig> = {}): ExecPluginConfig => ({
    apiVersion: 'client.authentication.k8s.io/v1',
    command: process.execPath,
    args: [join(dir, 'plugin.mjs'), '--cluster-name', 'prod'],
    env: [
      { name: 'PLUGIN_LOG', value: log },
      { name: 'PLUGIN_MODE', value: mode },
      { name: 'PLUGIN_API_VERSION', value: overrides.apiVersion ?? 'client.authentication.k8s.io/v1' },
      { name: 'PLUGIN_EXPIRES', value: EXPIRES },
    ],
    provideClusterInfo: false,
    ...overrides,
  })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-exec-'))
    await writeFile(join(dir, 'plugin.mjs'), PLUGIN)
  })
  beforeEach(async () => {
    log = join(dir, `runs-${Math.random().toString(36).slice(2)}.log`)
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('runs the plugin with its args and env on top of the configured env, and passes KUBERNETES_EXEC_INFO', async () => {
    const source = createExecCredentialSource(plugin('token', { provideClusterInfo: true }), cluster, { AWS_REGION: 'us-east-1' })

    expect(await source.get(signal)).toEqual({ token: 'secret-token-1', clientCertificate: undefined })
    expect(await runs()).toEqual([
      {
        args: ['--cluster-name', 'prod'],
        region: 'us-east-1',
        info: {
          apiVersion: 'client.authentication.k8s.io/v1',
          kind: 'ExecCredential',
          spec: {
            interactive: false,
            cluster: {
              server: 'https://eks.example',
              'tls-server-name': 'kubernetes',
              'certificate-authority-data': Buffer.from('CA PEM').toString('base64'),
              config: { region: 'eu-west-1' },
            },
          },
        },
      },
    ])
  })

  it('leaves the cluster out of KUBERNETES_EXEC_INFO unless provideClusterInfo, and speaks v1beta1', async () => {
    const source = createExecCredentialSource(plugin('token', { apiVersion: 'client.authentication.k8s.io/v1beta1' }), cluster, {})
    await source.get(signal)
    expect((await runs())[0]!.info).toEqual({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', spec: { interactive: false } })
  })

  it('reuses the credential until its expirationTimestamp, then runs the plugin again', async () => {
    let now = Date.parse(EXPIRES) - 60_000
    const source = createExecCredentialSource(plugin('token'), cluster, {}, () => now)

    const [first, concurrent] = await Promise.all([source.get(signal), source.get(signal)])
    expect(await source.get(signal)).toEqual(first)
    expect(concurrent).toEqual(first)
    expect(await runs()).toHaveLength(1)

    now = Date.parse(EXPIRES)
    expect((await source.get(signal)).token).toBe('secret-token-2')
    expect(await runs()).toHaveLength(2)
  })

  it('runs the plugin again after invalidate (the API server answered 401)', async () => {
    const source = createExecCredentialSource(plugin('token'), cluster, {})
    expect((await source.get(signal)).token).toBe('secret-token-1')
    source.invalidate()
    expect((await source.get(signal)).token).toBe('secret-token-2')
  })

  it('returns a client certificate and key when the plugin gives those', async () => {
    const source = createExecCredentialSource(plugin('cert'), cluster, {})
    expect(await source.get(signal)).toEqual({ token: undefined, clientCertificate: { cert: Buffer.from('CERT PEM'), key: Buffer.from('KEY PEM') } })
  })

  it('fails with the exit code and stderr of a failed run, and runs again on the next call', async () => {
    const source = createExecCredentialSource(plugin('fail'), cluster, {})
    const error = await source.get(signal).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PrimitiveError)
    expect((error as PrimitiveError).code).toBe('KubernetesExecPluginFailed')
    expect((error as PrimitiveError).message).toBe(
      `the kubeconfig exec credential plugin ${process.execPath} exited with code 3: error: no SSO session, run aws sso login`,
    )
    await source.get(signal).catch(() => undefined)
    expect(await runs()).toHaveLength(2)
  })

  it('refuses an ExecCredential of another apiVersion than the kubeconfig asks for', async () => {
    const mismatched = plugin('token')
    mismatched.env = mismatched.env.map((entry) => (entry.name === 'PLUGIN_API_VERSION' ? { ...entry, value: 'client.authentication.k8s.io/v1beta1' } : entry))
    const error = await createExecCredentialSource(mismatched, cluster, {}).get(signal).catch((e: unknown) => e)
    expect((error as PrimitiveError).code).toBe('KubernetesExecPluginFailed')
    expect((error as PrimitiveError).message).not.toContain('secret-token')
  })

  it('gives the install hint when the command does not exist', async () => {
    const missing = plugin('token', { command: join(dir, 'no-such-plugin'), installHint: 'install the aws CLI v2' })
    const error = await createExecCredentialSource(missing, cluster, {}).get(signal).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'KubernetesExecPluginFailed', hint: 'install the aws CLI v2' })
  })
})
