/**
 * Label and field selectors as the apiserver parses them (k8s.io/apimachinery `labels.Parse`, `fields.ParseSelector`):
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x,y)`, `a` (exists), `!a` (does not exist), comma-separated = AND.
 */
import type { KubeObject, Pod } from './objects.js'
import type { ResourceName } from './resources.js'
import { badRequestError } from './status.js'

export type LabelRequirement =
  | { key: string; operator: 'in' | 'notin'; values: string[] }
  | { key: string; operator: 'exists' | 'doesnotexist' }

export interface FieldRequirement {
  field: string
  operator: '=' | '!='
  value: string
}

/** Splits on commas that are not inside a `( … )` value set. */
function splitTerms(text: string): string[] {
  const terms: string[] = []
  let depth = 0
  let current = ''
  for (const char of text) {
    if (char === '(') depth++
    if (char === ')') depth--
    if (char === ',' && depth === 0) {
      terms.push(current)
      current = ''
    } else current += char
  }
  terms.push(current)
  return terms.map((term) => term.trim()).filter((term) => term !== '')
}

const LABEL_KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/
const LABEL_VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/

function checkKey(key: string, selector: string): string {
  if (!LABEL_KEY.test(key)) throw badRequestError(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`)
  return key
}

function checkValue(value: string, selector: string): string {
  if (!LABEL_VALUE.test(value)) throw badRequestError(`unable to parse requirement: invalid label value "${value}" in selector "${selector}"`)
  return value
}

function parseTerm(term: string, selector: string): LabelRequirement {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term)
  if (set) {
    const values = set[3]!.split(',').map((value) => checkValue(value.trim(), selector))
    return { key: checkKey(set[1]!, selector), operator: set[2] as 'in' | 'notin', values }
  }
  const equality = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term)
  if (equality) {
    const value = checkValue(equality[3]!, selector)
    return { key: checkKey(equality[1]!, selector), operator: equality[2] === '!=' ? 'notin' : 'in', values: [value] }
  }
  if (term.startsWith('!')) return { key: checkKey(term.slice(1).trim(), selector), operator: 'doesnotexist' }
  return { key: checkKey(term, selector), operator: 'exists' }
}

/** Throws a 400 Status for a selector the apiserver would reject. An empty selector matches everything. */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  return splitTerms(selector).map((term) => parseTerm(term, selector))
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Readonly<Record<string, string>> = {}): boolean {
  return requirements.every((requirement) => {
    const present = Object.hasOwn(labels, requirement.key)
    switch (requirement.operator) {
      case 'exists':
        return present
      case 'doesnotexist':
        return !present
      case 'in':
        return present && requirement.values.includes(labels[requirement.key]!)
      case 'notin':
        return !present || !requirement.values.includes(labels[requirement.key]!)
    }
  })
}

type FieldGetter = (object: KubeObject) => string

const str = (value: unknown): string => (value === undefined || value === null ? '' : String(value))

/**
 * The field selectors each resource supports: `metadata.name` and `metadata.namespace` everywhere, plus the ones
 * its registry strategy adds (k8s `pkg/registry/core/pod/strategy.go` ToSelectableFields, and the node, namespace,
 * replicaset and job strategies). A missing field reads as the empty string, as `spec.nodeName=` finds unscheduled pods.
 */
const FIELDS: Partial<Record<ResourceName, Record<string, FieldGetter>>> = {
  pods: {
    'spec.nodeName': (o) => str((o as Pod).spec.nodeName),
    'spec.restartPolicy': (o) => str((o as Pod).spec.restartPolicy),
    'spec.schedulerName': (o) => str((o as Pod).spec.schedulerName),
    'spec.serviceAccountName': (o) => str((o as Pod).spec.serviceAccountName),
    'spec.hostNetwork': () => 'false',
    'status.phase': (o) => str((o as Pod).status.phase),
    'status.podIP': (o) => str((o as Pod).status.podIP),
    'status.nominatedNodeName': () => '',
  },
  nodes: { 'spec.unschedulable': () => 'false' },
  namespaces: { 'status.phase': (o) => str((o as { status: { phase: string } }).status.phase) },
  replicasets: { 'status.replicas': (o) => str((o as { status: { replicas?: number } }).status.replicas ?? 0) },
  jobs: { 'status.successful': (o) => str((o as { status: { succeeded?: number } }).status.succeeded ?? 0) },
}

const METADATA_FIELDS: Record<string, FieldGetter> = {
  'metadata.name': (o) => o.metadata.name,
  'metadata.namespace': (o) => o.metadata.namespace ?? '',
}

function getterOf(resource: ResourceName, field: string): FieldGetter | undefined {
  return METADATA_FIELDS[field] ?? FIELDS[resource]?.[field]
}

/** Throws a 400 Status for a selector the apiserver would reject, e.g. a field the resource does not support. */
export function parseFieldSelector(selector: string, resource: ResourceName): FieldRequirement[] {
  return splitTerms(selector).map((term) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term)
    if (!m) throw badRequestError(`invalid selector: '${selector}'; can't understand '${term}'`)
    const field = m[1]!
    if (!getterOf(resource, field)) throw badRequestError(`field label not supported: ${field}`)
    return { field, operator: m[2] === '!=' ? '!=' : '=', value: m[3]! }
  })
}

export function matchesFields(requirements: readonly FieldRequirement[], object: KubeObject, resource: ResourceName): boolean {
  return requirements.every(({ field, operator, value }) => {
    const actual = getterOf(resource, field)!(object)
    return operator === '=' ? actual === value : actual !== value
  })
}

/** The name a `metadata.name=` selector pins, which RBAC's resourceNames apply to (apiserver RequestInfo). */
export function exactName(requirements: readonly FieldRequirement[]): string {
  return requirements.find((r) => r.field === 'metadata.name' && r.operator === '=')?.value ?? ''
}

/** The string form of a matchLabels selector, as the Scale subresource reports it in `status.selector`. */
export function formatMatchLabels(matchLabels: Readonly<Record<string, string>>): string {
  return Object.keys(matchLabels)
    .sort()
    .map((key) => `${key}=${matchLabels[key]}`)
    .join(',')
}
