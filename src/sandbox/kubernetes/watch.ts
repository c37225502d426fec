/**
 * Watches: `?watch=true` streams newline-delimited JSON events `{"type":…,"object":…}` on a chunked
 * `application/json` response until `timeoutSeconds`, the client leaving, or the plane closing.
 *
 * Start point (resourceVersion semantics of the apiserver): unset or "0" first sends the current matching objects as
 * ADDED; a revision N replays every change after N, or one ERROR event with a 410 Expired Status when N is older
 * than the retained history. An object that starts or stops matching the selectors arrives as ADDED or DELETED.
 * With `allowWatchBookmarks=true`, BOOKMARK events (only `metadata.resourceVersion`) come every minute and just
 * before a timeout closes the stream.
 */
import type { ServerResponse } from 'node:http'
import type { KubeObject } from './objects.js'
import { apiVersionOf, RESOURCES, type ResourceName } from './resources.js'
import { matchesFields, matchesLabels, type FieldRequirement, type LabelRequirement } from './selectors.js'
import { goneError } from './status.js'
import type { ObjectStore, StoreEvent } from './store.js'

export const BOOKMARK_INTERVAL_MS = 60_000

export interface WatchRequest {
  resource: ResourceName
  /** Undefined: all namespaces. */
  namespace?: string
  labels: LabelRequirement[]
  fields: FieldRequirement[]
  /** Already validated: undefined, "0", or a decimal revision. */
  resourceVersion?: string
  timeoutSeconds?: number
  allowWatchBookmarks: boolean
  /** How an object goes on the wire (plain, or as a one-row Table for kubectl). */
  render: (object: KubeObject, resourceVersion: string) => unknown
}

type WireEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'

/** Every open watch stream, so the plane can end them on close. */
export class WatchStreams {
  private readonly open = new Set<() => void>()

  constructor(private readonly store: ObjectStore) {}

  serve(request: WatchRequest, res: ServerResponse): void {
    const matches = (object: KubeObject) =>
      (request.namespace === undefined || object.metadata.namespace === request.namespace) &&
      matchesLabels(request.labels, object.metadata.labels) &&
      matchesFields(request.fields, object, request.resource)

    const send = (type: WireEventType, object: unknown) => {
      res.write(`${JSON.stringify({ type, object })}\n`)
    }
    const sendObject = (type: WireEventType, object: KubeObject) => send(type, request.render(object, object.metadata.resourceVersion))
    const deliver = (event: StoreEvent) => {
      if (event.resource !== request.resource) return
      const now = matches(event.object)
      const before = event.previous !== undefined && matches(event.previous)
      if (event.type === 'MODIFIED') {
        if (now && before) sendObject('MODIFIED', event.object)
        else if (now) sendObject('ADDED', event.object)
        else if (before) sendObject('DELETED', event.object)
      } else if (now) sendObject(event.type, event.object)
    }
    const bookmark = () =>
      send('BOOKMARK', {
        kind: RESOURCES[request.resource].kind,
        apiVersion: apiVersionOf(request.resource),
        metadata: { resourceVersion: String(this.store.currentRevision) },
      })

    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' })
    res.flushHeaders()

    const requested = request.resourceVersion
    if (requested === undefined || requested === '0') {
      for (const object of this.store.list(request.resource, request.namespace, matches)) sendObject('ADDED', object)
    } else {
      const replay = this.store.eventsAfter(Number(requested))
      if (!replay) {
        send('ERROR', goneError(requested, this.store.oldestRetainedRevision).status)
        res.end()
        return
      }
      replay.forEach(deliver)
    }

    const timers: NodeJS.Timeout[] = []
    const unsubscribe = this.store.subscribe(deliver)
    const finish = () => {
      unsubscribe()
      timers.forEach(clearTimeout)
      this.open.delete(finish)
      if (!res.writableEnded) res.end()
    }
    this.open.add(finish)
    res.on('close', finish)
    if (request.allowWatchBookmarks) timers.push(setInterval(bookmark, BOOKMARK_INTERVAL_MS))
    if (request.timeoutSeconds !== undefined) {
      timers.push(
        setTimeout(() => {
          if (request.allowWatchBookmarks) bookmark()
          finish()
        }, request.timeoutSeconds * 1000),
      )
    }
  }

  closeAll(): void {
    for (const finish of [...this.open]) finish()
  }
}
