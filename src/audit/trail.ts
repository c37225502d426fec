/**
 * The audit trail: append-only JSON lines, each record chained to the one before by SHA-256 over its canonical
 * form. A head file anchors the last record, so cutting records off the end is detected too. `verifyTrail` names
 * the first record that was edited, deleted, reordered or truncated.
 */
import { createHash } from 'node:crypto'
import { redactDeep } from '../core/secrets.js'
import { mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { delay } from '../core/wait.js'

export const GENESIS = `sha256:${'0'.repeat(64)}`

/** What an invocation records; the trail adds seq, at, prev and hash. */
export interface AuditEntry {
  /** `hold` ends a halt's hold, `guard-started`/`guard` bracket a guard, `reversion` is one undone halt re-applied (or not). */
  event: 'halt' | 'halt-started' | 'restore' | 'drill' | 'refused' | 'hold' | 'guard-started' | 'guard' | 'reversion'
  invocation: string
  invoker: { arn: string | null; account: string | null; osUser: string; host: string }
  trigger: 'human' | 'automated' | 'scheduled' | 'ci'
  scope: string
  reason: string
  runbook: { name: string; path: string; digest: string }
  /** Free-form outcome: status, timings, per-target results, refusal reason. Never secrets. */
  outcome: Record<string, unknown>
}

export interface AuditRecord extends AuditEntry {
  seq: number
  at: string
  prev: string
  hash: string
}

/** JSON with object keys sorted at every level: the form that is hashed. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

export function hashRecord(record: Omit<AuditRecord, 'hash'>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(record)).digest('hex')}`
}

export class AuditTrail {
  readonly file: string
  readonly headFile: string
  private readonly lockFile: string

  constructor(readonly dir: string) {
    this.file = join(dir, 'audit.jsonl')
    this.headFile = join(dir, 'audit.head')
    this.lockFile = join(dir, 'audit.lock')
  }

  /** Appends one record durably and moves the head anchor to it. Safe against concurrent writers. */
  async append(entry: AuditEntry): Promise<AuditRecord> {
    await mkdir(this.dir, { recursive: true })
    const unlock = await this.lock()
    try {
      const last = await this.lastRecord()
      // Redacted before it is hashed: a record cannot be edited afterwards, so a secret must never get in.
      const body: Omit<AuditRecord, 'hash'> = { ...redactDeep(entry), seq: (last?.seq ?? 0) + 1, at: new Date().toISOString(), prev: last?.hash ?? GENESIS }
      const record: AuditRecord = { ...body, hash: hashRecord(body) }
      const handle = await open(this.file, 'a', 0o600)
      try {
        await handle.write(JSON.stringify(record) + '\n')
        await handle.sync()
      } finally {
        await handle.close()
      }
      const tmp = `${this.headFile}.tmp`
      await writeFile(tmp, JSON.stringify({ seq: record.seq, hash: record.hash }) + '\n', { mode: 0o600 })
      await rename(tmp, this.headFile)
      return record
    } finally {
      await unlock()
    }
  }

  private async lastRecord(): Promise<AuditRecord | undefined> {
    const text = await readFile(this.file, 'utf8').catch(() => '')
    const lines = text.trimEnd().split('\n').filter(Boolean)
    const lastLine = lines.at(-1)
    return lastLine ? (JSON.parse(lastLine) as AuditRecord) : undefined
  }

  /** A short lock around one append; stale after 30 s (a writer that died mid-append). */
  private async lock(): Promise<() => Promise<void>> {
    for (let i = 0; i < 200; i++) {
      try {
        const handle = await open(this.lockFile, 'wx', 0o600)
        await handle.close()
        return () => unlink(this.lockFile).catch(() => undefined)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const age = await stat(this.lockFile).then((s) => Date.now() - s.mtimeMs, () => 0)
        if (age > 30_000) await unlink(this.lockFile).catch(() => undefined)
        else await delay(25)
      }
    }
    throw new Error(`the audit trail ${this.file} stayed locked for 5 s (${this.lockFile})`)
  }
}

export interface TrailProblem {
  /** 1-based line in the file, or the expected sequence number for a missing record. */
  line: number
  seq?: number
  kind: 'unreadable' | 'edited' | 'deleted' | 'reordered' | 'truncated' | 'no-anchor'
  message: string
}

export interface TrailVerdict {
  file: string
  ok: boolean
  records: number
  lastHash: string | null
  problems: TrailProblem[]
}

/** Checks every link of the chain and the head anchor. Reports every problem found, first one first. */
export async function verifyTrail(dir: string): Promise<TrailVerdict> {
  const trail = new AuditTrail(dir)
  const text = await readFile(trail.file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined
    throw error
  })
  const problems: TrailProblem[] = []
  const head = await readFile(trail.headFile, 'utf8')
    .then((t) => JSON.parse(t) as { seq: number; hash: string })
    .catch(() => undefined)
  if (text === undefined) {
    if (head) problems.push({ line: 0, kind: 'truncated', message: `the trail file is gone but the head says it held ${head.seq} records` })
    return { file: trail.file, ok: problems.length === 0, records: 0, lastHash: null, problems }
  }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  let prevHash = GENESIS
  let expectedSeq = 1
  let last: AuditRecord | undefined
  lines.forEach((line, i) => {
    const lineNo = i + 1
    let record: AuditRecord
    try {
      record = JSON.parse(line) as AuditRecord
    } catch {
      problems.push({ line: lineNo, kind: 'unreadable', message: `line ${lineNo} is not a JSON record` })
      return
    }
    const { hash, ...body } = record
    if (hashRecord(body) !== hash) {
      problems.push({ line: lineNo, seq: record.seq, kind: 'edited', message: `record ${record.seq} (line ${lineNo}) was edited: its content no longer matches its hash` })
    }
    if (record.seq > expectedSeq) {
      problems.push({
        line: lineNo,
        seq: expectedSeq,
        kind: 'deleted',
        message: `record${record.seq - expectedSeq > 1 ? `s ${expectedSeq}–${record.seq - 1} are` : ` ${expectedSeq} is`} missing before line ${lineNo} (deleted)`,
      })
    } else if (record.seq < expectedSeq) {
      problems.push({ line: lineNo, seq: record.seq, kind: 'reordered', message: `record ${record.seq} (line ${lineNo}) is out of order: expected record ${expectedSeq}` })
    } else if (record.prev !== prevHash) {
      problems.push({ line: lineNo, seq: record.seq, kind: 'reordered', message: `record ${record.seq} (line ${lineNo}) does not chain to the record before it` })
    }
    prevHash = hash
    expectedSeq = record.seq + 1
    last = record
  })
  if (!head) {
    problems.push({ line: lines.length, kind: 'no-anchor', message: `the head anchor ${trail.headFile} is missing, so records cut off the end cannot be detected` })
  } else if (!last || last.seq < head.seq) {
    problems.push({
      line: lines.length,
      seq: (last?.seq ?? 0) + 1,
      kind: 'truncated',
      message: `truncated: the head anchor says record ${head.seq} was written, the trail ends at record ${last?.seq ?? 0}`,
    })
  } else if (last.seq === head.seq && last.hash !== head.hash) {
    problems.push({ line: lines.length, seq: last.seq, kind: 'edited', message: `record ${last.seq} (line ${lines.length}) is not the record the head anchor names` })
  }
  return { file: trail.file, ok: problems.length === 0, records: lines.length, lastHash: last?.hash ?? null, problems }
}
