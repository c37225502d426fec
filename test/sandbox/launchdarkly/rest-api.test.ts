import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LaunchDarklyState } from '../../../src/sandbox/launchdarkly/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { API_TOKEN, PROJECT, launchDarklySeed } from './seed.js'

const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch'

interface EnvironmentConfig {
  on: boolean
  version: number
  offVariation: number
  fallthrough: { variation: number }
}

interface FeatureFlag {
  key: string
  _version: number
  variations: { _id: string; value: unknown }[]
  tags: string[]
  environments: Record<string, EnvironmentConfig>
}

let sandbox: Sandbox

beforeEach(async () => {
  sandbox = await startSandbox({ seed: launchDarklySeed })
})

afterEach(async () => {
  await sandbox.stop()
})

function ldState(): LaunchDarklyState {
  return sandbox.state().launchdarkly as LaunchDarklyState
}

function rest(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sandbox.env.KILLSWITCH_LAUNCHDARKLY_BASE_URI}${path}`, {
    ...init,
    headers: { Authorization: API_TOKEN, 'LD-API-Version': '20240415', ...init.headers },
  })
}

function semanticPatch(flagKey: string, body: unknown, contentType = SEMANTIC_PATCH): Promise<Response> {
  return rest(`/api/v2/flags/${PROJECT}/${flagKey}`, {
    method: 'PATCH',
    headers: { 'Content-Type': contentType },
    body: JSON.stringify(body),
  })
}

const turnOff = { environmentKey: 'production', comment: 'killswitch: INC-4411', instructions: [{ kind: 'turnFlagOff' }] }
const turnOn = { environmentKey: 'production', comment: 'killswitch restore: fixed', instructions: [{ kind: 'turnFlagOn' }] }

describe('LaunchDarkly REST: reading flags', () => {
  it('returns the FeatureFlag with per-environment on, version, offVariation and fallthrough', async () => {
    const response = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled?env=production`)
    expect(response.status).toBe(200)
    const flag = (await response.json()) as FeatureFlag
    expect(flag.key).toBe('refund-agent-enabled')
    expect(flag._version).toBe(1)
    expect(flag.variations.map((variation) => variation.value)).toEqual([true, false])
    expect(Object.keys(flag.environments)).toEqual(['production'])
    expect(flag.environments.production).toMatchObject({ on: true, version: 1, offVariation: 1, fallthrough: { variation: 0 } })
  })

  it('lists a project flags filtered by tags and environments', async () => {
    const response = await rest(`/api/v2/flags/${PROJECT}?env=staging&filter=tags:refund`)
    expect(response.status).toBe(200)
    const list = (await response.json()) as { items: FeatureFlag[]; totalCount: number }
    expect(list.totalCount).toBe(1)
    expect(list.items.map((flag) => flag.key)).toEqual(['refund-agent-enabled'])
    expect(Object.keys(list.items[0]!.environments)).toEqual(['staging'])
  })

  it('pages a list with limit and offset, totalCount counting every match', async () => {
    const all = (await (await rest(`/api/v2/flags/${PROJECT}`)).json()) as { items: FeatureFlag[]; totalCount: number }
    expect(all.totalCount).toBeGreaterThan(1)
    const first = (await (await rest(`/api/v2/flags/${PROJECT}?limit=1`)).json()) as { items: FeatureFlag[]; totalCount: number }
    const second = (await (await rest(`/api/v2/flags/${PROJECT}?limit=1&offset=1`)).json()) as { items: FeatureFlag[]; totalCount: number }
    expect(first.items).toHaveLength(1)
    expect(second.items).toHaveLength(1)
    expect(first.totalCount).toBe(all.totalCount)
    expect(second.items[0]!.key).not.toBe(first.items[0]!.key)
    expect([first.items[0]!.key, second.items[0]!.key]).toEqual(all.items.slice(0, 2).map((f) => f.key))
  })

  it('sends the rate-limit headers on every answer, the reset in epoch milliseconds', async () => {
    const first = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled`)
    const second = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled`)
    const denied = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled`, { headers: { Authorization: 'wrong' } })
    for (const response of [first, second, denied]) {
      expect(response.headers.get('x-ratelimit-global-remaining')).toMatch(/^\d+$/)
      expect(response.headers.get('x-ratelimit-route-remaining')).toMatch(/^\d+$/)
      expect(Number(response.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() - 1000)
    }
    expect(Number(second.headers.get('x-ratelimit-route-remaining'))).toBe(Number(first.headers.get('x-ratelimit-route-remaining')) - 1)
  })

  it('answers 429 rate_limited with Retry-After once a route window is used up, when limits are enforced', async () => {
    await sandbox.stop()
    sandbox = await startSandbox({ seed: launchDarklySeed, overrides: { rateLimits: true } })
    const statuses: number[] = []
    let last: Response | undefined
    for (let i = 0; i < 101; i++) {
      last = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled`)
      statuses.push(last.status)
    }
    expect(statuses.slice(0, 100).every((status) => status === 200)).toBe(true)
    expect(last!.status).toBe(429)
    expect(await last!.json()).toMatchObject({ code: 'rate_limited' })
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(last!.headers.get('x-ratelimit-route-remaining')).toBe('0')
  })
})

describe('LaunchDarkly REST: semantic patch', () => {
  it('turns a flag off and on again, bumping the version and logging each comment', async () => {
    const off = await semanticPatch('refund-agent-enabled', turnOff)
    expect(off.status).toBe(200)
    const offFlag = (await off.json()) as FeatureFlag
    expect(offFlag.environments.production).toMatchObject({ on: false, version: 2 })
    expect(offFlag.environments.staging).toMatchObject({ on: true, version: 1 })
    expect(offFlag._version).toBe(2)
    expect(ldState().projects[PROJECT]!.environments.production!.flags['refund-agent-enabled']).toEqual({ on: false, version: 2 })

    const on = await semanticPatch('refund-agent-enabled', turnOn)
    expect(on.status).toBe(200)
    expect(((await on.json()) as FeatureFlag).environments.production).toMatchObject({ on: true, version: 3 })

    const changes = ldState().changes
    expect(changes.map(({ flag, environment, instruction, comment, on, version }) => ({ flag, environment, instruction, comment, on, version }))).toEqual([
      { flag: 'refund-agent-enabled', environment: 'production', instruction: 'turnFlagOff', comment: 'killswitch: INC-4411', on: false, version: 2 },
      { flag: 'refund-agent-enabled', environment: 'production', instruction: 'turnFlagOn', comment: 'killswitch restore: fixed', on: true, version: 3 },
    ])
    expect(Date.parse(changes[0]!.time)).not.toBeNaN()
  })

  it('is idempotent: turning off a flag that is off changes nothing and logs nothing', async () => {
    await semanticPatch('refund-agent-enabled', turnOff)
    const repeat = await semanticPatch('refund-agent-enabled', turnOff)
    expect(repeat.status).toBe(200)
    expect(((await repeat.json()) as FeatureFlag).environments.production).toMatchObject({ on: false, version: 2 })
    expect(ldState().changes).toHaveLength(1)
  })

  it('reads a semantic body sent without the domain-model content type as a JSON patch, and refuses it with 400', async () => {
    const response = await semanticPatch('refund-agent-enabled', turnOff, 'application/json')
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'invalid_request' })
    expect(ldState().projects[PROJECT]!.environments.production!.flags['refund-agent-enabled']).toEqual({ on: true, version: 1 })
  })

  it('refuses an unknown instruction and a missing environmentKey with 400, changing nothing', async () => {
    const unknown = await semanticPatch('refund-agent-enabled', { environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }, { kind: 'archiveFlag' }] })
    expect(unknown.status).toBe(400)
    expect(await unknown.json()).toMatchObject({ code: 'invalid_request' })
    const missingEnvironment = await semanticPatch('refund-agent-enabled', { instructions: [{ kind: 'turnFlagOff' }] })
    expect(missingEnvironment.status).toBe(400)
    expect(await missingEnvironment.json()).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('environmentKey') })
    expect(ldState().changes).toEqual([])
  })

  it('leaves the flag untouched on dryRun=true', async () => {
    const response = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled?dryRun=true`, {
      method: 'PATCH',
      headers: { 'Content-Type': SEMANTIC_PATCH },
      body: JSON.stringify(turnOff),
    })
    expect(((await response.json()) as FeatureFlag).environments.production).toMatchObject({ on: false, version: 2 })
    expect(ldState().projects[PROJECT]!.environments.production!.flags['refund-agent-enabled']).toEqual({ on: true, version: 1 })
  })
})

describe('LaunchDarkly REST: JSON patch', () => {
  it('replaces /environments/<env>/on, with the comment of the {patch, comment} form', async () => {
    const response = await rest(`/api/v2/flags/${PROJECT}/support-agent-enabled`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ comment: 'json patch halt', patch: [{ op: 'replace', path: '/environments/production/on', value: false }] }),
    })
    expect(response.status).toBe(200)
    expect(((await response.json()) as FeatureFlag).environments.production).toMatchObject({ on: false, version: 2 })
    expect(ldState().changes).toMatchObject([{ flag: 'support-agent-enabled', environment: 'production', comment: 'json patch halt', on: false }])
  })

  it('refuses operations on other paths with 400', async () => {
    const response = await rest(`/api/v2/flags/${PROJECT}/support-agent-enabled`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ op: 'replace', path: '/environments/production/rules', value: [] }]),
    })
    expect(response.status).toBe(400)
    expect(ldState().changes).toEqual([])
  })
})

describe('LaunchDarkly REST: errors', () => {
  it('answers 401 unauthorized for a wrong token, a Bearer token and an SDK key, without changing anything', async () => {
    for (const authorization of ['not-a-token', `Bearer ${API_TOKEN}`, 'sdk-test-production']) {
      const response = await rest(`/api/v2/flags/${PROJECT}/refund-agent-enabled`, {
        method: 'PATCH',
        headers: { Authorization: authorization, 'Content-Type': SEMANTIC_PATCH },
        body: JSON.stringify(turnOff),
      })
      expect(response.status).toBe(401)
      const body = (await response.json()) as { code: string; message: string }
      expect(body.code).toBe('unauthorized')
      expect(body.message).not.toContain(authorization)
    }
    expect(ldState().changes).toEqual([])
  })

  it('answers 404 not_found for an unknown flag or project', async () => {
    const unknownFlag = await rest(`/api/v2/flags/${PROJECT}/no-such-flag`)
    expect(unknownFlag.status).toBe(404)
    expect(await unknownFlag.json()).toMatchObject({ code: 'not_found' })
    const unknownProject = await rest('/api/v2/flags/no-such-project/refund-agent-enabled')
    expect(unknownProject.status).toBe(404)
    expect(await unknownProject.json()).toMatchObject({ code: 'not_found' })
  })

  it('answers 404 not_found for a semantic patch on an unknown environment', async () => {
    const response = await semanticPatch('refund-agent-enabled', { ...turnOff, environmentKey: 'prod' })
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ code: 'not_found' })
  })
})
