/** The seed the LaunchDarkly plane's tests share: one project, two environments, two flags. */
import type { SeedInput } from '../../../src/sandbox/seed.js'

export const API_TOKEN = 'api-test-breakglass'
export const PROJECT = 'agents'

export const launchDarklySeed: SeedInput = {
  launchdarkly: {
    apiTokens: [API_TOKEN],
    projects: {
      [PROJECT]: {
        environments: { production: { sdkKey: 'sdk-test-production' }, staging: { sdkKey: 'sdk-test-staging' } },
        flags: [
          { key: 'refund-agent-enabled', on: { production: true, staging: true }, tags: ['agents', 'refund'] },
          { key: 'support-agent-enabled', on: { production: true }, tags: ['agents'] },
        ],
      },
    },
  },
}
