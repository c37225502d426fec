/** The redaction of credential values at the sinks: whatever text carries a registered value, it does not get out. */
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AuditTrail } from '../../src/audit/trail.js'
import { Journal } from '../../src/journal/journal.js'
import { redactDeep, redactSecrets, registerSecret, REDACTED, secretProblem } from '../../src/core/secrets.js'

describe('secrets', () => {
  const token = 'tok-3f9a1c77e2b4'
  registerSecret(token)
  registerSecret('short')

  it('replaces every registered value in text and in JSON values, and leaves short values alone', () => {
    expect(redactSecrets(`Headers.append: "${token}" is an invalid header value`)).toBe(`Headers.append: "${REDACTED}" is an invalid header value`)
    expect(redactDeep({ a: [`x ${token} y`], b: 3, c: { d: token } })).toEqual({ a: [`x ${REDACTED} y`], b: 3, c: { d: REDACTED } })
    expect(redactSecrets('a short word')).toBe('a short word')
  })

  it('keeps a secret out of the audit trail and the journal, whichever field carries it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secrets-'))
    await new AuditTrail(dir).append({ invocation: 'h-1', event: 'refused', scope: 'global', reason: `pasted ${token}`, outcome: { error: `bad header ${token}` } } as never)
    const journal = await Journal.open(dir)
    await journal.append({ type: 'failed', invocation: 'h-1', targetId: 't', error: `library said ${token}`, at: new Date().toISOString() })
    await journal.close()
    for (const file of ['audit.jsonl', 'journal.jsonl']) {
      const text = await readFile(join(dir, file), 'utf8')
      expect(text).not.toContain(token)
      expect(text).toContain(REDACTED)
    }
  })

  it('names what is wrong with a credential value without repeating it', () => {
    expect(secretProblem('abc\n')).toContain('whitespace or a control character')
    expect(secretProblem('abc\u0007def')).toBeDefined()
    expect(secretProblem('plain-token')).toBeUndefined()
  })
})
