/**
 * The state directory's lock: one killswitch invocation that mutates at a time, so two operators cannot
 * interleave their halts and restores. A lock left by a process that no longer runs on this host is taken over.
 */
import { hostname, userInfo } from 'node:os'
import { mkdir, open, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'

export interface LockHolder {
  pid: number
  host: string
  user: string
  command: string
  since: string
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

export async function acquireLock(stateDir: string, command: string): Promise<Lock> {
  await mkdir(stateDir, { recursive: true })
  const file = join(stateDir, 'lock')
  const me: LockHolder = { pid: process.pid, host: hostname(), user: userInfo().username, command, since: new Date().toISOString() }
  let tookOverFrom: LockHolder | undefined
  for (let attempt = 0; attempt < 3; attempt++) {
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
      if (holder && (holder.host !== me.host || alive(holder.pid))) throw new LockedError(holder, file)
      // Stale (its process is gone) or unreadable (a crash while writing it): take it over.
      tookOverFrom = holder
      await unlink(file).catch(() => undefined)
    }
  }
  throw new Error(`could not take the state lock ${file}`)
}
