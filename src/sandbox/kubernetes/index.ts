/**
 * The sandbox's Kubernetes plane: apps/v1 Deployments and StatefulSets with their scale subresources, core/v1 Pods
 * and Namespaces, watches, graceful pod termination, legacy discovery. Behaviour and sources:
 * docs/sandbox/kubernetes.md.
 */
import type { ServerResponse } from 'node:http'
import type { Plane, PlaneOptions, SandboxRequest } from '../server.js'
import { WorkloadController } from './controller.js'
import { serveRoute, sendJson, type PlaneParts } from './handlers.js'
import { newNamespace, newWorkload, ownerOfPod, type WorkloadResource } from './objects.js'
import { route } from './routes.js'
import { ApiError, internalError, notEmulatedError, tooManyRequestsError } from './status.js'
import { ObjectStore } from './store.js'
import { WatchStreams } from './watch.js'
import { WorkloadWriter } from './workloads.js'

interface WorkloadState {
  /** spec.replicas */
  replicas: number
  annotations: Record<string, string>
  labels: Record<string, string>
  status: { replicas: number; terminatingReplicas?: number }
}

interface PodState {
  name: string
  /** `deployment/<name>` or `statefulset/<name>`. */
  owner: string
  phase: string
  terminating: boolean
}

export interface NamespaceState {
  deployments: Record<string, WorkloadState>
  statefulsets: Record<string, WorkloadState>
  pods: PodState[]
}

/** Namespaces that exist in every cluster, whether or not the seed mentions them. */
const BUILTIN_NAMESPACES = ['default', 'kube-system']

function seedStore(options: PlaneOptions, store: ObjectStore, controller: WorkloadController): void {
  const now = new Date()
  const namespaces = Object.keys(options.seed.kubernetes.namespaces)
  for (const name of new Set([...BUILTIN_NAMESPACES, ...namespaces])) store.put('namespaces', newNamespace(name, now))
  for (const [namespace, seeded] of Object.entries(options.seed.kubernetes.namespaces)) {
    const workloads: [WorkloadResource, typeof seeded.deployments][] = [
      ['deployments', seeded.deployments],
      ['statefulsets', seeded.statefulsets],
    ]
    for (const [resource, seeds] of workloads) {
      for (const seed of seeds) {
        store.put(resource, newWorkload(resource, namespace, seed, now))
        controller.reconcile(resource, namespace, seed.name)
      }
    }
  }
}

function planeState(store: ObjectStore): Record<string, NamespaceState> {
  const state: Record<string, NamespaceState> = {}
  for (const namespace of store.list('namespaces')) state[namespace.metadata.name] = { deployments: {}, statefulsets: {}, pods: [] }
  for (const resource of ['deployments', 'statefulsets'] as const) {
    for (const workload of store.list(resource)) {
      const status: WorkloadState['status'] = { replicas: Number(workload.status.replicas ?? 0) }
      if (workload.status.terminatingReplicas !== undefined) status.terminatingReplicas = Number(workload.status.terminatingReplicas)
      state[workload.metadata.namespace ?? '']![resource][workload.metadata.name] = {
        replicas: workload.spec.replicas,
        annotations: workload.metadata.annotations ?? {},
        labels: workload.metadata.labels ?? {},
        status,
      }
    }
  }
  for (const pod of store.list('pods')) {
    const owner = ownerOfPod(pod)
    state[pod.metadata.namespace ?? '']!.pods.push({
      name: pod.metadata.name,
      owner: owner ? `${owner.resource.replace(/s$/, '')}/${owner.name}` : '',
      phase: pod.status.phase,
      terminating: pod.metadata.deletionTimestamp !== undefined,
    })
  }
  return state
}

function sendError(res: ServerResponse, error: ApiError): void {
  const retryAfter = error.status.details?.retryAfterSeconds
  sendJson(res, error.code, error.status, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) })
}

export function createKubernetesPlane(options: PlaneOptions): Plane {
  const store = new ObjectStore()
  const controller = new WorkloadController(store, () => options.realism.profile.controllerDelayMs)
  const parts: PlaneParts = {
    store,
    controller,
    writer: new WorkloadWriter(store, controller),
    watches: new WatchStreams(store),
    serverAddress: () => new URL(options.baseUrl()).host,
  }
  seedStore(options, store, controller)

  return {
    name: 'kubernetes',
    async handle(req: SandboxRequest, res: ServerResponse) {
      const decision = await options.realism.gate('kubernetes')
      if (decision.kind === 'reset') {
        res.socket?.destroy()
        return
      }
      try {
        if (decision.kind === 'error') throw internalError()
        if (decision.kind === 'throttle') throw tooManyRequestsError(decision.retryAfterSeconds)
        const target = route(req.url.pathname)
        if (!target) throw notEmulatedError(req.method, req.url.pathname)
        serveRoute(parts, target, req, res)
      } catch (error) {
        if (!(error instanceof ApiError)) throw error
        sendError(res, error)
      }
    },
    state: () => planeState(store),
    async close() {
      parts.watches.closeAll()
      controller.close()
    },
  }
}
