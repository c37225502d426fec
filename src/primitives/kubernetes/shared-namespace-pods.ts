/**
 * The pod caches of the namespaces in use: one `NamespacePods` per (context, namespace), shared by every
 * verification (and grace-period delete) there, opened by the first and closed when the last is done.
 *
 * Invariants: a cache that stopped on its own (its list failed) is never handed out again; closing waits until the
 * end of the current event-loop turn, so that an apply that used the cache hands it to the verification the engine
 * starts right after it, without a second list; `closeAll()` closes every cache at once.
 */
import type { KubernetesClient } from './client.js'
import { NamespacePods } from './namespace-pods.js'

interface OpenCache {
  pods: NamespacePods
  users: number
}

export class SharedNamespacePods {
  private readonly open = new Map<string, OpenCache>()

  /** Runs `work` with the namespace's cache, opening it (with `pace` for its requests) if no one holds it. */
  async use<T>(client: KubernetesClient, namespace: string, pace: () => Promise<void>, work: (pods: NamespacePods) => Promise<T>): Promise<T> {
    const key = `${client.context}\u0000${namespace}`
    let cache = this.open.get(key)
    if (!cache || cache.pods.closed) {
      const opened: OpenCache = {
        pods: new NamespacePods(client, namespace, pace, () => {
          if (this.open.get(key) === opened) this.open.delete(key)
        }),
        users: 0,
      }
      cache = opened
      this.open.set(key, cache)
    }
    const held = cache
    held.users++
    try {
      return await work(held.pods)
    } finally {
      held.users--
      if (held.users === 0) {
        setImmediate(() => {
          if (held.users === 0) held.pods.close()
        })
      }
    }
  }

  closeAll(): void {
    for (const cache of [...this.open.values()]) cache.pods.close()
    this.open.clear()
  }
}
