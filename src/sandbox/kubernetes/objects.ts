/**
 * The object shapes the plane serves (apps/v1 Deployment and StatefulSet, core/v1 Pod and Namespace,
 * autoscaling/v1 Scale) and how they are built from the seed. Field presence follows the Go types' JSON tags:
 * zero-valued `omitempty` integers are absent on the wire (e.g. a Scale at 0 replicas has `"spec":{}`), which
 * clients must tolerate against a real cluster too.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { WorkloadSeed } from '../seed.js'
import { formatMatchLabels } from './selectors.js'

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller: true
  blockOwnerDeletion: true
}

export interface ObjectMeta {
  name: string
  namespace?: string
  generateName?: string
  uid: string
  resourceVersion: string
  generation?: number
  creationTimestamp: string
  deletionTimestamp?: string
  deletionGracePeriodSeconds?: number
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
}

export interface Container {
  name: string
  image: string
}

export interface PodTemplate {
  metadata: { labels: Record<string, string> }
  spec: { terminationGracePeriodSeconds: number; containers: Container[] }
}

export interface WorkloadSpec {
  replicas: number
  selector: { matchLabels: Record<string, string> }
  template: PodTemplate
  /** StatefulSets only. */
  podManagementPolicy?: 'OrderedReady' | 'Parallel'
  serviceName?: string
}

/** Deployment and StatefulSet status; integers that are 0 are omitted except where the Go type requires them. */
export type WorkloadStatus = Partial<Record<string, number | string>>

export interface Workload {
  apiVersion: 'apps/v1'
  kind: 'Deployment' | 'StatefulSet'
  metadata: ObjectMeta
  spec: WorkloadSpec
  status: WorkloadStatus
}

export interface Pod {
  apiVersion: 'v1'
  kind: 'Pod'
  metadata: ObjectMeta
  spec: { containers: Container[]; terminationGracePeriodSeconds: number; nodeName: string; restartPolicy: 'Always'; hostname?: string }
  status: {
    phase: 'Running'
    conditions: { type: string; status: 'True'; lastTransitionTime: string }[]
    podIP: string
    startTime: string
    containerStatuses: { name: string; image: string; ready: boolean; restartCount: number; started: boolean; state: { running: { startedAt: string } } }[]
  }
}

export interface Namespace {
  apiVersion: 'v1'
  kind: 'Namespace'
  metadata: ObjectMeta
  spec: { finalizers: string[] }
  status: { phase: 'Active' }
}

export interface Scale {
  kind: 'Scale'
  apiVersion: 'autoscaling/v1'
  metadata: Pick<ObjectMeta, 'name' | 'namespace' | 'uid' | 'resourceVersion' | 'creationTimestamp'>
  spec: { replicas?: number }
  status: { replicas: number; selector: string }
}

export interface ResourceTypes {
  deployments: Workload
  statefulsets: Workload
  pods: Pod
  namespaces: Namespace
}
export type ResourceName = keyof ResourceTypes
export type WorkloadResource = 'deployments' | 'statefulsets'
export type KubeObject = ResourceTypes[ResourceName]

export interface ResourceInfo {
  group: '' | 'apps'
  kind: string
  listKind: string
  singularName: string
  namespaced: boolean
  shortNames: string[]
  /** Verbs the sandbox serves, as discovery advertises them. */
  verbs: string[]
}

export const RESOURCES: Record<ResourceName, ResourceInfo> = {
  deployments: { group: 'apps', kind: 'Deployment', listKind: 'DeploymentList', singularName: 'deployment', namespaced: true, shortNames: ['deploy'], verbs: ['get', 'list', 'patch', 'watch'] },
  statefulsets: { group: 'apps', kind: 'StatefulSet', listKind: 'StatefulSetList', singularName: 'statefulset', namespaced: true, shortNames: ['sts'], verbs: ['get', 'list', 'patch', 'watch'] },
  pods: { group: '', kind: 'Pod', listKind: 'PodList', singularName: 'pod', namespaced: true, shortNames: ['po'], verbs: ['delete', 'get', 'list', 'watch'] },
  namespaces: { group: '', kind: 'Namespace', listKind: 'NamespaceList', singularName: 'namespace', namespaced: false, shortNames: ['ns'], verbs: ['get', 'list', 'watch'] },
}

export function apiVersionOf(resource: ResourceName): string {
  const { group } = RESOURCES[resource]
  return group ? `${group}/v1` : 'v1'
}

/** RFC 3339 at second precision, as the apiserver writes metav1.Time. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** The alphabet of Kubernetes' generated name suffixes and hashes (k8s.io/apimachinery `rand.SafeEncodeString`). */
const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

function safeEncode(bytes: Uint8Array, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += SAFE_ALPHABET[bytes[i]! % SAFE_ALPHABET.length]
  return out
}

export function randomSuffix(): string {
  return safeEncode(crypto.getRandomValues(new Uint8Array(5)), 5)
}

/** A stable stand-in for the pod-template-hash / controller revision hash: the sandbox never rolls out templates. */
export function templateHash(namespace: string, name: string): string {
  return safeEncode(createHash('sha256').update(`${namespace}/${name}`).digest(), 10)
}

export function newNamespace(name: string, now: Date): Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, uid: randomUUID(), resourceVersion: '', creationTimestamp: timestamp(now), labels: { 'kubernetes.io/metadata.name': name } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  }
}

/** `{ [field]: map }` unless the map is empty: metadata maps are `omitempty`. */
function nonEmpty<K extends string>(field: K, map: Record<string, string>): Partial<Record<K, Record<string, string>>> {
  return Object.keys(map).length === 0 ? {} : ({ [field]: { ...map } } as Record<K, Record<string, string>>)
}

/** A workload as seeded: selector and pod template labels are the seed labels. Status is filled by the controller. */
export function newWorkload(resource: WorkloadResource, namespace: string, seed: WorkloadSeed, now: Date): Workload {
  const spec: WorkloadSpec = {
    replicas: seed.replicas,
    selector: { matchLabels: { ...seed.labels } },
    template: {
      metadata: { labels: { ...seed.labels } },
      spec: { terminationGracePeriodSeconds: seed.terminationGracePeriodSeconds, containers: [{ name: 'agent', image: `sandbox.local/${seed.name}:latest` }] },
    },
  }
  if (resource === 'statefulsets') {
    spec.podManagementPolicy = seed.podManagementPolicy
    spec.serviceName = seed.name
  }
  return {
    apiVersion: 'apps/v1',
    kind: RESOURCES[resource].kind as Workload['kind'],
    metadata: {
      name: seed.name,
      namespace,
      uid: randomUUID(),
      resourceVersion: '',
      generation: 1,
      creationTimestamp: timestamp(now),
      ...nonEmpty('labels', seed.labels),
      ...nonEmpty('annotations', seed.annotations),
    },
    spec,
    status: {},
  }
}

/** The pods' controller: a ReplicaSet `<deployment>-<hash>` for Deployments, the StatefulSet itself otherwise. */
function podOwner(workload: Workload): OwnerReference {
  const { name, namespace = '', uid } = workload.metadata
  if (workload.kind === 'StatefulSet') return { apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid, controller: true, blockOwnerDeletion: true }
  const replicaSet = `${name}-${templateHash(namespace, name)}`
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet, uid: createHash('sha256').update(uid).digest('hex').slice(0, 36), controller: true, blockOwnerDeletion: true }
}

/** Which workload owns a pod, from its controller reference. */
export function ownerOfPod(pod: Pod): { resource: WorkloadResource; name: string } | undefined {
  const owner = pod.metadata.ownerReferences?.[0]
  if (!owner) return undefined
  if (owner.kind === 'StatefulSet') return { resource: 'statefulsets', name: owner.name }
  return { resource: 'deployments', name: owner.name.replace(/-[^-]+$/, '') }
}

/** StatefulSet pods are `<name>-<ordinal>`. */
export function ordinalOf(pod: Pod): number {
  return Number(pod.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? -1)
}

let nextPodIp = 1

/** A Running, Ready pod of the workload. `ordinal` is given for StatefulSets. */
export function newPod(workload: Workload, now: Date, ordinal?: number): Pod {
  const { name: owner, namespace = '' } = workload.metadata
  const hash = templateHash(namespace, owner)
  const labels: Record<string, string> = { ...workload.spec.template.metadata.labels }
  let name: string
  let generateName: string | undefined
  if (ordinal === undefined) {
    labels['pod-template-hash'] = hash
    generateName = `${owner}-${hash}-`
    name = `${generateName}${randomSuffix()}`
  } else {
    name = `${owner}-${ordinal}`
    labels['controller-revision-hash'] = `${owner}-${hash}`
    labels['statefulset.kubernetes.io/pod-name'] = name
    labels['apps.kubernetes.io/pod-index'] = String(ordinal)
  }
  const started = timestamp(now)
  const ip = nextPodIp++
  const containers = structuredClone(workload.spec.template.spec.containers)
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...(generateName ? { generateName } : {}), namespace, uid: randomUUID(), resourceVersion: '', creationTimestamp: started, labels, ownerReferences: [podOwner(workload)] },
    spec: {
      containers,
      terminationGracePeriodSeconds: workload.spec.template.spec.terminationGracePeriodSeconds,
      nodeName: 'sandbox-node-1',
      restartPolicy: 'Always',
      ...(ordinal === undefined ? {} : { hostname: name }),
    },
    status: {
      phase: 'Running',
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True' as const, lastTransitionTime: started })),
      podIP: `10.244.${Math.floor(ip / 250) % 250}.${(ip % 250) + 1}`,
      startTime: started,
      containerStatuses: containers.map((c) => ({ name: c.name, image: c.image, ready: true, restartCount: 0, started: true, state: { running: { startedAt: started } } })),
    },
  }
}

/** autoscaling/v1 Scale of a workload; `spec.replicas` is `omitempty` in the Go type, so 0 is absent. */
export function toScale(workload: Workload): Scale {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = workload.metadata
  const replicas = Number(workload.status.replicas ?? 0)
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: workload.spec.replicas === 0 ? {} : { replicas: workload.spec.replicas },
    status: { replicas, selector: formatMatchLabels(workload.spec.selector.matchLabels) },
  }
}

/** Drops zero-valued fields, as Go's `omitempty` does for integers. */
export function omitZero(fields: Record<string, number | string>): WorkloadStatus {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== 0))
}
