/**
 * The real LaunchDarkly server SDK against the sandbox: streaming initialisation, evaluation, and the stream
 * `patch` that a REST semantic patch causes. No timed assertions: every wait is for an SDK event.
 */
import { basicLogger, init, type LDClient, type LDContext } from '@launchdarkly/node-server-sdk'
import { once } from 'node:events'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { LaunchDarklyState } from '../../../src/sandbox/launchdarkly/index.js'
import { startSandbox, type Sandbox } from '../../../src/sandbox/server.js'
import { API_TOKEN, PROJECT, launchDarklySeed } from './seed.js'

const FLAG = 'refund-agent-enabled'
const agent: LDContext = { kind: 'user', key: 'refund-7f3a' }

let sandbox: Sandbox
const clients: LDClient[] = []

beforeEach(async () => {
  sandbox = await startSandbox({ seed: launchDarklySeed })
})

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await sandbox.stop()
})

function connect(sdkKey: string): LDClient {
  const client = init(sdkKey, {
    baseUri: sandbox.env.KILLSWITCH_LAUNCHDARKLY_BASE_URI,
    streamUri: sandbox.env.KILLSWITCH_LAUNCHDARKLY_STREAM_URI,
    eventsUri: sandbox.env.KILLSWITCH_LAUNCHDARKLY_EVENTS_URI,
    stream: true,
    sendEvents: false,
    diagnosticOptOut: true,
    logger: basicLogger({ level: 'none' }),
  })
  clients.push(client)
  return client
}

function turn(kind: 'turnFlagOff' | 'turnFlagOn'): Promise<Response> {
  return fetch(`${sandbox.env.KILLSWITCH_LAUNCHDARKLY_BASE_URI}/api/v2/flags/${PROJECT}/${FLAG}`, {
    method: 'PATCH',
    headers: { Authorization: API_TOKEN, 'Content-Type': 'application/json; domain-model=launchdarkly.semanticpatch' },
    body: JSON.stringify({ environmentKey: 'production', comment: `sdk test ${kind}`, instructions: [{ kind }] }),
  })
}

describe('the LaunchDarkly server SDK streaming from the sandbox', () => {
  it('evaluates the flag on, sees turnFlagOff as an update with reason OFF, and turnFlagOn back to fallthrough', async () => {
    const client = connect(sandbox.env.LD_SDK_KEY_PRODUCTION!)
    await client.waitForInitialization({ timeout: 10 })
    expect((sandbox.state().launchdarkly as LaunchDarklyState).openStreams).toBe(1)

    const initial = await client.variationDetail(FLAG, agent, 'default')
    expect(initial.value).toBe(true)
    expect(initial.reason).toEqual({ kind: 'FALLTHROUGH' })

    const offSeen = once(client, `update:${FLAG}`)
    expect((await turn('turnFlagOff')).status).toBe(200)
    const [offUpdate] = (await offSeen) as [{ key: string }]
    expect(offUpdate.key).toBe(FLAG)
    const off = await client.variationDetail(FLAG, agent, 'default')
    expect(off.value).toBe(false)
    expect(off.variationIndex).toBe(1)
    expect(off.reason).toEqual({ kind: 'OFF' })

    const onSeen = once(client, `update:${FLAG}`)
    expect((await turn('turnFlagOn')).status).toBe(200)
    await onSeen
    const back = await client.variationDetail(FLAG, agent, 'default')
    expect(back.value).toBe(true)
    expect(back.reason).toEqual({ kind: 'FALLTHROUGH' })
  })

  it('delivers the patch after the profile streamPushDelayMs as well', async () => {
    await sandbox.stop()
    sandbox = await startSandbox({ seed: launchDarklySeed, overrides: { streamPushDelayMs: 25 } })
    const client = connect(sandbox.env.LD_SDK_KEY_PRODUCTION!)
    await client.waitForInitialization({ timeout: 10 })
    const offSeen = once(client, `update:${FLAG}`)
    expect((await turn('turnFlagOff')).status).toBe(200)
    await offSeen
    expect((await client.variationDetail(FLAG, agent, 'default')).reason).toEqual({ kind: 'OFF' })
  })

  it('streams only the environment of the SDK key: staging keeps its own state after a production halt', async () => {
    const staging = connect(sandbox.env.LD_SDK_KEY_STAGING!)
    const production = connect(sandbox.env.LD_SDK_KEY_PRODUCTION!)
    await Promise.all([staging.waitForInitialization({ timeout: 10 }), production.waitForInitialization({ timeout: 10 })])
    const productionSeen = once(production, `update:${FLAG}`)
    await turn('turnFlagOff')
    await productionSeen
    expect((await production.variationDetail(FLAG, agent, 'default')).reason).toEqual({ kind: 'OFF' })
    expect((await staging.variationDetail(FLAG, agent, 'default')).reason).toEqual({ kind: 'FALLTHROUGH' })
  })

  it('serves the polling endpoint with the same flags', async () => {
    const response = await fetch(`${sandbox.env.KILLSWITCH_LAUNCHDARKLY_BASE_URI}/sdk/latest-all`, {
      headers: { Authorization: sandbox.env.LD_SDK_KEY_PRODUCTION! },
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { flags: Record<string, { on: boolean; version: number }>; segments: object }
    expect(body.flags[FLAG]).toMatchObject({ key: FLAG, on: true, version: 1, offVariation: 1, fallthrough: { variation: 0 } })
    expect(body.segments).toEqual({})
    const unchanged = await fetch(`${sandbox.env.KILLSWITCH_LAUNCHDARKLY_BASE_URI}/sdk/latest-all`, {
      headers: { Authorization: sandbox.env.LD_SDK_KEY_PRODUCTION!, 'If-None-Match': response.headers.get('etag')! },
    })
    expect(unchanged.status).toBe(304)
  })

  it('accepts and discards analytics and diagnostic events with 202', async () => {
    for (const path of ['/bulk', '/diagnostic']) {
      const response = await fetch(`${sandbox.env.KILLSWITCH_LAUNCHDARKLY_EVENTS_URI}${path}`, {
        method: 'POST',
        headers: { Authorization: sandbox.env.LD_SDK_KEY_PRODUCTION!, 'Content-Type': 'application/json' },
        body: '[]',
      })
      expect(response.status).toBe(202)
    }
  })

  it('refuses an unknown SDK key: the client fails to initialize', async () => {
    const client = connect('sdk-unknown-key')
    await expect(client.waitForInitialization({ timeout: 10 })).rejects.toThrow(/Authentication failed/)
    expect(client.initialized()).toBe(false)
    expect((sandbox.state().launchdarkly as LaunchDarklyState).openStreams).toBe(0)
  })

  it('ends open streams when the sandbox stops', async () => {
    const client = connect(sandbox.env.LD_SDK_KEY_PRODUCTION!)
    await client.waitForInitialization({ timeout: 10 })
    const plane = sandbox.state().launchdarkly as LaunchDarklyState
    expect(plane.openStreams).toBe(1)
    await sandbox.stop()
    expect((sandbox.state().launchdarkly as LaunchDarklyState).openStreams).toBe(0)
    sandbox = await startSandbox({ seed: launchDarklySeed })
  })
})

describe('what the LaunchDarkly server SDK serves when a sandbox flag is off', () => {
  const servingSeed = {
    launchdarkly: {
      apiTokens: [API_TOKEN],
      projects: {
        [PROJECT]: {
          environments: { production: { sdkKey: 'sdk-test-production' } },
          flags: [
            { key: 'serves-false', on: { production: false } },
            { key: 'serves-true', on: { production: false }, offVariation: 0 },
            { key: 'no-off-variation', on: { production: false }, offVariation: null },
            { key: 'agent-mode', on: { production: false }, variations: ['autonomous', 'supervised', 'stopped'], offVariation: 2, fallthroughVariation: 0 },
          ],
        },
      },
    },
  }

  it("serves the off variation's value with reason OFF, and the caller's fallback when no off variation is set", async () => {
    await sandbox.stop()
    sandbox = await startSandbox({ seed: servingSeed })
    const client = connect(sandbox.env.LD_SDK_KEY_PRODUCTION!)
    await client.waitForInitialization({ timeout: 10 })

    const served = async (flag: string, fallback: unknown) => {
      const detail = await client.variationDetail(flag, agent, fallback)
      return [detail.value, detail.reason.kind]
    }
    expect(await served('serves-false', 'fallback')).toEqual([false, 'OFF'])
    expect(await served('serves-true', 'fallback')).toEqual([true, 'OFF'])
    expect(await served('no-off-variation', 'each agent’s own fallback')).toEqual(['each agent’s own fallback', 'OFF'])
    expect(await served('agent-mode', 'fallback')).toEqual(['stopped', 'OFF'])
  })
})
