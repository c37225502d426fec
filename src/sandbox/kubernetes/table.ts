/**
 * Server-side printing: kubectl's human output asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
 * the server's columns, which is where `kubectl get pods` shows `Terminating`. Other clients get plain objects.
 * Columns mirror the apiserver's printers (pkg/printers/internalversion/printers.go) for the built-in resources and
 * the CRDs' additionalPrinterColumns for the custom ones.
 */
import { isNodeReady, type GenericObject, type KubeObject, type Node, type Pod, type ReplicaSet, type ResourceName, type Workload } from './objects.js'
import type { Json } from './patch.js'

export type IncludeObject = 'None' | 'Metadata' | 'Object'

interface ColumnDefinition {
  name: string
  type: 'string' | 'integer' | 'boolean' | 'date'
  format: string
  description: string
  priority: number
}

interface TableRow {
  cells: (string | number | boolean | null)[]
  object?: unknown
}

export interface Table {
  kind: 'Table'
  apiVersion: string
  metadata: { resourceVersion: string }
  columnDefinitions: ColumnDefinition[]
  rows: TableRow[]
}

/** The Table API version the client asked for (`meta.k8s.io/v1` or `v1beta1`), or undefined for plain JSON. */
export function requestedTableVersion(accept: string | undefined): string | undefined {
  for (const clause of (accept ?? '').split(',')) {
    const params = new Map(
      clause
        .split(';')
        .slice(1)
        .map((param) => param.trim().split('=') as [string, string]),
    )
    if (params.get('as') === 'Table' && params.get('g') === 'meta.k8s.io') {
      const version = params.get('v')
      if (version === 'v1' || version === 'v1beta1') return `meta.k8s.io/${version}`
    }
  }
  return undefined
}

function column(name: string, type: ColumnDefinition['type'], description: string, priority = 0, format = ''): ColumnDefinition {
  return { name, type, format, description, priority }
}

const NAME = column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name')
const AGE = column('Age', 'string', 'CreationTimestamp is the time the object was created.')
const CONTAINERS = column('Containers', 'string', 'Names of each container in the template.', 1)
const IMAGES = column('Images', 'string', 'Images referenced by each container in the template.', 1)
const SELECTOR = column('Selector', 'string', 'Label selector for pods.', 1)
/** A CRD's additionalPrinterColumns column; `date` columns print as an age. */
const printer = (name: string, type: ColumnDefinition['type'], priority = 0) => column(name, type, '', priority)

const COLUMNS: Record<ResourceName, ColumnDefinition[]> = {
  pods: [
    NAME,
    column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    column('Status', 'string', 'The aggregate status of the containers in this pod.'),
    column('Restarts', 'string', 'The number of times the containers in this pod have been restarted.'),
    AGE,
    column('IP', 'string', 'IP address allocated to the pod.', 1),
    column('Node', 'string', 'Name of the node the pod is assigned to.', 1),
  ],
  deployments: [
    NAME,
    column('Ready', 'string', 'Number of the pod with ready state'),
    column('Up-to-date', 'string', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.'),
    column('Available', 'string', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.'),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  statefulsets: [NAME, column('Ready', 'string', 'Number of the pod with ready state'), AGE, CONTAINERS, IMAGES],
  replicasets: [
    NAME,
    column('Desired', 'integer', 'Number of desired pods.'),
    column('Current', 'integer', 'Number of actual replicas.'),
    column('Ready', 'integer', 'Number of ready replicas.'),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  namespaces: [NAME, column('Status', 'string', 'The status of the namespace'), AGE],
  nodes: [
    NAME,
    column('Status', 'string', 'The status of the node'),
    column('Roles', 'string', 'The roles of the node'),
    AGE,
    column('Version', 'string', 'Kubelet Version reported by the node.'),
    column('Internal-IP', 'string', 'List of internal IPs for the node.', 1),
  ],
  cronjobs: [
    NAME,
    column('Schedule', 'string', 'The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.'),
    column('Timezone', 'string', 'The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.'),
    column('Suspend', 'boolean', 'This flag tells the controller to suspend subsequent executions.'),
    column('Active', 'integer', 'A list of pointers to currently running jobs.'),
    column('Last Schedule', 'string', 'Information when was the last time the job was successfully scheduled.'),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  jobs: [
    NAME,
    column('Status', 'string', 'Status of the job.'),
    column('Completions', 'string', 'The desired number of successfully finished pods the job should be run with.'),
    column('Duration', 'string', 'Time required to complete the job.'),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
  ],
  horizontalpodautoscalers: [
    NAME,
    column('Reference', 'string', 'Reference to the target object'),
    column('Targets', 'string', 'The desired target for the HPA.'),
    column('MinPods', 'string', 'Lower limit for the number of pods that can be set by the autoscaler.'),
    column('MaxPods', 'integer', 'Upper limit for the number of pods that can be set by the autoscaler.'),
    column('Replicas', 'integer', 'Current number of replicas of pods managed by this autoscaler.'),
    AGE,
  ],
  scaledobjects: [
    NAME,
    printer('ScaleTargetKind', 'string'),
    printer('ScaleTargetName', 'string'),
    printer('Min', 'integer'),
    printer('Max', 'integer'),
    printer('Ready', 'string'),
    printer('Active', 'string'),
    printer('Fallback', 'string'),
    printer('Paused', 'string'),
    printer('Triggers', 'string'),
    printer('Authentications', 'string'),
    printer('Age', 'date'),
  ],
  applications: [NAME, printer('Sync Status', 'string'), printer('Health Status', 'string'), printer('Revision', 'string', 10), printer('Project', 'string', 10)],
  kustomizations: [NAME, printer('Age', 'date'), printer('Ready', 'string'), printer('Status', 'string')],
  helmreleases: [NAME, printer('Age', 'date'), printer('Ready', 'string'), printer('Status', 'string')],
}

/** k8s.io/apimachinery `duration.HumanDuration`, to the precision kubectl shows. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 120) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`
  if (minutes < 180) return `${minutes}m`
  const hours = Math.floor(minutes / 60)
  if (hours < 48) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`
  return `${Math.floor(hours / 24)}d`
}

type Cell = string | number | boolean | null
type JsonObject = { [key: string]: Json }

function get(object: Json | undefined, ...path: string[]): Json | undefined {
  let node = object
  for (const key of path) node = typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as JsonObject)[key] : undefined
  return node
}

/** `.status.conditions[?(@.type=="X")].<field>`; null (printed `<none>`) when absent, as for a CRD's missing column. */
function conditionField(object: GenericObject, type: string, field: string): Cell {
  const conditions = Array.isArray(object.status.conditions) ? object.status.conditions : []
  const value = get(conditions.find((c) => get(c, 'type') === type), field)
  return typeof value === 'string' ? value : null
}

/** The pod's STATUS column (printers.go printPod, simplified): Terminating, the reason, or the container state. */
function podStatus(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating'
  if (pod.status.reason) return pod.status.reason
  const state = pod.status.containerStatuses?.[0]?.state
  if (state?.waiting) return state.waiting.reason
  if (state?.terminated) return state.terminated.reason
  return pod.status.phase
}

function containerCells(containers: readonly { name: string; image: string }[]): [string, string] {
  return [containers.map((c) => c.name).join(','), containers.map((c) => c.image).join(',')]
}

function selectorCell(matchLabels: Json | undefined): string {
  return Object.entries((matchLabels ?? {}) as Record<string, string>)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
}

function cellsOf(resource: ResourceName, object: KubeObject, now: number): Cell[] {
  const age = humanDuration(now - Date.parse(object.metadata.creationTimestamp))
  const name = object.metadata.name
  switch (resource) {
    case 'pods': {
      const pod = object as Pod
      const statuses = pod.status.containerStatuses ?? []
      const ready = `${statuses.filter((c) => c.ready).length}/${pod.spec.containers.length}`
      const restarts = statuses.reduce((n, c) => n + c.restartCount, 0)
      return [name, ready, podStatus(pod), String(restarts), age, pod.status.podIP ?? '<none>', pod.spec.nodeName ?? '<none>']
    }
    case 'namespaces':
      return [name, 'Active', age]
    case 'nodes': {
      const node = object as Node
      return [name, isNodeReady(node) ? 'Ready' : 'NotReady', '<none>', age, node.status.nodeInfo.kubeletVersion ?? '', node.status.addresses.find((a) => a.type === 'InternalIP')?.address ?? '<none>']
    }
    case 'deployments':
    case 'statefulsets': {
      const workload = object as Workload
      const [names, images] = containerCells(workload.spec.template.spec.containers)
      const ready = `${Number(workload.status.readyReplicas ?? 0)}/${workload.spec.replicas}`
      if (resource === 'statefulsets') return [name, ready, age, names, images]
      return [name, ready, Number(workload.status.updatedReplicas ?? 0), Number(workload.status.availableReplicas ?? 0), age, names, images, selectorCell(workload.spec.selector.matchLabels)]
    }
    case 'replicasets': {
      const replicaSet = object as ReplicaSet
      const [names, images] = containerCells(replicaSet.spec.template.spec.containers)
      return [name, replicaSet.spec.replicas, Number(replicaSet.status.replicas ?? 0), Number(replicaSet.status.readyReplicas ?? 0), age, names, images, selectorCell(replicaSet.spec.selector.matchLabels)]
    }
    default:
      return genericCells(resource, object as GenericObject, name, age, now)
  }
}

function genericCells(resource: ResourceName, object: GenericObject, name: string, age: string, now: number): Cell[] {
  const { spec, status } = object
  const str = (value: Json | undefined): Cell => (typeof value === 'string' ? value : typeof value === 'number' ? value : null)
  switch (resource) {
    case 'cronjobs': {
      const podSpec = get(spec, 'jobTemplate', 'spec', 'template', 'spec')
      const [names, images] = containerCells((get(podSpec, 'containers') ?? []) as { name: string; image: string }[])
      const last = get(status, 'lastScheduleTime')
      const active = Array.isArray(status.active) ? status.active.length : 0
      return [name, String(spec.schedule), str(spec.timeZone) ?? '<none>', spec.suspend === true ? 'True' : 'False', active, typeof last === 'string' ? humanDuration(now - Date.parse(last)) : '<none>', age, names, images, '<none>']
    }
    case 'jobs': {
      const [names, images] = containerCells((get(spec, 'template', 'spec', 'containers') ?? []) as { name: string; image: string }[])
      const failed = Array.isArray(status.conditions) && status.conditions.some((c) => get(c, 'type') === 'Failed')
      const state = object.metadata.deletionTimestamp ? 'Terminating' : failed ? 'Failed' : 'Running'
      const started = get(status, 'startTime')
      const duration = typeof started === 'string' ? humanDuration(now - Date.parse(started)) : ''
      return [name, state, `${Number(status.succeeded ?? 0)}/${Number(spec.completions ?? 1)}`, duration, age, names, images, selectorCell(get(spec, 'selector', 'matchLabels'))]
    }
    case 'horizontalpodautoscalers': {
      const ref = (spec.scaleTargetRef ?? {}) as JsonObject
      const metric = Array.isArray(spec.metrics) ? spec.metrics[0] : undefined
      const target =
        get(metric, 'type') === 'Resource'
          ? `${String(get(metric, 'resource', 'name'))}: <unknown>/${String(get(metric, 'resource', 'target', 'averageUtilization'))}%`
          : `<unknown>/${String(get(metric, 'external', 'target', 'averageValue') ?? '')} (avg)`
      return [name, `${String(ref.kind)}/${String(ref.name)}`, target, String(spec.minReplicas ?? 1), Number(spec.maxReplicas ?? 0), Number(status.currentReplicas ?? 0), age]
    }
    case 'scaledobjects':
      return [
        name,
        str(status.scaleTargetKind),
        str(get(spec, 'scaleTargetRef', 'name')),
        str(spec.minReplicaCount),
        str(spec.maxReplicaCount),
        conditionField(object, 'Ready', 'status'),
        conditionField(object, 'Active', 'status'),
        conditionField(object, 'Fallback', 'status'),
        conditionField(object, 'Paused', 'status'),
        str(status.triggersTypes),
        str(status.authenticationsTypes),
        age,
      ]
    case 'applications':
      return [name, str(get(status, 'sync', 'status')), str(get(status, 'health', 'status')), str(get(status, 'sync', 'revision')), str(spec.project)]
    default:
      return [name, age, conditionField(object, 'Ready', 'status'), conditionField(object, 'Ready', 'message')]
  }
}

function rowObject(object: KubeObject, include: IncludeObject, tableVersion: string): unknown {
  if (include === 'None') return undefined
  if (include === 'Object') return object
  return { kind: 'PartialObjectMetadata', apiVersion: tableVersion, metadata: object.metadata }
}

export function toTable(
  resource: ResourceName,
  objects: readonly KubeObject[],
  options: { tableVersion: string; include: IncludeObject; resourceVersion: string },
): Table {
  const now = Date.now()
  return {
    kind: 'Table',
    apiVersion: options.tableVersion,
    metadata: { resourceVersion: options.resourceVersion },
    columnDefinitions: COLUMNS[resource],
    rows: objects.map((object) => {
      const row: TableRow = { cells: cellsOf(resource, object, now) }
      const embedded = rowObject(object, options.include, options.tableVersion)
      if (embedded !== undefined) row.object = embedded
      return row
    }),
  }
}
