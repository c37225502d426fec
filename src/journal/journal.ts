/**
 * The journal: an append-only, fsync'd log of every snapshot and mutation, from which the current halt state is
 * derived by replay. Invariants:
 * - a target's snapshot is durable on disk before the first request that mutates it (write-ahead);
 * - the first snapshot of a target stays until the target is restored: halting an already-halted target, by the
 *   same or another scope, only adds a hold;
 * - a crash at any point leaves a log whose replay tells `halt` what to resume and `restore` what to put back.
 * Appends from concurrent targets are grouped into one write and one fsync (group commit).
 */
import { mkdir, open, readFile, truncate, type FileHandle } from 'node:fs/promises'
import { redactDeep } from '../core/secrets.js'
import { join } from 'node:path'
import type { Target, TargetState } from '../core/primitive.js'

export type JournalRecord =
  | { type: 'begin'; invocation: string; action: 'halt' | 'restore'; scope: string; runbook: string; digest: string; at: string }
  | { type: 'snapshot'; invocation: string; scope: string; step: number; target: Target; snapshot: TargetState; at: string }
  | { type: 'hold'; invocation: string; scope: string; targetId: string; at: string }
  | { type: 'applied'; invocation: string; targetId: string; at: string }
  | { type: 'verified'; invocation: string; targetId: string; at: string }
  | { type: 'failed'; invocation: string; targetId: string; error: string; at: string }
  /** A hold found a verified target no longer halted; `by` is who last changed it, null when unknown. */
  | { type: 'reverted'; invocation: string; targetId: string; live: TargetState; liveText: string; by: string | null; at: string }
  | { type: 'released'; invocation: string; scope: string; targetId: string; at: string }
  | { type: 'restored'; invocation: string; targetId: string; at: string }
  | { type: 'end'; invocation: string; status: string; at: string }

/** A target the journal holds halted (or partly halted: applied or verified may still be false). */
export interface JournalEntry {
  target: Target
  snapshot: TargetState
  step: number
  /** Scopes holding the target halted; the target is restored when the last one is released. */
  holds: string[]
  /** The invocation that took the snapshot. */
  haltedBy: string
  since: string
  applied: boolean
  verified: boolean
  lastError?: string
  /** Set when a hold last saw the target no longer halted and has not verified it halted since. */
  reverted?: { invocation: string; at: string; live: TargetState; liveText: string; by: string | null }
}

export interface JournalState {
  entries: Map<string, JournalEntry>
  /** Invocations begun and never ended: a crash or a kill. */
  unfinished: { invocation: string; action: string; scope: string; at: string }[]
  /** A torn last line (a crash in the middle of a write) was ignored. */
  tornTail: boolean
}

export class JournalCorruptError extends Error {
  constructor(file: string, line: number) {
    super(`journal ${file} is unreadable at line ${line} (not the last line, so not a torn write); it must be repaired by hand before killswitch can act`)
    this.name = 'JournalCorruptError'
  }
}

export function replay(records: JournalRecord[]): Omit<JournalState, 'tornTail'> {
  const entries = new Map<string, JournalEntry>()
  const open = new Map<string, { invocation: string; action: string; scope: string; at: string }>()
  for (const r of records) {
    switch (r.type) {
      case 'begin':
        open.set(r.invocation, { invocation: r.invocation, action: r.action, scope: r.scope, at: r.at })
        break
      case 'end':
        open.delete(r.invocation)
        break
      case 'snapshot': {
        const existing = entries.get(r.target.id)
        if (existing) {
          if (!existing.holds.includes(r.scope)) existing.holds.push(r.scope)
        } else {
          entries.set(r.target.id, {
            target: r.target,
            snapshot: r.snapshot,
            step: r.step,
            holds: [r.scope],
            haltedBy: r.invocation,
            since: r.at,
            applied: false,
            verified: false,
          })
        }
        break
      }
      case 'hold': {
        const entry = entries.get(r.targetId)
        if (entry && !entry.holds.includes(r.scope)) entry.holds.push(r.scope)
        break
      }
      case 'applied': {
        const entry = entries.get(r.targetId)
        if (entry) entry.applied = true
        break
      }
      case 'verified': {
        const entry = entries.get(r.targetId)
        if (entry) {
          entry.verified = true
          delete entry.lastError
          delete entry.reverted
        }
        break
      }
      case 'reverted': {
        const entry = entries.get(r.targetId)
        if (entry) {
          entry.verified = false
          entry.reverted = { invocation: r.invocation, at: r.at, live: r.live, liveText: r.liveText, by: r.by }
        }
        break
      }
      case 'failed': {
        const entry = entries.get(r.targetId)
        if (entry) entry.lastError = r.error
        break
      }
      case 'released': {
        const entry = entries.get(r.targetId)
        if (entry) entry.holds = entry.holds.filter((s) => s !== r.scope)
        break
      }
      case 'restored':
        entries.delete(r.targetId)
        break
    }
  }
  return { entries, unfinished: [...open.values()] }
}

export class Journal {
  private handle: FileHandle | undefined
  private queue: { line: string; done: () => void; fail: (e: Error) => void }[] = []
  private flushing: Promise<void> | undefined

  private constructor(readonly file: string) {}

  /** Opens for appending. A torn last line left by a crash is cut off first, so new records start on a clean line. */
  static async open(stateDir: string): Promise<Journal> {
    await mkdir(stateDir, { recursive: true })
    const journal = new Journal(join(stateDir, 'journal.jsonl'))
    const text = await readFile(journal.file, 'utf8').catch(() => '')
    if (text.length > 0 && !text.endsWith('\n')) await truncate(journal.file, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)))
    journal.handle = await open(journal.file, 'a', 0o600)
    return journal
  }

  /** Reads and replays the journal in `stateDir` (empty when there is none). */
  static async read(stateDir: string): Promise<JournalState> {
    const file = join(stateDir, 'journal.jsonl')
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: new Map(), unfinished: [], tornTail: false }
      throw error
    }
    const lines = text.split('\n')
    if (lines.at(-1) === '') lines.pop()
    const records: JournalRecord[] = []
    let tornTail = false
    lines.forEach((line, i) => {
      try {
        records.push(JSON.parse(line) as JournalRecord)
      } catch {
        if (i === lines.length - 1) tornTail = true
        else throw new JournalCorruptError(file, i + 1)
      }
    })
    return { ...replay(records), tornTail }
  }

  /** Resolves once the records are durably on disk. */
  append(...records: JournalRecord[]): Promise<void> {
    const line = records.map((r) => JSON.stringify(redactDeep(r)) + '\n').join('')
    return new Promise((done, fail) => {
      this.queue.push({ line, done, fail })
      this.flushing ??= this.flush()
    })
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue
      this.queue = []
      try {
        if (!this.handle) throw new Error('journal is closed')
        await this.handle.write(batch.map((b) => b.line).join(''))
        await this.handle.datasync()
        for (const b of batch) b.done()
      } catch (error) {
        for (const b of batch) b.fail(error as Error)
      }
    }
    this.flushing = undefined
  }

  async close(): Promise<void> {
    await this.flushing
    await this.handle?.close()
    this.handle = undefined
  }
}
