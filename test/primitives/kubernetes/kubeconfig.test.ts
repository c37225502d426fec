import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { expandHome, loadKubeConfig } from '../../../src/primitives/kubernetes/kubeconfig.js'

const kubeconfig = (current: string) => `apiVersion: v1
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

describe('loadKubeConfig', () => {
  let dir: string
  let k8s: typeof import('@kubernetes/client-node')
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'killswitch-kubeconfig-'))
    await writeFile(join(dir, 'config'), kubeconfig('staging'))
    k8s = await import('@kubernetes/client-node')
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it('expands ~ in the runbook path with HOME from the configured environment', () => {
    const loaded = loadKubeConfig(k8s, { kubeconfig: '~/config', env: { HOME: dir } })
    expect(loaded.getCurrentContext()).toBe('staging')
    expect(expandHome('~', { HOME: dir })).toBe(dir)
  })

  it('uses KUBECONFIG from the configured environment and the runbook context over the current one', () => {
    const loaded = loadKubeConfig(k8s, { context: 'breakglass-prod', env: { KUBECONFIG: join(dir, 'config') } })
    expect(loaded.getCurrentContext()).toBe('breakglass-prod')
    expect(loaded.getCurrentCluster()?.server).toBe('https://127.0.0.1:2')
  })

  it('refuses a context the kubeconfig does not have, listing the ones it has', () => {
    let error: unknown
    try {
      loadKubeConfig(k8s, { kubeconfig: join(dir, 'config'), context: 'prod', env: {} })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PrimitiveError)
    expect((error as PrimitiveError).code).toBe('KubernetesContextNotFound')
    expect((error as PrimitiveError).message).toContain('staging, breakglass-prod')
  })
})
