/** Kubeconfig loading: sources and merging as kubectl does, relative paths, every supported auth method, contexts. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
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
})
