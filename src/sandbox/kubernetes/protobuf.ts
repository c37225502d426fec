/**
 * The one place the plane reads Kubernetes' protobuf encoding: typed clients (kubectl's `auth can-i` and `auth
 * whoami`) post self-reviews as `application/vnd.kubernetes.protobuf` — the magic `k8s\0`, then a runtime.Unknown
 * whose `raw` is the object (k8s `apimachinery/pkg/runtime/serializer/protobuf`). Only the three review kinds are
 * decoded, into the JSON shape their handler reads; answers stay JSON, which those clients also accept.
 * Field numbers: `k8s.io/api/authorization/v1/generated.proto`, `k8s.io/api/authentication/v1/generated.proto`.
 */
import type { Json } from './patch.js'

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf'
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

type Fields = Map<number, (bigint | Buffer)[]>

function varint(buffer: Buffer, offset: number): [bigint, number] {
  let value = 0n
  let shift = 0n
  for (let i = offset; i < buffer.length; i++) {
    const byte = buffer[i]!
    value |= BigInt(byte & 0x7f) << shift
    if ((byte & 0x80) === 0) return [value, i + 1]
    shift += 7n
  }
  throw new Error('truncated varint')
}

/** A message's fields by number; varints as bigint, length-delimited fields as bytes. */
function fieldsOf(buffer: Buffer): Fields {
  const fields: Fields = new Map()
  let offset = 0
  while (offset < buffer.length) {
    const [key, next] = varint(buffer, offset)
    const number = Number(key >> 3n)
    const wireType = Number(key & 7n)
    let value: bigint | Buffer
    if (wireType === 0) [value, offset] = varint(buffer, next)
    else if (wireType === 2) {
      const [length, start] = varint(buffer, next)
      value = buffer.subarray(start, start + Number(length))
      offset = start + Number(length)
    } else if (wireType === 1) [value, offset] = [buffer.subarray(next, next + 8), next + 8]
    else if (wireType === 5) [value, offset] = [buffer.subarray(next, next + 4), next + 4]
    else throw new Error(`unsupported protobuf wire type ${wireType}`)
    fields.set(number, [...(fields.get(number) ?? []), value])
  }
  return fields
}

function bytes(fields: Fields, number: number): Buffer | undefined {
  const value = fields.get(number)?.at(-1)
  return Buffer.isBuffer(value) ? value : undefined
}

function text(fields: Fields, number: number): string | undefined {
  return bytes(fields, number)?.toString('utf8')
}

function strings(fields: Fields, names: Record<number, string>): Record<string, Json> {
  const out: Record<string, Json> = {}
  for (const [number, name] of Object.entries(names)) {
    const value = text(fields, Number(number))
    if (value !== undefined && value !== '') out[name] = value
  }
  return out
}

/** The review object in a protobuf body, as JSON; throws when the body is not a review the plane knows. */
export function decodeReview(body: Buffer): Record<string, Json> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new Error('not a Kubernetes protobuf message (no k8s magic)')
  const unknown = fieldsOf(body.subarray(4))
  const typeMeta = fieldsOf(bytes(unknown, 1) ?? Buffer.alloc(0))
  const apiVersion = text(typeMeta, 1) ?? ''
  const kind = text(typeMeta, 2) ?? ''
  const object = fieldsOf(bytes(unknown, 2) ?? Buffer.alloc(0))
  const spec = fieldsOf(bytes(object, 2) ?? Buffer.alloc(0))
  switch (kind) {
    case 'SelfSubjectAccessReview': {
      const resource = bytes(spec, 1)
      const nonResource = bytes(spec, 2)
      return {
        kind,
        apiVersion,
        spec: {
          ...(resource ? { resourceAttributes: strings(fieldsOf(resource), { 1: 'namespace', 2: 'verb', 3: 'group', 4: 'version', 5: 'resource', 6: 'subresource', 7: 'name' }) } : {}),
          ...(nonResource ? { nonResourceAttributes: strings(fieldsOf(nonResource), { 1: 'path', 2: 'verb' }) } : {}),
        },
      }
    }
    case 'SelfSubjectRulesReview':
      return { kind, apiVersion, spec: strings(spec, { 1: 'namespace' }) }
    case 'SelfSubjectReview':
      return { kind, apiVersion }
    default:
      throw new Error(`the sandbox reads no protobuf ${kind || 'object'} (send application/json)`)
  }
}
