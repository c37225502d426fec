/**
 * The server-side SDK's endpoints (docs/sandbox/launchdarkly.md): the FDv1 stream `GET /all`, polling
 * `GET /sdk/latest-all`, and the event sinks `POST /bulk` and `POST /diagnostic`. SDK endpoints are never
 * rate-limited, as in LaunchDarkly.
 *
 * Stream invariants: a stream belongs to the project and environment of its SDK key; it gets one `put` with every
 * flag on connect, then one `patch` per change in its environment, `streamPushDelayMs` after the change, carrying
 * the flag as it was right after that change (so patches arrive in version order); `:` heartbeats keep idle
 * streams inside the SDK's 5-minute read timeout.
 */
import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Realism } from '../realism.js'
import { notFound, type SandboxRequest } from '../server.js'
import { sdkFlag, sdkFlags } from './flag-shapes.js'
import type { FlagRecord, FlagStore, ProjectRecord } from './flag-store.js'
import { sendJson } from './responses.js'

export const HEARTBEAT_INTERVAL_MS = 60_000

interface OpenStream {
  project: string
  environment: string
  res: ServerResponse
  heartbeat: NodeJS.Timeout
}

export class LaunchDarklySdkEndpoints {
  private readonly streams = new Set<OpenStream>()
  private readonly pendingPushes = new Set<NodeJS.Timeout>()

  constructor(
    private readonly store: FlagStore,
    private readonly realism: Realism,
  ) {
    store.onChange((project, environment, flag) => this.schedulePatch(project, environment, flag))
  }

  get openStreamCount(): number {
    return this.streams.size
  }

  async handle(req: SandboxRequest, res: ServerResponse): Promise<void> {
    const path = req.url.pathname
    if ((path === '/bulk' || path === '/diagnostic') && req.method === 'POST') {
      res.writeHead(202)
      return void res.end()
    }
    if (req.method !== 'GET' || (path !== '/all' && path !== '/sdk/latest-all')) return notFound(res, `${req.method} ${path}`)
    const sdkKey = typeof req.headers.authorization === 'string' ? req.headers.authorization : ''
    const owner = this.store.environmentForSdkKey(sdkKey)
    if (!owner) return sendJson(res, 401, { code: 'unauthorized', message: 'Invalid SDK key' })
    if (path === '/all') return this.openStream(res, owner.project, owner.environment)
    this.answerPoll(req, res, owner.project, owner.environment)
  }

  /** Ends every open stream and drops pushes not yet sent. */
  close(): void {
    for (const timer of this.pendingPushes) clearTimeout(timer)
    this.pendingPushes.clear()
    for (const stream of this.streams) stream.res.end()
    this.streams.clear()
  }

  private openStream(res: ServerResponse, project: ProjectRecord, environment: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
    const put = { path: '/', data: { flags: sdkFlags(project.key, project.flags.values(), environment), segments: {} } }
    res.write(`event: put\ndata: ${JSON.stringify(put)}\n\n`)
    const stream: OpenStream = {
      project: project.key,
      environment,
      res,
      heartbeat: setInterval(() => res.write(':\n\n'), HEARTBEAT_INTERVAL_MS).unref(),
    }
    this.streams.add(stream)
    res.on('close', () => {
      clearInterval(stream.heartbeat)
      this.streams.delete(stream)
    })
  }

  private answerPoll(req: SandboxRequest, res: ServerResponse, project: ProjectRecord, environment: string): void {
    const body = JSON.stringify({ flags: sdkFlags(project.key, project.flags.values(), environment), segments: {} })
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag })
      return void res.end()
    }
    res.writeHead(200, { 'content-type': 'application/json', etag })
    res.end(body)
  }

  private schedulePatch(project: string, environment: string, flag: FlagRecord): void {
    const event = `event: patch\ndata: ${JSON.stringify({ path: `/flags/${flag.key}`, data: sdkFlag(project, flag, environment) })}\n\n`
    const push = () => {
      for (const stream of this.streams) {
        if (stream.project === project && stream.environment === environment) stream.res.write(event)
      }
    }
    const delayMs = this.realism.profile.streamPushDelayMs
    if (delayMs <= 0) return push()
    const timer = setTimeout(() => {
      this.pendingPushes.delete(timer)
      push()
    }, delayMs)
    this.pendingPushes.add(timer)
  }
}
