/**
 * The drill history: one JSON line per drill in `<stateDir>/drills/history.jsonl`, appended after every drill, so
 * that a report can say whether this drill was slower than the ones before it. The history holds figures and
 * names only (never states or secrets); it is local state like the journal, and is never redacted on disk.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { DrillReport, DrillVerdict } from '../core/drill.js'

export interface DrillHistoryEntry {
  drillId: string
  /** When the drill started (ISO 8601). */
  at: string
  scope: string
  runbook: string
  verdict: DrillVerdict
  timeToHaltMs: number | null
  sloMs: number
  targets: number
}

export interface HistorySummary {
  /** Past drills of the same runbook and scope whose halt completed (the current drill excluded). */
  count: number
  p50Ms: number | null
  p95Ms: number | null
  /** Time-to-halt of the last TREND_LENGTH of those drills, oldest first (the current drill not included). */
  trend: number[]
  /**
   * The current drill halted later than the p95 of the last 10 past drills, or, with fewer than 10, later than
   * each of the last 3 (all of them when fewer than 3). Never set without a past drill or a measured current one.
   */
  slower: boolean
}

const TREND_LENGTH = 10
const SLOWER_WINDOW = 10
const SLOWER_FALLBACK_WINDOW = 3

/** Verdicts whose halt ran to the end, so that their time-to-halt measures the switch. */
const MEASURED_VERDICTS: readonly DrillVerdict[] = ['pass', 'slo-breached', 'restore-mismatch']

export function historyFile(stateDir: string): string {
  return join(stateDir, 'drills', 'history.jsonl')
}

function historyEntry(report: DrillReport): DrillHistoryEntry {
  return {
    drillId: report.drillId,
    at: report.startedAt,
    scope: report.scope,
    runbook: report.runbook.name,
    verdict: report.verdict,
    timeToHaltMs: report.timeToHaltMs,
    sloMs: report.sloMs,
    targets: report.halt?.targets.length ?? 0,
  }
}

/**
 * Appends the drill once: a drill already in the history (a report written again) is not counted twice. A last
 * line cut short by a crash is ended first, so that it cannot swallow the new one.
 */
export async function appendHistory(stateDir: string, report: DrillReport): Promise<void> {
  const text = await readHistoryText(stateDir)
  if (parseEntries(text).some((e) => e.drillId === report.drillId)) return
  await mkdir(join(stateDir, 'drills'), { recursive: true })
  const separator = text === '' || text.endsWith('\n') ? '' : '\n'
  await appendFile(historyFile(stateDir), separator + JSON.stringify(historyEntry(report)) + '\n')
}

/** The drills of one runbook and scope, oldest first. A missing file is an empty history. */
export async function readHistory(stateDir: string, filter: { scope: string; runbook: string }): Promise<DrillHistoryEntry[]> {
  return parseEntries(await readHistoryText(stateDir)).filter((e) => e.scope === filter.scope && e.runbook === filter.runbook)
}

async function readHistoryText(stateDir: string): Promise<string> {
  try {
    return await readFile(historyFile(stateDir), 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw error
  }
}

/**
 * Lines that are not a history entry (a line cut short by a crash mid-append) are skipped: losing one past
 * figure must not stop the report of the drill that just ran.
 */
function parseEntries(text: string): DrillHistoryEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line) => {
      const parsed = parseLine(line)
      return parsed ? [parsed] : []
    })
}

function parseLine(line: string): DrillHistoryEntry | undefined {
  try {
    const value = JSON.parse(line) as Partial<DrillHistoryEntry>
    const valid =
      typeof value.drillId === 'string' &&
      typeof value.scope === 'string' &&
      typeof value.runbook === 'string' &&
      typeof value.verdict === 'string' &&
      (value.timeToHaltMs === null || typeof value.timeToHaltMs === 'number')
    return valid ? (value as DrillHistoryEntry) : undefined
  } catch {
    return undefined
  }
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1]!
}

/** Summarizes the past drills of `history` (oldest first; entries of the current drill are ignored) against `current`. */
export function summarize(history: readonly DrillHistoryEntry[], current: DrillReport): HistorySummary {
  const past = history
    .filter((e) => e.drillId !== current.drillId && MEASURED_VERDICTS.includes(e.verdict) && e.timeToHaltMs !== null)
    .map((e) => e.timeToHaltMs as number)
  if (past.length === 0) return { count: 0, p50Ms: null, p95Ms: null, trend: [], slower: false }
  return {
    count: past.length,
    p50Ms: percentile(past, 50),
    p95Ms: percentile(past, 95),
    trend: past.slice(-TREND_LENGTH),
    slower: current.timeToHaltMs !== null && isSlower(current.timeToHaltMs, past),
  }
}

function isSlower(current: number, past: readonly number[]): boolean {
  if (past.length >= SLOWER_WINDOW) return current > percentile(past.slice(-SLOWER_WINDOW), 95)
  return past.slice(-SLOWER_FALLBACK_WINDOW).every((value) => current > value)
}
