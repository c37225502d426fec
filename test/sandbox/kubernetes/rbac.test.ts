/**
 * RBAC as kubectl and @kubernetes/client-node meet it: the kubeconfig's per-user contexts (over the plane's TLS
 * endpoint, where kubectl sends tokens), `kubectl auth can-i` and `--list` answered by SelfSubjectAccessReview and
 * SelfSubjectRulesReview, the apiserver's 403 Status, impersonation, and 401 for an unknown token.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApiException, AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { userToken } from '../../../src/sandbox/kubernetes/rbac.js'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { kubectlFor, NAMESPACE, namespaceState } from './support.js'

const seed: SeedInput = {
  kubernetes: {
    namespaces: {
      [NAMESPACE]: { deployments: [{ name: 'refund-api', labels: { app: 'refund' }, replicas: 2, terminationGracePeriodSeconds: 1 }] },
      other: { deployments: [{ name: 'billing', labels: { app: 'billing' }, replicas: 1 }] },
    },
    rbac: {
      users: [
        {
          name: 'scaler',
          namespaces: [NAMESPACE],
          rules: [
            { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] },
            { apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'], resourceNames: ['refund-api'] },
          ],
        },
        { name: 'auditor', groups: ['auditors'], rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['get', 'list'] }] },
      ],
    },
  },
}

describe('RBAC', () => {
  let sandbox: Sandbox
  let cacheDir: string
  const kubectl = kubectlFor(
    () => sandbox,
    () => cacheDir,
  )
  const asScaler = ['--context', 'killswitch-sandbox-as-scaler']
  const clients = (context: string) => {
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(sandbox.kubeconfigPath)
    kubeConfig.setCurrentContext(context)
    return { apps: kubeConfig.makeApiClient(AppsV1Api), core: kubeConfig.makeApiClient(CoreV1Api) }
  }

  beforeEach(async () => {
    sandbox = await startSandbox({ seed })
    cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'))
  })

  afterEach(async () => {
    await sandbox.stop()
    await rm(cacheDir, { recursive: true, force: true })
  })

  it('writes a user and a context per seeded user; the current context stays the admin in system:masters', async () => {
    const kubeconfig = await readFile(sandbox.kubeconfigPath, 'utf8')
    expect(kubeconfig).toContain('current-context: killswitch-sandbox\n')
    expect(kubeconfig).toContain(`token: ${userToken('scaler')}`)
    expect(await kubectl('config', 'get-contexts', '-o', 'name')).toBe('killswitch-sandbox\nkillswitch-sandbox-as-auditor\nkillswitch-sandbox-as-scaler\n')
    expect(await kubectl('auth', 'whoami')).toMatch(/Username\s+kubernetes-admin\nGroups\s+\[system:masters system:authenticated\]/)
    expect(await kubectl('auth', 'whoami', ...asScaler)).toMatch(/Username\s+scaler\nGroups\s+\[system:authenticated\]/)
  })

  it('kubectl auth can-i answers by verb, group, resource, subresource, namespace and resource name', async () => {
    const canI = async (...args: string[]) => (await kubectl.run('auth', 'can-i', ...args, ...asScaler)).stdout.trim()
    expect(await canI('patch', 'deployments', '--subresource=scale')).toBe('no') // no resource name: resourceNames rules do not match
    expect(await canI('patch', 'deployments/refund-api', '--subresource=scale')).toBe('yes')
    expect(await canI('patch', 'deployments/billing-api', '--subresource=scale')).toBe('no')
    expect(await canI('patch', 'deployments/refund-api')).toBe('no')
    expect(await canI('list', 'deployments')).toBe('yes')
    expect(await canI('list', 'deployments', '-n', 'other')).toBe('no')
    expect(await canI('delete', 'pods')).toBe('no')
    expect((await kubectl.run('auth', 'can-i', 'get', 'pods', '-A', '--context', 'killswitch-sandbox-as-auditor')).stdout.trim()).toBe('yes')
    expect((await kubectl.run('auth', 'can-i', 'delete', 'pods')).stdout.trim()).toBe('yes')
    const denied = await kubectl.run('auth', 'can-i', 'delete', 'pods', ...asScaler)
    expect(denied.code).toBe(1)

    const list = await kubectl('auth', 'can-i', '--list', ...asScaler)
    expect(list).toMatch(/deployments\.apps\s+\[\]\s+\[\]\s+\[get list watch\]/)
    expect(list).toMatch(/deployments\.apps\/scale\s+\[\]\s+\[refund-api\]\s+\[get patch\]/)
    expect(list).toMatch(/selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/)
  })

  it('refuses with the apiserver\'s 403 Status, and lets the allowed scale through', async () => {
    const refused = await kubectl.run('annotate', 'deployment', 'refund-api', 'killswitch.dev/prior-replicas=2', ...asScaler)
    expect(refused.stderr).toContain('Error from server (Forbidden): deployments.apps "refund-api" is forbidden: User "scaler" cannot patch resource "deployments" in API group "apps" in the namespace "agents"')
    expect(await kubectl('scale', 'deployment/refund-api', '--replicas=0', ...asScaler)).toContain('deployment.apps/refund-api scaled')
    expect(namespaceState(sandbox).deployments['refund-api']!.replicas).toBe(0)

    const { apps, core } = clients('killswitch-sandbox-as-scaler')
    const error = await apps
      .patchNamespacedDeployment({ name: 'refund-api', namespace: NAMESPACE, body: { metadata: { annotations: { a: 'b' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiException)
    expect((error as ApiException<string>).code).toBe(403)
    expect(JSON.parse((error as ApiException<string>).body)).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'deployments.apps "refund-api" is forbidden: User "scaler" cannot patch resource "deployments" in API group "apps" in the namespace "agents"',
      reason: 'Forbidden',
      details: { name: 'refund-api', group: 'apps', kind: 'deployments' },
      code: 403,
    })
    const listing = (await core.listPodForAllNamespaces().catch((e: unknown) => e)) as ApiException<string>
    expect(JSON.parse(listing.body)).toMatchObject({
      message: 'pods is forbidden: User "scaler" cannot list resource "pods" in API group "" at the cluster scope',
      details: { kind: 'pods' },
    })
    const scaleOther = (await apps.readNamespacedDeploymentScale({ name: 'refund-api', namespace: 'other' }).catch((e: unknown) => e)) as ApiException<string>
    expect(JSON.parse(scaleOther.body).message).toBe('deployments.apps "refund-api" is forbidden: User "scaler" cannot get resource "deployments/scale" in API group "apps" in the namespace "other"')
  })

  it('honours impersonation from the admin, and refuses it from a restricted user', async () => {
    const denied = await kubectl.run('delete', 'pod', 'x', '--as', 'scaler')
    expect(denied.stderr).toContain('pods "x" is forbidden: User "scaler" cannot delete resource "pods" in API group "" in the namespace "agents"')
    // The impersonated groups, plus system:authenticated, are the user's: the auditors group binds nothing, system:masters everything.
    expect((await kubectl.run('auth', 'can-i', 'delete', 'pods', '--as', 'someone', '--as-group', 'system:masters')).stdout.trim()).toBe('yes')
    expect(await kubectl('auth', 'whoami', '--as', 'auditor', '--as-group', 'auditors')).toMatch(/Username\s+auditor\nGroups\s+\[auditors system:authenticated\]/)

    // A restricted user is refused before anything else, discovery included.
    const escalation = await kubectl.run('get', 'pods', '--as', 'kubernetes-admin', ...asScaler)
    expect(escalation.code).not.toBe(0)
    expect(escalation.stderr).toContain('Error from server (Forbidden)')
    const kubeconfig = await readFile(sandbox.kubeconfigPath, 'utf8')
    const secure = /server: (https:\/\/\S+)/.exec(kubeconfig)![1]!
    const answer = await new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const req = httpsRequest(`${secure}/api/v1/namespaces/${NAMESPACE}/pods`, { rejectUnauthorized: false, headers: { authorization: `Bearer ${userToken('scaler')}`, 'impersonate-user': 'kubernetes-admin' } }, (res) => {
        let text = ''
        res.on('data', (chunk: Buffer) => (text += chunk.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
      })
      req.on('error', reject)
      req.end()
    })
    expect(answer).toEqual({
      status: 403,
      body: expect.objectContaining({
        reason: 'Forbidden',
        message: 'users "kubernetes-admin" is forbidden: User "scaler" cannot impersonate resource "users" in API group "" at the cluster scope',
        details: { name: 'kubernetes-admin', kind: 'users' },
      }),
    })
  })

  it('answers an unknown bearer token with 401 Unauthorized', async () => {
    const response = await fetch(`${sandbox.url}/api/v1/namespaces/${NAMESPACE}/pods`, { headers: { authorization: 'Bearer nobody-has-this' } })
    expect(response.status).toBe(401)
    expect(await response.json()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 })
  })
})
