/**
 * `metadata.managedFields` as the apiserver's field manager keeps them (structured-merge-diff, FieldsV1): one entry
 * per (manager, operation, subresource); a write gives the fields it changed to its writer's entry and takes them
 * from every other entry, so exactly one entry owns a field; an entry left owning nothing is dropped. A manager is
 * the `fieldManager` query parameter, else the User-Agent up to its first `/`
 * (k8s `staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go` managerOrUserAgent).
 *
 * Paths are FieldsV1 segments: `f:<field>` for a field, `k:{"name":…}` for an item of a list keyed by name (or
 * type), `.` for a map or list item owned as a whole. Labels, annotations and list items get `.` when created;
 * `spec.selector` is atomic (its type is `+structType=atomic`), as are lists without a key.
 */
import type { Json } from './patch.js'

export type FieldsV1 = { [segment: string]: FieldsV1 }

export interface ManagedFieldsEntry {
  manager?: string
  operation: 'Update' | 'Apply'
  apiVersion: string
  time: string
  fieldsType: 'FieldsV1'
  fieldsV1: FieldsV1
  subresource?: string
}

/** Who writes: the entry a write is recorded in. */
export interface FieldManager {
  manager: string
  operation: 'Update' | 'Apply'
  subresource?: 'scale' | 'status'
}

type Path = string[]
type JsonObject = { [key: string]: Json }

/** The apiserver's limit on a manager's name (`FieldManagerMaxLength`). */
const MAX_MANAGER_LENGTH = 128
const DOT_MAPS = new Set(['f:labels', 'f:annotations'])
const ATOMIC = new Set(['f:selector'])

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

/** `fieldManager`, else the User-Agent's prefix before the first `/`, printable characters only, at most 128 bytes. */
export function managerOf(fieldManager: string | null, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager
  let prefix = ''
  for (const char of (userAgent ?? '').split('/')[0]!) {
    if (!/\P{C}/u.test(char)) continue
    if (Buffer.byteLength(prefix + char) > MAX_MANAGER_LENGTH) break
    prefix += char
  }
  return prefix
}

/** A list item's key segment: lists of objects with `name` (containers) or `type` (conditions) are keyed lists. */
function itemKey(item: Json): string | undefined {
  if (!isObject(item)) return undefined
  if (typeof item.name === 'string') return `k:${JSON.stringify({ name: item.name })}`
  if (typeof item.type === 'string') return `k:${JSON.stringify({ type: item.type })}`
  return undefined
}

function keyedItems(list: Json[]): Map<string, Json> | undefined {
  const items = new Map<string, Json>()
  for (const item of list) {
    const key = itemKey(item)
    if (key === undefined) return undefined
    items.set(key, item)
  }
  return items
}

/** Every path `value` sets below `path`: what the writer of a newly created value owns. */
function allFields(value: Json, path: Path, out: Path[], owned: boolean): void {
  const last = path[path.length - 1] ?? ''
  if (isObject(value) && !ATOMIC.has(last)) {
    if (owned || DOT_MAPS.has(last)) out.push([...path, '.'])
    const keys = Object.keys(value)
    if (keys.length === 0 && !owned && !DOT_MAPS.has(last)) out.push(path)
    for (const key of keys) allFields(value[key]!, [...path, `f:${key}`], out, false)
    return
  }
  const items = Array.isArray(value) ? keyedItems(value) : undefined
  if (items && items.size > 0) {
    for (const [key, item] of items) allFields(item, [...path, key], out, true)
    return
  }
  out.push(path)
}

interface Changes {
  set: Path[]
  removed: Path[]
}

function diff(previous: Json | undefined, next: Json | undefined, path: Path, out: Changes): void {
  if (same(previous, next)) return
  if (next === undefined) {
    out.removed.push(path)
    return
  }
  const last = path[path.length - 1] ?? ''
  if (isObject(next) && !ATOMIC.has(last)) {
    if (!isObject(previous)) {
      if (previous !== undefined) out.removed.push(path)
      allFields(next, path, out.set, false)
      return
    }
    for (const key of new Set([...Object.keys(previous), ...Object.keys(next)])) diff(previous[key], next[key], [...path, `f:${key}`], out)
    return
  }
  const nextItems = Array.isArray(next) ? keyedItems(next) : undefined
  const previousItems = Array.isArray(previous) ? keyedItems(previous) : undefined
  if (nextItems && previousItems) {
    for (const [key, item] of nextItems) {
      const before = previousItems.get(key)
      if (before === undefined) allFields(item, [...path, key], out.set, true)
      else diff(before, item, [...path, key], out)
    }
    for (const key of previousItems.keys()) if (!nextItems.has(key)) out.removed.push([...path, key])
    return
  }
  out.set.push(path)
}

/** What a write changed, limited to what the apiserver tracks for it: labels, annotations and spec, or status. */
export function changesOf(previous: { metadata: object; spec?: unknown; status?: unknown } | undefined, next: { metadata: object; spec?: unknown; status?: unknown }, scope: 'object' | 'status'): Changes {
  const view = (object: typeof previous): Json | undefined => {
    if (object === undefined) return undefined
    if (scope === 'status') return { status: (object.status ?? {}) as Json }
    const { labels, annotations } = object.metadata as { labels?: Json; annotations?: Json }
    return { metadata: { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) }, spec: (object.spec ?? {}) as Json }
  }
  const out: Changes = { set: [], removed: [] }
  const before = view(previous)
  const after = view(next)!
  if (before === undefined) {
    for (const key of Object.keys(after as JsonObject)) allFields((after as JsonObject)[key]!, [`f:${key}`], out.set, false)
  } else diff(before, after, [], out)
  return out
}

const SEPARATOR = '\u0000'
const encode = (path: Path) => path.join(SEPARATOR)

function flatten(fields: FieldsV1, prefix: Path, out: Set<string>): void {
  const keys = Object.keys(fields)
  if (keys.length === 0 && prefix.length > 0) out.add(encode(prefix))
  for (const key of keys) flatten(fields[key]!, [...prefix, key], out)
}

function render(paths: Set<string>): FieldsV1 {
  const root: FieldsV1 = {}
  for (const encoded of [...paths].sort()) {
    let node = root
    for (const segment of encoded.split(SEPARATOR)) node = node[segment] ??= {}
  }
  return sortTree(root)
}

function sortTree(node: FieldsV1): FieldsV1 {
  const sorted: FieldsV1 = {}
  for (const key of Object.keys(node).sort()) sorted[key] = sortTree(node[key]!)
  return sorted
}

/** Whether `path` is `other` or lies below it. */
function within(path: string, other: string): boolean {
  return path === other || path.startsWith(other + SEPARATOR)
}

/**
 * The entries after `writer` made `changes` at `time`: the writer's entry gains what it set and loses what it
 * removed; every other entry loses both (and any field that contains one of them). Unchanged when nothing changed.
 */
export function recordWrite(
  entries: readonly ManagedFieldsEntry[] | undefined,
  changes: Changes,
  writer: FieldManager,
  apiVersion: string,
  time: string,
): ManagedFieldsEntry[] | undefined {
  if (changes.set.length === 0 && changes.removed.length === 0) return entries === undefined ? undefined : [...entries]
  const set = changes.set.map(encode)
  const removed = changes.removed.map(encode)
  const touched = [...set, ...removed]
  const isWriter = (entry: ManagedFieldsEntry) =>
    (entry.manager ?? '') === writer.manager && entry.operation === writer.operation && (entry.subresource ?? '') === (writer.subresource ?? '')
  const result: ManagedFieldsEntry[] = []
  let written = false
  for (const entry of [...(entries ?? []), undefined]) {
    if (entry === undefined && written) break
    const mine = entry === undefined || isWriter(entry)
    const paths = new Set<string>()
    if (entry) flatten(entry.fieldsV1, [], paths)
    for (const path of [...paths]) {
      const lost = mine ? removed.some((r) => within(path, r)) : touched.some((t) => within(path, t) || within(t, path))
      if (lost) paths.delete(path)
    }
    if (mine) {
      for (const path of set) paths.add(path)
      written = true
    }
    if (paths.size === 0) continue
    const manager = mine ? writer.manager : entry!.manager
    const subresource = mine ? writer.subresource : entry!.subresource
    result.push({
      ...(manager ? { manager } : {}),
      operation: mine ? writer.operation : entry!.operation,
      apiVersion: mine ? apiVersion : entry!.apiVersion,
      time: mine ? time : entry!.time,
      fieldsType: 'FieldsV1',
      fieldsV1: render(paths),
      ...(subresource ? { subresource } : {}),
    })
  }
  return result.length === 0 ? undefined : result
}

/** The manager whose entry owns `spec.replicas`; undefined when none does. */
export function replicasManager(entries: readonly ManagedFieldsEntry[] | undefined): string | undefined {
  return entries?.find((entry) => entry.fieldsV1['f:spec']?.['f:replicas'] !== undefined)?.manager
}

/** The controllers of kube-controller-manager write as it: its User-Agent is `kube-controller-manager/<version> …`. */
export const KUBE_CONTROLLER_MANAGER: FieldManager = { manager: 'kube-controller-manager', operation: 'Update' }

/** `next` with its managedFields updated for `writer`'s write over `previous` (undefined: a create). */
export function withManagedFields<T extends { apiVersion: string; metadata: { managedFields?: ManagedFieldsEntry[] }; spec?: unknown; status?: unknown }>(
  previous: T | undefined,
  next: T,
  writer: FieldManager,
  scope: 'object' | 'status',
  now: Date,
): T {
  const entries = recordWrite(previous?.metadata.managedFields, changesOf(previous, next, scope), writer, next.apiVersion, now.toISOString().replace(/\.\d{3}Z$/, 'Z'))
  const metadata = { ...next.metadata }
  if (entries === undefined) delete metadata.managedFields
  else metadata.managedFields = entries
  return { ...next, metadata }
}
