/**
 * The sandbox's LaunchDarkly plane: the REST API under `/api/v2/*` and the server-side SDK endpoints (`/all`,
 * `/sdk/*`, `/bulk`, `/diagnostic`), sharing one flag store so a REST change reaches SDK streams.
 * Behaviour and sources: docs/sandbox/launchdarkly.md.
 */
import type { Plane, PlaneOptions } from '../server.js'
import { FlagStore, type FlagChange, type FlagStateSnapshot } from './flag-store.js'
import { LaunchDarklyRestApi } from './rest-api.js'
import { LaunchDarklySdkEndpoints } from './sdk-endpoints.js'

export interface LaunchDarklyState {
  projects: FlagStateSnapshot
  /** Every REST change, oldest first. */
  changes: FlagChange[]
  openStreams: number
}

export function createLaunchDarklyPlane(options: PlaneOptions): Plane {
  const store = new FlagStore(options.seed.launchdarkly)
  const rest = new LaunchDarklyRestApi({ store, realism: options.realism, apiTokens: options.seed.launchdarkly.apiTokens, approvalBypassTokens: options.seed.launchdarkly.approvalBypassTokens })
  const sdk = new LaunchDarklySdkEndpoints(store, options.realism)
  return {
    name: 'launchdarkly',
    async handle(req, res) {
      if (req.url.pathname.startsWith('/api/v2/')) return rest.handle(req, res)
      return sdk.handle(req, res)
    },
    state(): LaunchDarklyState {
      return { projects: store.snapshot(), changes: store.changes.map((change) => ({ ...change })), openStreams: sdk.openStreamCount }
    },
    async close() {
      store.close()
      sdk.close()
    },
  }
}
