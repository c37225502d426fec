/**
 * Every credential value this process holds (API tokens, SDK keys, AWS secret and session keys, Kubernetes tokens
 * and exec-plugin output), so that whatever produced a text — our code, an SDK's error, a library's message — it
 * is redacted before it reaches an output, a record, a report or a notification.
 *
 * Invariants: a value is registered where it is read, before it can be used; the sinks (stdout, stderr, the
 * journal, the audit trail, reports, notifications) pass everything through `redactSecrets`; values shorter than
 * MIN_LENGTH are not registered (they would blank out ordinary words), which is why credentials are also checked
 * at reading (`checkSecretValue`).
 */

/** Shorter values are not secrets anyone uses, and replacing them would mangle ordinary text. */
const MIN_LENGTH = 8
export const REDACTED = '[REDACTED]'

const known = new Set<string>()

export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_LENGTH) return
  known.add(value)
  // A value inside JSON text is escaped; register the escaped form too.
  const escaped = JSON.stringify(value).slice(1, -1)
  if (escaped !== value) known.add(escaped)
}

export function redactSecrets(text: string): string {
  if (known.size === 0) return text
  let out = text
  for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  return out
}

/** The same value with every string in it redacted (a record, a report, a notification body). */
export function redactDeep<T>(value: T): T {
  if (known.size === 0) return value
  if (typeof value === 'string') return redactSecrets(value) as T
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as T
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, redactDeep(v)])) as T
  }
  return value
}

/**
 * Whitespace or a control character in a credential is a pasted line ending or a wrong file, and libraries echo
 * such values in their errors ("invalid header value"): refused by the variable's name, never its value.
 */
export function secretProblem(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\s\u0000-\u001f\u007f]/.test(value)) return 'contains whitespace or a control character (a pasted line ending, or a file read with its newline?)'
  return undefined
}
