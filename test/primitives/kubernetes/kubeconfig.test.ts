/** Kubeconfig loading: sources and merging as kubectl does, relative paths, every supported auth method, contexts. */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { expandHome, loadKubeconfig } from '../../../src/primitives/kubernetes/kubeconfig.js'

const twoContexts = (current: string) => `apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: 'https://127.0.0.1:1'}
- name: b
  cluster: {server: 'https://127.0.0.1:2'}
users:
- name: u
  user: {token: t}
contexts:
- name: staging
  context: {cluster: a, user: u}
- name: breakglass-prod
  context: {cluster: b, user: u}
current-context: ${current}
`

function thrown(action: () => unknown): PrimitiveError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(PrimitiveError)
    return error as PrimitiveError
  }
  throw new Error('expected a PrimitiveError, nothing was thrown')
}

describe('loadKubeconfig', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-kubeconfig-'))
    await writeFile(join(dir, 'config'), twoContexts('staging'))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('expands ~ in the runbook path with HOME from the configured environment', () => {
    const loaded = loadKubeconfig({ kubeconfig: '~/config', env: { HOME: dir } })
    expect(loaded.context).toBe('staging')
    expect(loaded.cluster.server.href).toBe('https://127.0.0.1:1/')
    expect(expandHome('~', { HOME: dir })).toBe(dir)
  })

  it('falls back to ~/.kube/config of the configured HOME', async () => {
    const home = join(dir, 'home')
    await mkdir(join(home, '.kube'), { recursive: true })
    await writeFile(join(home, '.kube', 'config'), twoContexts('breakglass-prod'))
    expect(loadKubeconfig({ env: { HOME: home } }).context).toBe('breakglass-prod')
  })

  it('uses KUBECONFIG from the configured environment and the runbook context over the current one', () => {
    const loaded = loadKubeconfig({ context: 'breakglass-prod', env: { KUBECONFIG: join(dir, 'config') } })
    expect(loaded.context).toBe('breakglass-prod')
    expect(loaded.cluster.server.href).toBe('https://127.0.0.1:2/')
  })

  it('refuses a context the kubeconfig does not have, listing the ones it has', () => {
    const error = thrown(() => loadKubeconfig({ kubeconfig: join(dir, 'config'), context: 'prod', env: {} }))
    expect(error.code).toBe('KubernetesContextNotFound')
    expect(error.message).toBe('kubeconfig context prod does not exist (known: staging, breakglass-prod)')
  })

  it('merges a KUBECONFIG list as kubectl does: the first file wins per name and for current-context, missing files skipped', async () => {
    await writeFile(
      join(dir, 'first'),
      `clusters:
- name: shared
  cluster: {server: 'https://first.example:6443'}
users:
- name: shared-user
  user: {token: first-token}
contexts:
- name: first
  context: {cluster: shared, user: shared-user}
current-context: first
`,
    )
    await writeFile(
      join(dir, 'second'),
      `clusters:
- name: shared
  cluster: {server: 'https://second.example:6443'}
- name: own
  cluster: {server: 'https://127.0.0.1:8443'}
users:
- name: shared-user
  user: {token: second-token}
contexts:
- name: first
  context: {cluster: own}
- name: second
  context: {cluster: own, user: shared-user}
current-context: second
`,
    )
    const KUBECONFIG = [join(dir, 'first'), join(dir, 'does-not-exist'), join(dir, 'second')].join(delimiter)

    const current = loadKubeconfig({ env: { KUBECONFIG } })
    expect(current.context).toBe('first')
    expect(current.cluster.server.host).toBe('first.example:6443')
    expect(current.auth).toEqual({ kind: 'token', token: 'first-token' })

    const second = loadKubeconfig({ context: 'second', env: { KUBECONFIG } })
    expect(second.cluster.server.href).toBe('https://127.0.0.1:8443/')
    // The user comes from the first file that names it, even for a context of the second.
    expect(second.auth).toEqual({ kind: 'token', token: 'first-token' })
  })

  it('resolves relative paths against the file that holds them, not the working directory', async () => {
    const sub = join(dir, 'relative')
    await mkdir(join(sub, 'pki'), { recursive: true })
    await writeFile(join(sub, 'pki', 'ca.crt'), 'CA PEM')
    await writeFile(join(sub, 'pki', 'client.crt'), 'CLIENT CERT PEM')
    await writeFile(join(sub, 'pki', 'client.key'), 'CLIENT KEY PEM')
    await writeFile(
      join(sub, 'config'),
      `clusters:
- name: c
  cluster: {server: 'https://10.0.0.1', certificate-authority: pki/ca.crt, tls-server-name: kubernetes.default}
users:
- name: cert
  user: {client-certificate: pki/client.crt, client-key: ./pki/client.key, tokenFile: ../token}
- name: exec
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/get-token, args: [--cluster, c], interactiveMode: Never}
- name: exec-on-path
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, args: [eks, get-token]}
contexts:
- name: cert
  context: {cluster: c, user: cert}
- name: exec
  context: {cluster: c, user: exec}
- name: exec-on-path
  context: {cluster: c, user: exec-on-path}
current-context: cert
`,
    )

    const cert = loadKubeconfig({ kubeconfig: join(sub, 'config'), env: {} })
    expect(cert.cluster.certificateAuthority?.toString()).toBe('CA PEM')
    expect(cert.cluster.tlsServerName).toBe('kubernetes.default')
    expect(cert.clientCertificate?.cert.toString()).toBe('CLIENT CERT PEM')
    expect(cert.clientCertificate?.key.toString()).toBe('CLIENT KEY PEM')
    expect(cert.auth).toEqual({ kind: 'tokenFile', path: join(dir, 'token') })

    const exec = loadKubeconfig({ kubeconfig: join(sub, 'config'), context: 'exec', env: {} })
    expect(exec.auth).toMatchObject({ kind: 'exec', plugin: { command: join(sub, 'bin', 'get-token'), args: ['--cluster', 'c'] } })
    const onPath = loadKubeconfig({ kubeconfig: join(sub, 'config'), context: 'exec-on-path', env: {} })
    expect(onPath.auth).toMatchObject({ kind: 'exec', plugin: { command: 'aws', apiVersion: 'client.authentication.k8s.io/v1beta1' } })
  })

  it('reads inline certificate data, basic auth, insecure-skip-tls-verify, and a user-less context', async () => {
    const b64 = (text: string) => Buffer.from(text).toString('base64')
    await writeFile(
      join(dir, 'inline'),
      `clusters:
- name: c
  cluster: {server: 'https://127.0.0.1:6443', certificate-authority-data: ${b64('INLINE CA')}, insecure-skip-tls-verify: true}
users:
- name: basic
  user: {username: admin, password: s3cret}
- name: cert
  user: {client-certificate-data: ${b64('INLINE CERT')}, client-key-data: ${b64('INLINE KEY')}}
contexts:
- name: basic
  context: {cluster: c, user: basic}
- name: cert
  context: {cluster: c, user: cert}
- name: anonymous
  context: {cluster: c}
`,
    )
    const load = (context: string) => loadKubeconfig({ kubeconfig: join(dir, 'inline'), context, env: {} })

    expect(load('basic').auth).toEqual({ kind: 'basic', username: 'admin', password: 's3cret' })
    expect(load('basic').cluster.insecureSkipTlsVerify).toBe(true)
    expect(load('basic').cluster.certificateAuthority?.toString()).toBe('INLINE CA')
    expect(load('cert').clientCertificate).toEqual({ cert: Buffer.from('INLINE CERT'), key: Buffer.from('INLINE KEY') })
    expect(load('cert').auth).toEqual({ kind: 'none' })
    expect(load('anonymous').auth).toEqual({ kind: 'none' })
    expect(load('anonymous').clientCertificate).toBeUndefined()
  })

  it('names the file and the path of a malformed entry, and never echoes a credential', async () => {
    await writeFile(join(dir, 'broken'), `users:\n- name: u\n  user: {token: 42}\n`)
    const error = thrown(() => loadKubeconfig({ kubeconfig: join(dir, 'broken'), env: {} }))
    expect(error.code).toBe('KubeconfigInvalid')
    expect(error.message).toContain(`kubeconfig ${join(dir, 'broken')}: users[0] (u).user.token:`)
    expect(error.message).not.toContain('42')
  })

  it('says so when no kubeconfig exists anywhere and there is no in-cluster service account', () => {
    const error = thrown(() => loadKubeconfig({ env: { HOME: join(dir, 'nowhere') } }))
    expect(error.code).toBe('KubeconfigNotFound')
  })
  describe('every field of the kubeconfig, used or refused by name', () => {
    /** Writes a one-context kubeconfig with these cluster and user entries (flow maps) and loads it. */
    const load = async (cluster: string, user: string, extra = '', preferences = '{}') => {
      const path = join(dir, `fields-${Math.random().toString(36).slice(2)}`)
      await writeFile(
        path,
        `apiVersion: v1
kind: Config
preferences: ${preferences}
clusters:
- name: c
  cluster: {${cluster}}
users:
- name: u
  user: {${user}}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: agents, extensions: [{name: tool.example/x, extension: {a: 1}}]}
current-context: x
${extra}`,
      )
      return { path, load: () => loadKubeconfig({ kubeconfig: path, env: {} }) }
    }
    const refusal = async (cluster: string, user: string, extra = '', preferences = '{}') => {
      const { path, load: run } = await load(cluster, user, extra, preferences)
      return { path, error: thrown(run) }
    }

    it('refuses a field kubectl does not have, naming the file and the path, wherever it is', async () => {
      const cases: Array<[cluster: string, user: string, extra: string, preferences: string, field: string]> = [
        ["server: 'https://k:6443', proxy-URL: 'http://p:3128'", 'token: t', '', '{}', 'clusters[0] (c).cluster.proxy-URL'],
        ["server: 'https://k:6443'", 'token: t, tokenfile: /t', '', '{}', 'users[0] (u).user.tokenfile'],
        ["server: 'https://k:6443'", 'exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, argz: [x]}', '', '{}', 'users[0] (u).user.exec.argz'],
        ["server: 'https://k:6443'", 'token: t', 'current_context: x\n', '{}', 'current_context'],
        ["server: 'https://k:6443'", 'token: t', '', '{colours: true}', 'preferences.colours'],
      ]
      for (const [cluster, user, extra, preferences, field] of cases) {
        const { path, error } = await refusal(cluster, user, extra, preferences)
        expect(error.code, field).toBe('KubeconfigInvalid')
        expect(error.message, field).toBe(`kubeconfig ${path}: ${field}: field not supported (not a field of kubectl's kubeconfig v1)`)
      }
    })

    it('takes every field of clientcmd v1 that it supports, and the ones with no effect on a halt', async () => {
      const { load: run } = await load(
        "server: 'https://k:6443', tls-server-name: kubernetes, insecure-skip-tls-verify: yes, proxy-url: 'socks5://p:1080', disable-compression: true, extensions: [{name: client.authentication.k8s.io/exec, extension: {region: eu-west-1}}]",
        "token: t, as: jane, as-uid: '7', as-groups: [a, b], as-user-extra: {reason: [drill]}, extensions: [{name: x, extension: null}]",
        'extensions: [{name: tool.example/top, extension: {}}]\n',
      )
      const loaded = run()
      // "yes" is true, as in kubectl's YAML 1.1.
      expect(loaded.cluster).toMatchObject({ tlsServerName: 'kubernetes', insecureSkipTlsVerify: true, execExtension: { region: 'eu-west-1' } })
      expect(loaded.cluster.proxyUrl?.href).toBe('socks5://p:1080')
      expect(loaded.impersonate).toEqual({ user: 'jane', uid: '7', groups: ['a', 'b'], extra: { reason: ['drill'] } })
      expect(loaded.auth).toEqual({ kind: 'token', token: 't' })
    })

    it('refuses what kubectl refuses, with its reason', async () => {
      const b64 = Buffer.from('PEM').toString('base64')
      const cases: Array<[cluster: string, user: string, message: string]> = [
        ["server: 'https://k:6443'", 'token: t, username: a, password: b', 'more than one authentication method found (token, basicAuth)'],
        [`server: 'https://k:6443', certificate-authority: ca.crt, certificate-authority-data: ${b64}`, 'token: t', 'certificate-authority-data and certificate-authority are both specified'],
        ["server: 'https://k:6443'", `client-certificate: c.crt, client-certificate-data: ${b64}, client-key-data: ${b64}`, 'client-certificate-data and client-certificate are both specified'],
        ["server: 'https://k:6443'", 'as-groups: [system:masters]', 'as-uid, as-groups or as-user-extra without as'],
        ["server: 'https://k:6443'", 'exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}', 'exec.interactiveMode must be specified for client.authentication.k8s.io/v1'],
        ["server: 'https://k:6443'", 'exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}', 'exec.apiVersion client.authentication.k8s.io/v1alpha1 is not one kubectl accepts'],
        ["server: 'https://k:6443', proxy-url: 'socks5h://p:1080'", 'token: t', 'invalid proxy-url: unsupported scheme "socks5h", must be http, https, or socks5'],
        ["server: 'https://k:6443', proxy-url: 'ftp://user:hunter2@p:21'", 'token: t', 'invalid proxy-url: unsupported scheme "ftp", must be http, https, or socks5'],
        ['insecure-skip-tls-verify: true', 'token: t', 'no server found for cluster c'],
        ["server: 'https://k:6443', certificate-authority-data: 'not base64!'", 'token: t', 'certificate-authority-data is not base64'],
      ]
      for (const [cluster, user, message] of cases) {
        const { error } = await refusal(cluster, user)
        expect(error.code, message).toBe('KubeconfigInvalid')
        expect(error.message, message).toContain(message)
        expect(error.message).not.toContain('hunter2')
      }
    })

    it('refuses the removed auth-providers, naming their exec replacement, but only for the user a context uses', async () => {
      const gcp = (await refusal("server: 'https://k:6443'", 'auth-provider: {name: gcp, config: {access-token: secret}}')).error
      expect(gcp.message).toContain('uses the auth-provider gcp, which kubectl and killswitch no longer support')
      expect(gcp.hint).toContain('gke-gcloud-auth-plugin')
      expect(gcp.message).not.toContain('secret')
      expect((await refusal("server: 'https://k:6443'", 'auth-provider: {name: azure}')).error.hint).toContain('kubelogin')
      expect((await refusal("server: 'https://k:6443'", 'auth-provider: {name: openstack}')).error.message).toContain('which kubectl does not have either')

      const { path } = await load("server: 'https://k:6443'", 'token: t')
      await writeFile(path, (await readFile(path, 'utf8')).replace('users:\n', 'users:\n- name: old-gke\n  user: {auth-provider: {name: gcp}}\n'))
      expect(loadKubeconfig({ kubeconfig: path, env: {} }).auth).toEqual({ kind: 'token', token: 't' })
    })

    it('layers credentials as client-go does: the token file over the token, an exec plugin only without other credentials', async () => {
      await writeFile(join(dir, 'rotating-token'), 'from-file\n')
      expect((await load("server: 'https://k:6443'", `token: static, tokenFile: ${join(dir, 'rotating-token')}`)).load().auth).toEqual({
        kind: 'tokenFile',
        path: join(dir, 'rotating-token'),
        fallbackToken: 'static',
      })
      const exec = 'exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}'
      expect((await load("server: 'https://k:6443'", `token: t, ${exec}`)).load().auth).toEqual({ kind: 'token', token: 't' })
      const b64 = Buffer.from('PEM').toString('base64')
      const withCertificate = (await load("server: 'https://k:6443'", `client-certificate-data: ${b64}, client-key-data: ${b64}, ${exec}`)).load()
      expect(withCertificate.auth).toEqual({ kind: 'none' })
      expect(withCertificate.clientCertificate).toBeDefined()
      // v1beta1 defaults interactiveMode to IfAvailable, as clientcmd's defaulting does.
      expect((await load("server: 'https://k:6443'", exec)).load().auth).toMatchObject({ kind: 'exec', plugin: { interactiveMode: 'IfAvailable' } })
    })

    it('sends no credentials to an http server, as clientcmd, but still impersonates', async () => {
      const loaded = (await load("server: 'http://127.0.0.1:8080'", 'token: t, as: jane')).load()
      expect(loaded.auth).toEqual({ kind: 'none' })
      expect(loaded.credentialsWithheld).toBe(true)
      expect(loaded.impersonate).toEqual({ user: 'jane', groups: [], extra: {} })
    })
  })
})
