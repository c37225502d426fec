// Placeholder until the launchdarkly plane lands: answers every request with the sandbox's loud 404.
import { notFound, type Plane, type PlaneOptions } from '../server.js'

export function createLaunchDarklyPlane(_options: PlaneOptions): Plane {
  return {
    name: 'launchdarkly',
    async handle(req, res) {
      notFound(res, `${req.method} ${req.url.pathname}`)
    },
    state: () => ({}),
    close: async () => {},
  }
}
