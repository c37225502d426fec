/**
 * The state directory's lock: one killswitch invocation that mutates at a time, so two operators cannot
 * interleave their halts and restores. A lock left by a process that no longer runs on this host is taken over.
 */
import { hostname, userInfo } from 'node:os'
import { mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { delay } from '../core/wait.js'

/**
 * How long an invocation waits for a brief holder (or a lock file still being written) before it gives up. A hold
 * takes the lock only for the moment it appends to the journal, and a restore that met it must not be refused.
 */
const BRIEF_WAIT_MS = 2000

export interface LockHolder {
  pid: number
  host: string
  user: string
  command: string
  since: string
  /** Held only for the moment of a journal append (a hold's records): others wait for it instead of refusing. */
  brief?: true
}

export class LockedError extends Error {
  constructor(
    readonly holder: LockHolder,
    readonly file: string,
  ) {
    super(
      `another killswitch invocation holds the state lock: "${holder.command}" by ${holder.user} on ${holder.host} (pid ${holder.pid}) since ${holder.since}. ` +
        `Wait for it to finish; if that process is gone from another host, delete ${file}`,
    )
    this.name = 'LockedError'
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface Lock {
  release(): Promise<void>
  /** Set when a stale lock was taken over; worth a warning. */
  tookOverFrom?: LockHolder
}

export async function acquireLock(stateDir: string, command: string, options: { brief?: boolean } = {}): Promise<Lock> {
  await mkdir(stateDir, { recursive: true })
  const file = join(stateDir, 'lock')
  const me: LockHolder = { pid: process.pid, host: hostname(), user: userInfo().username, command, since: new Date().toISOString(), ...(options.brief ? { brief: true as const } : {}) }
  let tookOverFrom: LockHolder | undefined
  const waitUntil = Date.now() + BRIEF_WAIT_MS
  for (let takeovers = 0; takeovers < 3; ) {
    try {
      const handle = await open(file, 'wx', 0o600)
      await handle.writeFile(JSON.stringify(me))
      await handle.sync()
      await handle.close()
      let released = false
      return {
        tookOverFrom,
        async release() {
          if (released) return
          released = true
          await unlink(file).catch(() => undefined)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = await readFile(file, 'utf8')
        .then((t) => JSON.parse(t) as LockHolder)
        .catch(() => undefined)
      if (holder && (holder.host !== me.host || alive(holder.pid))) {
        if (holder.brief && Date.now() < waitUntil) {
          await delay(5)
          continue
        }
        throw new LockedError(holder, file)
      }
      // Unreadable and just created: its holder is writing it now.
      const age = holder ? Infinity : await stat(file).then((st) => Date.now() - st.mtimeMs, () => Infinity)
      if (age < BRIEF_WAIT_MS && Date.now() < waitUntil) {
        await delay(5)
        continue
      }
      // Stale (its process is gone) or unreadable (a crash while writing it): take it over.
      takeovers++
      tookOverFrom = holder
      await unlink(file).catch(() => undefined)
    }
  }
  throw new Error(`could not take the state lock ${file}`)
}

/**
 * The invocation holding the lock now, if any: undefined when there is no lock or it was left by a process that no
 * longer runs on this host. A lock from another host counts as held (its process cannot be checked from here).
 */
export async function lockHolder(stateDir: string): Promise<LockHolder | undefined> {
  const holder = await readFile(join(stateDir, 'lock'), 'utf8')
    .then((t) => JSON.parse(t) as LockHolder)
    .catch(() => undefined)
  if (!holder) return undefined
  return holder.host !== hostname() || alive(holder.pid) ? holder : undefined
}
