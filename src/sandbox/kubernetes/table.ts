/**
 * Server-side printing: kubectl's human output asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints
 * the server's columns, which is where `kubectl get pods` shows `Terminating`. Other clients get plain objects.
 * Columns mirror the apiserver's printers (pkg/printers/internalversion/printers.go) for the served resources.
 */
import type { KubeObject, Pod, ResourceName, Workload } from './objects.js'

export type IncludeObject = 'None' | 'Metadata' | 'Object'

interface ColumnDefinition {
  name: string
  type: 'string' | 'integer'
  format: string
  description: string
  priority: number
}

interface TableRow {
  cells: (string | number)[]
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
    column('Containers', 'string', 'Names of each container in the template.', 1),
    column('Images', 'string', 'Images referenced by each container in the template.', 1),
    column('Selector', 'string', 'Label selector for pods.', 1),
  ],
  statefulsets: [
    NAME,
    column('Ready', 'string', 'Number of the pod with ready state'),
    AGE,
    column('Containers', 'string', 'Names of each container in the template.', 1),
    column('Images', 'string', 'Images referenced by each container in the template.', 1),
  ],
  namespaces: [NAME, column('Status', 'string', 'The status of the namespace'), AGE],
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

function cellsOf(resource: ResourceName, object: KubeObject, now: number): (string | number)[] {
  const age = humanDuration(now - Date.parse(object.metadata.creationTimestamp))
  if (resource === 'pods') {
    const pod = object as Pod
    const status = pod.metadata.deletionTimestamp ? 'Terminating' : pod.status.phase
    const ready = `${pod.status.containerStatuses.filter((c) => c.ready).length}/${pod.spec.containers.length}`
    return [pod.metadata.name, ready, status, 0, age, pod.status.podIP, pod.spec.nodeName]
  }
  if (resource === 'namespaces') return [object.metadata.name, 'Active', age]
  const workload = object as Workload
  const containers = workload.spec.template.spec.containers
  const ready = `${Number(workload.status.readyReplicas ?? 0)}/${workload.spec.replicas}`
  const names = containers.map((c) => c.name).join(',')
  const images = containers.map((c) => c.image).join(',')
  if (resource === 'statefulsets') return [workload.metadata.name, ready, age, names, images]
  const selector = Object.entries(workload.spec.selector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',')
  return [workload.metadata.name, ready, Number(workload.status.updatedReplicas ?? 0), Number(workload.status.availableReplicas ?? 0), age, names, images, selector]
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
