/**
 * The built-in object shapes the plane serves (core/v1 Namespace, Node, Pod; apps/v1 Deployment, StatefulSet,
 * ReplicaSet; autoscaling/v1 Scale) and their builders. Field presence follows the Go types' JSON tags: zero-valued
 * `omitempty` integers are absent on the wire (e.g. a Scale at 0 replicas has `"spec":{}`), which clients must
 * tolerate against a real cluster too. Batch and custom resources live in batch.ts and custom-resources.ts.
 */
import { createHash, randomUUID } from 'node:crypto'
import type { WorkloadSeed } from './seed.js'
import type { ManagedFieldsEntry } from './managed-fields.js'
import type { Json } from './patch.js'
import { RESOURCES, type ResourceName, type WorkloadResource } from './resources.js'
import { formatMatchLabels } from './selectors.js'

export type { ResourceName, WorkloadResource } from './resources.js'

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
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
  finalizers?: string[]
  managedFields?: ManagedFieldsEntry[]
}

export interface Container {
  name: string
  image: string
}

export interface PodTemplate {
  metadata: { labels: Record<string, string> }
  spec: { terminationGracePeriodSeconds: number; containers: Container[]; restartPolicy?: 'Always' | 'Never' | 'OnFailure' }
}

export interface WorkloadSpec {
  replicas: number
  selector: { matchLabels: Record<string, string> }
  template: PodTemplate
  /** Deployments only: `kubectl rollout pause` (omitempty: absent when false). */
  paused?: boolean
  progressDeadlineSeconds?: number
  strategy?: Json
  revisionHistoryLimit?: number
  /** StatefulSets only. */
  podManagementPolicy?: 'OrderedReady' | 'Parallel'
  serviceName?: string
  updateStrategy?: Json
}

/** Deployment, StatefulSet and ReplicaSet status; integers that are 0 are omitted except where the Go type requires them. */
export type WorkloadStatus = Partial<Record<string, number | string>>

export interface Workload {
  apiVersion: 'apps/v1'
  kind: 'Deployment' | 'StatefulSet'
  metadata: ObjectMeta
  spec: WorkloadSpec
  status: WorkloadStatus
}

export interface ReplicaSet {
  apiVersion: 'apps/v1'
  kind: 'ReplicaSet'
  metadata: ObjectMeta
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: PodTemplate }
  status: WorkloadStatus
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed'

export interface PodCondition {
  type: string
  status: 'True' | 'False'
  lastTransitionTime: string
  reason?: string
  message?: string
}

export interface ContainerStatus {
  name: string
  image: string
  ready: boolean
  restartCount: number
  started: boolean
  state: { running?: { startedAt: string }; waiting?: { reason: string }; terminated?: { exitCode: number; reason: string; startedAt: string; finishedAt: string } }
}

export interface Pod {
  apiVersion: 'v1'
  kind: 'Pod'
  metadata: ObjectMeta
  spec: {
    containers: Container[]
    terminationGracePeriodSeconds: number
    nodeName?: string
    restartPolicy: 'Always' | 'Never' | 'OnFailure'
    serviceAccountName: string
    schedulerName: string
    hostname?: string
  }
  status: {
    phase: PodPhase
    reason?: string
    message?: string
    conditions: PodCondition[]
    hostIP?: string
    podIP?: string
    startTime?: string
    containerStatuses?: ContainerStatus[]
  }
}

export interface Namespace {
  apiVersion: 'v1'
  kind: 'Namespace'
  metadata: ObjectMeta
  spec: { finalizers: string[] }
  status: { phase: 'Active' }
}

export interface NodeCondition {
  type: string
  status: 'True' | 'False' | 'Unknown'
  reason: string
  message: string
  lastHeartbeatTime: string
  lastTransitionTime: string
}

export interface Node {
  apiVersion: 'v1'
  kind: 'Node'
  metadata: ObjectMeta
  spec: { podCIDR: string; taints?: { key: string; effect: string; timeAdded: string }[] }
  status: {
    conditions: NodeCondition[]
    addresses: { type: string; address: string }[]
    nodeInfo: Record<string, string>
    capacity: Record<string, string>
    allocatable: Record<string, string>
  }
}

export interface Scale {
  kind: 'Scale'
  apiVersion: 'autoscaling/v1'
  metadata: Pick<ObjectMeta, 'name' | 'namespace' | 'uid' | 'resourceVersion' | 'creationTimestamp'>
  spec: { replicas?: number }
  status: { replicas: number; selector: string }
}

/** A custom or batch resource: spec and status are free-form JSON, read through helpers that tolerate any shape. */
export interface GenericObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  spec: { [field: string]: Json }
  status: { [field: string]: Json }
}

export interface ResourceTypes {
  namespaces: Namespace
  nodes: Node
  pods: Pod
  deployments: Workload
  statefulsets: Workload
  replicasets: ReplicaSet
  cronjobs: GenericObject
  jobs: GenericObject
  horizontalpodautoscalers: GenericObject
  scaledobjects: GenericObject
  applications: GenericObject
  kustomizations: GenericObject
  helmreleases: GenericObject
}
export type KubeObject = ResourceTypes[ResourceName]

/** The node every sandbox cluster has, Ready unless the seed says otherwise. */
export const DEFAULT_NODE = 'sandbox-node-1'
export const KUBERNETES_VERSION = 'v1.35.0'

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

/** `{ [field]: map }` unless the map is empty: metadata maps are `omitempty`. */
export function nonEmpty<K extends string>(field: K, map: Record<string, string>): Partial<Record<K, Record<string, string>>> {
  return Object.keys(map).length === 0 ? {} : ({ [field]: { ...map } } as Record<K, Record<string, string>>)
}

export function newMeta(name: string, namespace: string | undefined, now: Date, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return { name, ...(namespace === undefined ? {} : { namespace }), uid: randomUUID(), resourceVersion: '', creationTimestamp: timestamp(now), ...extra }
}

/** The owner reference a controller sets on what it creates. */
export function controllerReference(owner: { apiVersion: string; kind: string; metadata: ObjectMeta }): OwnerReference {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true }
}

/** The controlling owner reference, as `metav1.GetControllerOf` finds it. */
export function controllerOf(object: { metadata: ObjectMeta }): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((reference) => reference.controller === true)
}

export function newNamespace(name: string, now: Date): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: newMeta(name, undefined, now, { labels: { 'kubernetes.io/metadata.name': name } }), spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }
}

let nextNodeIndex = 0

/** A node; one that is not Ready has the Unknown condition and unreachable taints its lost kubelet leaves. */
export function newNode(name: string, ready: boolean, now: Date): Node {
  const at = timestamp(now)
  const index = nextNodeIndex++
  const condition = (type: string, status: NodeCondition['status'], reason: string, message: string): NodeCondition => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: at,
    lastTransitionTime: at,
  })
  const pressure = (type: string, reason: string, what: string) =>
    ready ? condition(type, 'False', reason, `kubelet has no ${what}`) : condition(type, 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.')
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: newMeta(name, undefined, now, {
      labels: { 'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'node.kubernetes.io/instance-type': 'sandbox' },
    }),
    spec: {
      podCIDR: `10.244.${index}.0/24`,
      ...(ready
        ? {}
        : {
            taints: [
              { key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule', timeAdded: at },
              { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute', timeAdded: at },
            ],
          }),
    },
    status: {
      conditions: [
        pressure('MemoryPressure', 'KubeletHasSufficientMemory', 'memory pressure'),
        pressure('DiskPressure', 'KubeletHasNoDiskPressure', 'disk pressure'),
        pressure('PIDPressure', 'KubeletHasSufficientPID', 'PID pressure'),
        ready ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status') : condition('Ready', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.'),
      ],
      addresses: [
        { type: 'InternalIP', address: `192.168.0.${index + 10}` },
        { type: 'Hostname', address: name },
      ],
      nodeInfo: {
        architecture: 'amd64',
        containerRuntimeVersion: 'containerd://2.1.0',
        kernelVersion: '6.8.0-sandbox',
        kubeProxyVersion: KUBERNETES_VERSION,
        kubeletVersion: KUBERNETES_VERSION,
        operatingSystem: 'linux',
        osImage: 'killswitch sandbox',
      },
      capacity: { cpu: '8', memory: '32Gi', pods: '110' },
      allocatable: { cpu: '8', memory: '31Gi', pods: '110' },
    },
  }
}

export function isNodeReady(node: Node | undefined): boolean {
  return node?.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') === true
}

/** A workload as seeded: selector and pod template labels are the seed labels. Status is filled by the controller. */
export function newWorkload(resource: WorkloadResource, namespace: string, seed: WorkloadSeed, now: Date): Workload {
  const common = {
    replicas: seed.replicas,
    selector: { matchLabels: { ...seed.labels } },
    template: {
      metadata: { labels: { ...seed.labels } },
      spec: { terminationGracePeriodSeconds: seed.terminationGracePeriodSeconds, containers: [{ name: 'agent', image: `sandbox.local/${seed.name}:latest` }] },
    },
    revisionHistoryLimit: 10,
  }
  const spec: WorkloadSpec =
    resource === 'deployments'
      ? { ...common, progressDeadlineSeconds: 600, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } } }
      : { ...common, serviceName: seed.name, podManagementPolicy: seed.podManagementPolicy, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } } }
  return {
    apiVersion: 'apps/v1',
    kind: RESOURCES[resource].kind as Workload['kind'],
    metadata: newMeta(seed.name, namespace, now, {
      generation: 1,
      ...nonEmpty('labels', { ...seed.labels, ...seed.metadataLabels }),
      ...nonEmpty('annotations', seed.annotations),
    }),
    spec,
    status: {},
  }
}

/** The Deployment's one ReplicaSet `<name>-<hash>`: the Deployment's template plus `pod-template-hash`, owned by it. */
export function newReplicaSet(deployment: Workload, now: Date): ReplicaSet {
  const { name, namespace = '' } = deployment.metadata
  const hash = templateHash(namespace, name)
  const labels = { ...deployment.spec.template.metadata.labels, 'pod-template-hash': hash }
  const replicas = deployment.spec.replicas
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: newMeta(replicaSetName(deployment), namespace, now, {
      generation: 1,
      labels,
      annotations: replicaSetAnnotations(replicas),
      ownerReferences: [controllerReference(deployment)],
    }),
    spec: {
      replicas,
      selector: { matchLabels: { ...deployment.spec.selector.matchLabels, 'pod-template-hash': hash } },
      template: { metadata: { labels }, spec: structuredClone(deployment.spec.template.spec) },
    },
    status: { replicas: 0 },
  }
}

export function replicaSetName(deployment: Workload): string {
  return `${deployment.metadata.name}-${templateHash(deployment.metadata.namespace ?? '', deployment.metadata.name)}`
}

/** What the Deployment controller writes on its ReplicaSets (max-replicas: replicas + the default 25% surge). */
export function replicaSetAnnotations(replicas: number): Record<string, string> {
  return {
    'deployment.kubernetes.io/desired-replicas': String(replicas),
    'deployment.kubernetes.io/max-replicas': String(replicas + Math.ceil(replicas * 0.25)),
    'deployment.kubernetes.io/revision': '1',
  }
}

/** StatefulSet pods are `<name>-<ordinal>`. */
export function ordinalOf(pod: Pod): number {
  return Number(pod.metadata.labels?.['apps.kubernetes.io/pod-index'] ?? -1)
}

export interface PodOptions {
  namespace: string
  name: string
  generateName?: string
  labels: Record<string, string>
  owner?: OwnerReference
  containers: Container[]
  terminationGracePeriodSeconds: number
  restartPolicy: Pod['spec']['restartPolicy']
  /** Undefined: not scheduled. */
  nodeName?: string
  /** Whether that node's kubelet reports Ready; a pod on a lost node is marked not Ready. */
  nodeReady: boolean
  phase: PodPhase
  reason?: string
  finalizers?: string[]
  hostname?: string
}

let nextPodIp = 1

function podIp(): string {
  const ip = nextPodIp++
  return `10.244.${Math.floor(ip / 250) % 250}.${(ip % 250) + 1}`
}

/** Pod status as the kubelet (or, unscheduled, the scheduler) reports it for the phase. */
function podStatus(options: PodOptions, started: string): Pod['status'] {
  const { phase, containers, nodeName, nodeReady } = options
  const condition = (type: string, ok: boolean, reason?: string, message?: string): PodCondition => ({
    type,
    status: ok ? 'True' : 'False',
    lastTransitionTime: started,
    ...(reason ? { reason } : {}),
    ...(message ? { message } : {}),
  })
  if (nodeName === undefined) {
    return {
      phase: 'Pending',
      conditions: [condition('PodScheduled', false, 'Unschedulable', '0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }.')],
    }
  }
  const hostIP = '192.168.0.10'
  const status = (state: ContainerStatus['state'], ready: boolean): ContainerStatus[] =>
    containers.map((c) => ({ name: c.name, image: c.image, ready, restartCount: 0, started: state.running !== undefined, state }))
  switch (phase) {
    case 'Running': {
      const ready = nodeReady
      return {
        phase,
        conditions: [
          condition('PodReadyToStartContainers', true),
          condition('Initialized', true),
          condition('Ready', ready, ready ? undefined : 'NodeNotReady'),
          condition('ContainersReady', ready),
          condition('PodScheduled', true),
        ],
        hostIP,
        podIP: podIp(),
        startTime: started,
        containerStatuses: status({ running: { startedAt: started } }, true),
      }
    }
    case 'Pending':
      return {
        phase,
        conditions: [
          condition('PodReadyToStartContainers', false),
          condition('Initialized', true),
          condition('Ready', false, 'ContainersNotReady', `containers with unready status: [${containers.map((c) => c.name).join(' ')}]`),
          condition('ContainersReady', false, 'ContainersNotReady', `containers with unready status: [${containers.map((c) => c.name).join(' ')}]`),
          condition('PodScheduled', true),
        ],
        hostIP,
        startTime: started,
        containerStatuses: status({ waiting: { reason: 'ContainerCreating' } }, false),
      }
    case 'Succeeded':
    case 'Failed': {
      const evicted = options.reason === 'Evicted'
      const exitCode = phase === 'Succeeded' ? 0 : 137
      const terminated = { exitCode, reason: phase === 'Succeeded' ? 'Completed' : evicted ? 'ContainerStatusUnknown' : 'Error', startedAt: started, finishedAt: started }
      return {
        phase,
        ...(options.reason ? { reason: options.reason } : {}),
        ...(evicted ? { message: 'The node was low on resource: memory. ' } : {}),
        conditions: [
          ...(evicted ? [condition('DisruptionTarget', true, 'TerminationByKubelet', 'The node was low on resource: memory. ')] : []),
          condition('PodReadyToStartContainers', false),
          condition('Initialized', true, phase === 'Succeeded' ? 'PodCompleted' : undefined),
          condition('Ready', false, phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed'),
          condition('ContainersReady', false, phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed'),
          condition('PodScheduled', true),
        ],
        hostIP,
        podIP: podIp(),
        startTime: started,
        containerStatuses: status({ terminated }, false),
      }
    }
  }
}

export function newPod(options: PodOptions, now: Date): Pod {
  const started = timestamp(now)
  const finalizers = options.finalizers ?? []
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: newMeta(options.name, options.namespace, now, {
      ...(options.generateName ? { generateName: options.generateName } : {}),
      ...nonEmpty('labels', options.labels),
      ...(options.owner ? { ownerReferences: [options.owner] } : {}),
      ...(finalizers.length > 0 ? { finalizers: [...finalizers] } : {}),
    }),
    spec: {
      containers: structuredClone(options.containers),
      terminationGracePeriodSeconds: options.terminationGracePeriodSeconds,
      ...(options.nodeName === undefined ? {} : { nodeName: options.nodeName }),
      restartPolicy: options.restartPolicy,
      serviceAccountName: 'default',
      schedulerName: 'default-scheduler',
      ...(options.hostname ? { hostname: options.hostname } : {}),
    },
    status: podStatus(options, started),
  }
}

/** Where a controller's new pod lands: the placement the seed asked for, or a Ready node as the scheduler would. */
export interface Placement {
  nodeName?: string
  nodeReady: boolean
}

/** A pod of a ReplicaSet (`<rs>-<rand5>`) or of a StatefulSet (`<name>-<ordinal>`, given `ordinal`). */
export function newControlledPod(owner: ReplicaSet | Workload, placement: Placement, finalizers: string[], now: Date, ordinal?: number): Pod {
  const { name: ownerName, namespace = '' } = owner.metadata
  const labels: Record<string, string> = { ...owner.spec.template.metadata.labels }
  let name: string
  let generateName: string | undefined
  if (ordinal === undefined) {
    generateName = `${ownerName}-`
    name = `${generateName}${randomSuffix()}`
  } else {
    name = `${ownerName}-${ordinal}`
    labels['controller-revision-hash'] = `${ownerName}-${templateHash(namespace, ownerName)}`
    labels['statefulset.kubernetes.io/pod-name'] = name
    labels['apps.kubernetes.io/pod-index'] = String(ordinal)
  }
  return newPod(
    {
      namespace,
      name,
      generateName,
      labels,
      owner: controllerReference(owner),
      containers: owner.spec.template.spec.containers,
      terminationGracePeriodSeconds: owner.spec.template.spec.terminationGracePeriodSeconds,
      restartPolicy: 'Always',
      ...placement,
      phase: placement.nodeName === undefined ? 'Pending' : 'Running',
      finalizers,
      ...(ordinal === undefined ? {} : { hostname: name }),
    },
    now,
  )
}

export function isTerminating(object: { metadata: ObjectMeta }): boolean {
  return object.metadata.deletionTimestamp !== undefined
}

export function isFinished(pod: Pod): boolean {
  return pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed'
}

/** A pod a ReplicaSet or Job counts: not terminating and not finished (`controller.FilterActivePods`). */
export function isActive(pod: Pod): boolean {
  return !isTerminating(pod) && !isFinished(pod)
}

export function isReady(pod: Pod): boolean {
  return pod.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')
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
