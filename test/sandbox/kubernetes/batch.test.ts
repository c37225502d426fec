/**
 * batch/v1 against kubectl and @kubernetes/client-node: CronJobs (active Jobs in status.active, suspend by kubectl
 * patch, new Jobs only while not suspended) and Job deletion with each propagation policy, including batch/v1's
 * orphaning default and the warning the apiserver sends with it.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BatchV1Api, KubeConfig } from '@kubernetes/client-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { kubectlFor, NAMESPACE, namespaceState, waitUntil } from './support.js'

const seed: SeedInput = {
  kubernetes: {
    namespaces: {
      [NAMESPACE]: {
        cronjobs: [
          { name: 'nightly', labels: { app: 'nightly', class: 'refund' }, schedule: '0 3 * * *', activeJobs: 2, terminationGracePeriodSeconds: 1 },
          { name: 'ticker', labels: { app: 'ticker' }, everyMs: 150, terminationGracePeriodSeconds: 1 },
        ],
        jobs: [
          { name: 'backfill', labels: { app: 'backfill' }, pods: 2, terminationGracePeriodSeconds: 1 },
          { name: 'reindex', labels: { app: 'reindex' }, terminationGracePeriodSeconds: 1 },
          { name: 'export', labels: { app: 'export' }, terminationGracePeriodSeconds: 1 },
          { name: 'cleanup', labels: { app: 'cleanup' }, terminationGracePeriodSeconds: 1 },
        ],
      },
    },
  },
}

describe('CronJobs and Jobs', () => {
  let sandbox: Sandbox
  let cacheDir: string
  let batch: BatchV1Api
  const kubectl = kubectlFor(
    () => sandbox,
    () => cacheDir,
  )
  const podsOfJob = (job: string) => namespaceState(sandbox).pods.filter((pod) => pod.name.startsWith(`${job}-`))

  beforeEach(async () => {
    sandbox = await startSandbox({ seed })
    cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'))
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(sandbox.kubeconfigPath)
    batch = kubeConfig.makeApiClient(BatchV1Api)
  })

  afterEach(async () => {
    await sandbox.stop()
    await rm(cacheDir, { recursive: true, force: true })
  })

  it("lists a CronJob's running Jobs in status.active; each Job owns one running pod", async () => {
    const cronJob = await batch.readNamespacedCronJob({ name: 'nightly', namespace: NAMESPACE })
    expect(cronJob.spec).toMatchObject({ schedule: '0 3 * * *', suspend: false, concurrencyPolicy: 'Allow' })
    const active = cronJob.status?.active ?? []
    expect(active).toHaveLength(2)
    for (const reference of active) {
      expect(reference).toMatchObject({ kind: 'Job', apiVersion: 'batch/v1', namespace: NAMESPACE, name: expect.stringMatching(/^nightly-\d+$/) })
      const job = await batch.readNamespacedJob({ name: reference.name!, namespace: NAMESPACE })
      expect(job.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'CronJob', name: 'nightly', controller: true })])
      expect(job.status?.active).toBe(1)
      const pods = podsOfJob(reference.name!)
      expect(pods).toEqual([expect.objectContaining({ ownerKind: 'Job', owner: `job/${reference.name}`, phase: 'Running', finalizers: ['batch.kubernetes.io/job-tracking'] })])
    }
    expect(await kubectl('get', 'cronjobs')).toMatch(/nightly\s+0 3 \* \* \*\s+<none>\s+False\s+2\s/)
  })

  it('kubectl patch suspends a CronJob: no new Jobs start, the running ones go on', async () => {
    await waitUntil('ticker has started a Job', () => (namespaceState(sandbox).cronjobs.ticker?.active.length ?? 0) > 0)
    expect(await kubectl('patch', 'cronjob', 'ticker', '-p', '{"spec":{"suspend":true}}')).toContain('cronjob.batch/ticker patched')
    const started = namespaceState(sandbox).cronjobs.ticker!.active
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(namespaceState(sandbox).cronjobs.ticker).toEqual({ suspend: true, schedule: '*/5 * * * *', active: started })
    expect(await kubectl('get', 'cronjob', 'ticker')).toMatch(/ticker\s+\*\/5 \* \* \* \*\s+<none>\s+True\s/)

    // A merge patch that removes the field leaves the default, false, and scheduling resumes.
    await kubectl('patch', 'cronjob', 'ticker', '--type', 'merge', '-p', '{"spec":{"suspend":null}}')
    expect(await kubectl('get', 'cronjob', 'ticker', '-o', 'jsonpath={.spec.suspend}')).toBe('false')
    await waitUntil('ticker starts another Job', () => namespaceState(sandbox).cronjobs.ticker!.active.length > started.length)
  })

  it('kubectl delete --cascade=background removes the Job at once and its pods after their grace period', async () => {
    expect(podsOfJob('backfill')).toHaveLength(2)
    expect(await kubectl('delete', 'job', 'backfill')).toContain('job.batch "backfill" deleted')
    expect(namespaceState(sandbox).jobs.backfill).toBeUndefined()
    await waitUntil('the backfill pods are gone', () => podsOfJob('backfill').length === 0)
  })

  it('kubectl delete --cascade=foreground keeps the Job, Terminating, until its pods are gone', async () => {
    expect(await kubectl('delete', 'job', 'reindex', '--cascade=foreground', '--wait=false')).toContain('job.batch "reindex" deleted')
    const pending = await batch.readNamespacedJob({ name: 'reindex', namespace: NAMESPACE })
    expect(pending.metadata?.finalizers).toEqual(['foregroundDeletion'])
    expect(pending.metadata?.deletionTimestamp).toBeDefined()
    await waitUntil('the reindex pod terminates', () => podsOfJob('reindex').every((pod) => pod.terminating))
    expect(namespaceState(sandbox).jobs.reindex).toMatchObject({ terminating: true })
    await kubectl('wait', '--for=delete', 'job/reindex', '--timeout=10s')
    expect(podsOfJob('reindex')).toEqual([])
  })

  it('kubectl delete --cascade=orphan leaves the pods running, without their owner reference', async () => {
    const [pod] = podsOfJob('export')
    await kubectl('delete', 'job', 'export', '--cascade=orphan')
    await waitUntil('the export Job is gone', () => namespaceState(sandbox).jobs.export === undefined)
    await waitUntil('the export pod is orphaned', () => podsOfJob('export')[0]?.owner === '')
    expect(podsOfJob('export')).toEqual([expect.objectContaining({ name: pod!.name, phase: 'Running', terminating: false, ownerKind: '', finalizers: [] })])
  })

  it('a DELETE without a propagation policy orphans, as batch/v1 does for backward compatibility, with its warning', async () => {
    const response = await fetch(`${sandbox.url}/apis/batch/v1/namespaces/${NAMESPACE}/jobs/cleanup`, { method: 'DELETE' })
    expect(response.status).toBe(200)
    expect(response.headers.get('warning')).toBe(
      '299 - "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning"',
    )
    expect(await response.json()).toMatchObject({ kind: 'Job', metadata: { name: 'cleanup', finalizers: ['orphan'], deletionTimestamp: expect.any(String) } })
    await waitUntil('the cleanup Job is gone', () => namespaceState(sandbox).jobs.cleanup === undefined)
    expect(podsOfJob('cleanup')).toEqual([expect.objectContaining({ phase: 'Running', owner: '' })])

    // With Background chosen explicitly there is no warning, and the answer is a Success Status.
    const background = await batch.deleteNamespacedJobWithHttpInfo({ name: 'backfill', namespace: NAMESPACE, propagationPolicy: 'Background' })
    expect(background.headers.warning).toBeUndefined()
    expect(background.data).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'backfill', group: 'batch', kind: 'jobs' } })
  })

  it('a deleted Job pod is replaced, its tracking finalizer removed and the failure counted', async () => {
    const [pod] = podsOfJob('reindex')
    await kubectl('delete', 'pod', pod!.name)
    await waitUntil('a new reindex pod runs', () => podsOfJob('reindex').some((p) => p.name !== pod!.name && !p.terminating))
    expect(namespaceState(sandbox).jobs.reindex).toMatchObject({ active: 1, failed: 1 })
  })
})
