/**
 * PATCH bodies the apiserver accepts, applied to an object's JSON: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902), and strategic merge patch treated as a merge patch. The two differ only on lists with a merge key
 * (e.g. `containers` by name), which no field the sandbox models relies on; documented in docs/sandbox/kubernetes.md.
 */
import { ApiError, badRequestError, unsupportedMediaTypeError } from './status.js'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type JsonObject = { [key: string]: Json }

export const PATCH_CONTENT_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/strategic-merge-patch+json',
] as const

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** RFC 7386: objects merge recursively, `null` deletes, anything else (arrays included) replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch
  const result: JsonObject = isObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key] ?? null, value)
  }
  return result
}

/** A JSON patch operation failed against the object: the apiserver answers 422 for this. */
function patchFailed(message: string): ApiError {
  return new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Invalid', code: 422 })
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return []
  if (!pointer.startsWith('/')) throw patchFailed(`invalid JSON pointer "${pointer}"`)
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'))
}

/** The container of the last token, and that token. */
function locate(doc: Json, tokens: string[], pointer: string): { parent: JsonObject | Json[]; key: string } {
  let node: Json = doc
  for (const token of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(node) ? node[Number(token)] : isObject(node) ? node[token] : undefined
    if (next === undefined) throw patchFailed(`the path "${pointer}" does not exist`)
    node = next
  }
  if (!Array.isArray(node) && !isObject(node)) throw patchFailed(`the path "${pointer}" does not exist`)
  return { parent: node, key: tokens[tokens.length - 1]! }
}

function arrayIndex(array: Json[], key: string, pointer: string, forInsert: boolean): number {
  if (forInsert && key === '-') return array.length
  const index = Number(key)
  const limit = forInsert ? array.length : array.length - 1
  if (!/^\d+$/.test(key) || index > limit) throw patchFailed(`the array index in "${pointer}" is out of range`)
  return index
}

function getAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer)
  if (tokens.length === 0) return doc
  const { parent, key } = locate(doc, tokens, pointer)
  const value = Array.isArray(parent) ? parent[arrayIndex(parent, key, pointer, false)] : parent[key]
  if (value === undefined) throw patchFailed(`the path "${pointer}" does not exist`)
  return value
}

function removeAt(doc: Json, pointer: string): Json {
  const tokens = parsePointer(pointer)
  if (tokens.length === 0) throw patchFailed('cannot remove the whole document')
  const { parent, key } = locate(doc, tokens, pointer)
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, pointer, false), 1)[0]!
  if (!Object.hasOwn(parent, key)) throw patchFailed(`the path "${pointer}" does not exist`)
  const value = parent[key]!
  delete parent[key]
  return value
}

function addAt(doc: Json, pointer: string, value: Json): Json {
  const tokens = parsePointer(pointer)
  if (tokens.length === 0) return value
  const { parent, key } = locate(doc, tokens, pointer)
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, pointer, true), 0, value)
  else parent[key] = value
  return doc
}

interface JsonPatchOperation {
  op: string
  path: string
  from?: string
  value?: Json
}

function isOperation(value: Json): value is JsonPatchOperation & JsonObject {
  return isObject(value) && typeof value.op === 'string' && typeof value.path === 'string'
}

/** RFC 6902, applied atomically: the input document is never mutated. */
export function applyJsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw badRequestError('json patch must be a JSON array of operations')
  let doc = structuredClone(target)
  for (const operation of operations) {
    if (!isOperation(operation)) throw badRequestError(`invalid json patch operation: ${JSON.stringify(operation)}`)
    const { op, path } = operation
    const needsValue = op === 'add' || op === 'replace' || op === 'test'
    if (needsValue && operation.value === undefined) throw badRequestError(`json patch "${op}" at "${path}" has no value`)
    switch (op) {
      case 'add':
        doc = addAt(doc, path, operation.value!)
        break
      case 'remove':
        removeAt(doc, path)
        break
      case 'replace':
        if (parsePointer(path).length === 0) doc = operation.value!
        else {
          removeAt(doc, path)
          doc = addAt(doc, path, operation.value!)
        }
        break
      case 'move':
      case 'copy': {
        if (typeof operation.from !== 'string') throw badRequestError(`json patch "${op}" at "${path}" has no from`)
        const value = op === 'move' ? removeAt(doc, operation.from) : structuredClone(getAt(doc, operation.from))
        doc = addAt(doc, path, value)
        break
      }
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(operation.value)) {
          throw patchFailed(`testing value ${path} failed`)
        }
        break
      default:
        throw badRequestError(`unknown json patch operation "${op}"`)
    }
  }
  return doc
}

/** The media type without parameters (`application/merge-patch+json; charset=utf-8` → `application/merge-patch+json`). */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase()
}

/** Custom resources take no strategic merge patch: their CRDs have no patch-merge keys (apiserver `patch.go`). */
export const CUSTOM_RESOURCE_PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json'] as const

/** Applies a PATCH body of the given Content-Type; 415 for a type the resource does not accept, 400 for bad JSON. */
export function applyPatch(target: Json, contentType: string | undefined, body: Buffer, accepted: readonly string[] = PATCH_CONTENT_TYPES): Json {
  const type = mediaType(contentType)
  if (!accepted.includes(type)) throw unsupportedMediaTypeError(type, accepted)
  let patch: Json
  try {
    patch = JSON.parse(body.toString('utf8')) as Json
  } catch (error) {
    throw badRequestError(`error decoding patch: ${(error as Error).message}`)
  }
  if (type === 'application/json-patch+json') return applyJsonPatch(target, patch)
  if (!isObject(patch)) throw badRequestError('a merge patch must be a JSON object')
  return applyMergePatch(target, patch)
}
