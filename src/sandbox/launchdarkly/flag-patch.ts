/**
 * Reads the body of `PATCH /api/v2/flags/{project}/{key}` into a targeting update. Which grammar applies is decided
 * by the Content-Type alone, as in LaunchDarkly: `application/json; domain-model=launchdarkly.semanticpatch` is a
 * semantic patch, anything else is a JSON patch (bare array or `{patch, comment}`), so a semantic body sent as
 * plain JSON is rejected with 400.
 *
 * Only on/off is emulated: semantic `turnFlagOn` / `turnFlagOff`, and JSON-patch `replace` (or `add`) of
 * `/environments/<env>/on`. Anything else is a 400 whose message says what the sandbox does not emulate.
 */
import type { FlagRecord, TargetingUpdate } from './flag-store.js'

export type ParsedPatch =
  | { ok: true; update: TargetingUpdate; instruction: string; comment: string }
  | { ok: false; status: 400 | 404; message: string }

const SEMANTIC_INSTRUCTIONS: Record<string, boolean> = { turnFlagOn: true, turnFlagOff: false }

export function isSemanticPatchContentType(contentType: string | undefined): boolean {
  if (!contentType) return false
  const [mediaType, ...parameters] = contentType.split(';').map((part) => part.trim())
  if (mediaType?.toLowerCase() !== 'application/json') return false
  return parameters.some((parameter) => {
    const [name, value] = parameter.split('=').map((part) => part.trim())
    return name?.toLowerCase() === 'domain-model' && value?.replace(/^"(.*)"$/, '$1') === 'launchdarkly.semanticpatch'
  })
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fail(message: string, status: 400 | 404 = 400): ParsedPatch {
  return { ok: false, status, message }
}

export function parseSemanticPatch(body: unknown, flag: FlagRecord): ParsedPatch {
  if (!isRecord(body)) return fail('A semantic patch must be a JSON object with environmentKey and instructions')
  const { environmentKey, instructions, comment } = body
  if (typeof environmentKey !== 'string' || environmentKey === '') return fail('environmentKey is required for this semantic patch')
  if (!flag.environments.has(environmentKey)) return fail(`Unknown environment key: ${environmentKey}`, 404)
  if (!Array.isArray(instructions) || instructions.length === 0) return fail('instructions must be a non-empty array')
  if (comment !== undefined && typeof comment !== 'string') return fail('comment must be a string')
  const kinds: string[] = []
  for (const instruction of instructions) {
    const kind = isRecord(instruction) ? instruction.kind : undefined
    if (typeof kind !== 'string' || !(kind in SEMANTIC_INSTRUCTIONS)) {
      return fail(`Unsupported instruction kind ${JSON.stringify(kind)}: the sandbox emulates turnFlagOn and turnFlagOff`)
    }
    kinds.push(kind)
  }
  // All-or-nothing, applied in order: the last instruction decides the final state.
  const on = SEMANTIC_INSTRUCTIONS[kinds[kinds.length - 1]!]!
  return { ok: true, update: new Map([[environmentKey, on]]), instruction: kinds.join(','), comment: comment ?? '' }
}

/** `/environments/<env>/on`, with JSON-pointer escapes (~1 is '/', ~0 is '~'). */
const ON_PATH = /^\/environments\/([^/]+)\/on$/

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~')
}

export function parseJsonPatch(body: unknown, flag: FlagRecord): ParsedPatch {
  let operations: unknown[]
  let comment: unknown = ''
  if (Array.isArray(body)) {
    operations = body
  } else if (isRecord(body) && Array.isArray(body.patch)) {
    operations = body.patch
    comment = body.comment ?? ''
  } else {
    return fail('Invalid JSON patch: expected an array of operations or {"patch": [...], "comment": "..."}')
  }
  if (typeof comment !== 'string') return fail('comment must be a string')
  if (operations.length === 0) return fail('Invalid JSON patch: no operations')
  const update: TargetingUpdate = new Map()
  const described: string[] = []
  for (const operation of operations) {
    if (!isRecord(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      return fail('Invalid JSON patch operation: op and path are required')
    }
    const match = ON_PATH.exec(operation.path)
    if ((operation.op !== 'replace' && operation.op !== 'add') || !match) {
      return fail(`Unsupported JSON patch operation ${operation.op} ${operation.path}: the sandbox emulates replace of /environments/<env>/on`)
    }
    const environment = unescapePointer(match[1]!)
    if (!flag.environments.has(environment)) return fail(`Invalid JSON patch path ${operation.path}: unknown environment`)
    if (typeof operation.value !== 'boolean') return fail(`Invalid value for ${operation.path}: expected a boolean`)
    update.set(environment, operation.value)
    described.push(`${operation.op} ${operation.path}`)
  }
  return { ok: true, update, instruction: described.join(','), comment }
}
