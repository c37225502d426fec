/**
 * Identifiers in AWS's formats. Entity ids are derived from the account and name so that GetRole, STS and the
 * inspection state agree on them across calls and restarts; credentials are random.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function alphabetic(bytes: Buffer, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ID_ALPHABET[bytes[i]! % ID_ALPHABET.length]
  return out
}

/** A stable unique id like AWS's (`AROA` + 17 characters for roles, `AIDA` for users, `AGPA` for groups). */
export function stableId(prefix: string, ...parts: string[]): string {
  return prefix + alphabetic(createHash('sha256').update(parts.join('\0')).digest(), 17)
}

/** A fresh temporary access key id (`ASIA` + 16 characters), as STS issues them. */
export function temporaryAccessKeyId(): string {
  return 'ASIA' + alphabetic(randomBytes(16), 16)
}

export function secretAccessKey(): string {
  return randomBytes(30).toString('base64')
}

export function sessionToken(): string {
  return 'FwoGZXIvYXdzE' + randomBytes(96).toString('base64')
}

export function requestId(): string {
  return randomUUID()
}

/** Opaque pagination markers: base64url of the offset of the next item. */
export function encodeMarker(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url')
}

/** The offset a marker encodes, or undefined if it is not one the sandbox issued. */
export function decodeMarker(marker: string): number | undefined {
  const match = /^offset:(\d+)$/.exec(Buffer.from(marker, 'base64url').toString())
  return match ? Number(match[1]) : undefined
}

/** `2019-09-23T18:32:33.857+0000`: Lambda's LastModified format. */
export function lambdaTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+0000')
}

/** `2012-05-08T23:34:01Z`: IAM's timestamp format (no milliseconds). */
export function iamTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
