/**
 * Resolves once no pod matches a workload's selector, terminating pods included: the halt is verified only when
 * the last process is gone, not when the controller accepted replicas=0.
 *
 * List first (the starting set and resourceVersion), then watch from that version until every listed or added pod
 * was DELETED. Any end of the watch (the client's own 30 s timeout, the server closing it, an ERROR event such as
 * 410 Gone) falls back to a fresh list, so no event can be lost between watches.
 */
import { delay } from '../../core/wait.js'
import type { KubernetesClient, PodList, PodWatch } from './client.js'

type WatchOutcome = 'gone' | 'ended' | 'failed'

const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 2000

export interface PodsGoneOptions {
  signal: AbortSignal
  /** Called before every request (list and watch), for the caller's rate limit. */
  pace(): Promise<void>
}

export async function waitUntilPodsGone(
  client: KubernetesClient,
  namespace: string,
  podSelector: string,
  options: PodsGoneOptions,
): Promise<void> {
  let retryMs = FIRST_RETRY_MS
  for (;;) {
    options.signal.throwIfAborted()
    await options.pace()
    const listed = await client.listPods(namespace, podSelector, options.signal)
    if (listed.names.length === 0) return
    await options.pace()
    const outcome = await watchUntilGone(client, namespace, podSelector, listed, options.signal)
    if (outcome === 'gone') return
    if (outcome === 'failed') {
      // A watch that fails at once (refused, not supported) must not turn the re-list into a busy loop.
      await delay(retryMs, options.signal)
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2)
    } else {
      retryMs = FIRST_RETRY_MS
    }
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
}

function watchUntilGone(
  client: KubernetesClient,
  namespace: string,
  podSelector: string,
  listed: PodList,
  signal: AbortSignal,
): Promise<WatchOutcome> {
  return new Promise((resolve, reject) => {
    const remaining = new Set(listed.names)
    let watch: PodWatch | undefined
    let settled = false
    const settle = (finish: () => void) => {
      if (settled) return
      settled = true
      signal.removeEventListener('abort', onAbort)
      watch?.stop()
      finish()
    }
    const onAbort = () => settle(() => reject(signal.reason))
    signal.addEventListener('abort', onAbort, { once: true })

    client
      .watchPods(
        namespace,
        podSelector,
        listed.resourceVersion,
        (event) => {
          if (event.type === 'ERROR') return settle(() => resolve('ended'))
          if (event.name === undefined) return
          if (event.type === 'DELETED') remaining.delete(event.name)
          else if (event.type === 'ADDED' || event.type === 'MODIFIED') remaining.add(event.name)
          if (remaining.size === 0) settle(() => resolve('gone'))
        },
        (error) => settle(() => resolve(error === undefined || isTimeout(error) ? 'ended' : 'failed')),
      )
      .then(
        (opened) => {
          watch = opened
          if (settled) opened.stop()
        },
        () => settle(() => resolve('failed')),
      )
  })
}
