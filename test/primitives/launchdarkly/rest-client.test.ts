import { describe, expect, it, vi } from 'vitest'
import { PrimitiveError } from '../../../src/core/primitive.js'
import { createFetchRestClient, RateWindow, SEMANTIC_PATCH_CONTENT_TYPE } from '../../../src/primitives/launchdarkly/rest-client.js'
import { retryDelayMs } from '../../../src/primitives/launchdarkly/retry-delay.js'

interface Sent {
  url: string
  method: string
  headers: Record<string, string>
  body?: string
}

/** A `fetch` that records requests and answers from a queue of responses. */
function recordingFetch(responses: Response[]) {
  const sent: Sent[] = []
  const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
    sent.push({
      url: String(url),
      method: init?.method ?? 'GET',
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
      body: init?.body as string | undefined,
    })
    const next = responses.shift()
    if (!next) throw new Error('recordingFetch: no response left')
    return next
  }) as typeof fetch
  return { sent, fetchImpl }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } })

const flag = { project: 'agents', environment: 'production', key: 'refund-agent-enabled' }
const onOf = (view: { on: boolean } | null) => view?.on
const token = 'api-0000-secret-token'

function client(responses: Response[]) {
  const { sent, fetchImpl } = recordingFetch(responses)
  let paced = 0
  const options = { signal: new AbortController().signal, pace: async () => void paced++ }
  const rest = createFetchRestClient({ baseUri: 'http://127.0.0.1:1', token, apiTokenEnv: 'LD_API_TOKEN', fetch: fetchImpl, now: () => 1_000_000 })
  return { rest, sent, options, paced: () => paced }
}

/** Runs `test` with setTimeout and Date faked, and real timers back afterwards whatever happens. */
async function onFakeClock(test: () => Promise<void>): Promise<void> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] })
  try {
    await test()
  } finally {
    vi.useRealTimers()
  }
}

describe('LaunchDarkly REST client', () => {
  it('reads a flag with the raw token and the API version, scoped to the environment', async () => {
    const { rest, sent, options } = client([
      json(200, { key: 'refund-agent-enabled', variations: [{ value: true }, { value: false }], environments: { production: { on: true, offVariation: 1 } } }),
    ])

    expect(await rest.readFlag(flag, options)).toEqual({ on: true, variations: [true, false], offVariation: 1 })

    expect(sent).toEqual([
      {
        url: 'http://127.0.0.1:1/api/v2/flags/agents/refund-agent-enabled?env=production',
        method: 'GET',
        headers: { Authorization: token, 'LD-API-Version': '20240415', Accept: 'application/json' },
        body: undefined,
      },
    ])
  })

  it('lists the flags of a project page by page, scoped to the environment in summary form', async () => {
    const item = (key: string, on: boolean) => ({ key, variations: [{ value: 'go' }, { value: 'stop' }], environments: { production: { on, offVariation: 1 } } })
    const { rest, sent, options, paced } = client([
      json(200, { items: [item('a', true), item('b', false)], totalCount: 3 }),
      // No off variation set: LaunchDarkly leaves the field out.
      json(200, { items: [{ key: 'c', variations: [{ value: true }, { value: false }], environments: { production: { on: true } } }], totalCount: 3 }),
    ])

    const list = await rest.listFlags('agents', 'production', options)

    expect([...list.flags]).toEqual([
      ['a', { on: true, variations: ['go', 'stop'], offVariation: 1 }],
      ['b', { on: false, variations: ['go', 'stop'], offVariation: 1 }],
      ['c', { on: true, variations: [true, false], offVariation: null }],
    ])
    expect(list.pages).toBe(2)
    expect(sent.map((s) => s.url)).toEqual([
      'http://127.0.0.1:1/api/v2/flags/agents?env=production&summary=true&limit=100&offset=0',
      'http://127.0.0.1:1/api/v2/flags/agents?env=production&summary=true&limit=100&offset=2',
    ])
    expect(sent[0]!.headers).toEqual({ Authorization: token, 'LD-API-Version': '20240415', Accept: 'application/json' })
    expect(paced()).toBe(2)
  })

  it('stops listing when a page adds no flag, whatever totalCount says', async () => {
    const page = { items: [{ key: 'a', environments: { production: { on: true } } }], totalCount: 5 }
    const { rest, sent, options } = client([json(200, page), json(200, page)])

    const list = await rest.listFlags('agents', 'production', options)

    expect([...list.flags.keys()]).toEqual(['a'])
    expect(sent).toHaveLength(2)
  })

  it('refuses a list whose flags lack the environment', async () => {
    const { rest, options } = client([json(200, { items: [{ key: 'a', environments: {} }], totalCount: 1 })])

    const error = (await rest.listFlags('agents', 'prod', options).catch((e: unknown) => e)) as PrimitiveError

    expect(error.code).toBe('LaunchDarklyEnvironmentNotFound')
    expect(error.message).toContain('project agents has no environment prod')
  })

  it('reports an unknown project from the list as an operator error', async () => {
    const { rest, options } = client([json(404, { code: 'not_found', message: 'Unknown project: agnets' })])

    const error = (await rest.listFlags('agnets', 'production', options).catch((e: unknown) => e)) as PrimitiveError

    expect(error.code).toBe('LaunchDarklyNotFound')
    expect(error.message).toContain('Unknown project: agnets')
    expect(error.hint).toContain('flagOff.project')
  })

  it('answers null for a flag that does not exist', async () => {
    const { rest, options } = client([json(404, { code: 'not_found', message: 'Unknown resource' })])
    expect(await rest.readFlag(flag, options)).toBeNull()
  })

  it('sends turnFlagOff as a semantic patch with the environment and the comment, ignoring conflicts when asked', async () => {
    const { rest, sent, options } = client([json(200, { key: 'refund-agent-enabled' }), json(200, { key: 'refund-agent-enabled' })])

    await rest.patchFlag(flag, 'turnFlagOff', 'killswitch halt-42: INC-4411', options, { ignoreConflicts: true })
    await rest.patchFlag(flag, 'turnFlagOn', 'killswitch restore-1: fixed', options)

    expect(sent[0]!.method).toBe('PATCH')
    expect(sent[0]!.url).toBe('http://127.0.0.1:1/api/v2/flags/agents/refund-agent-enabled?ignoreConflicts=true')
    expect(sent[1]!.url).toBe('http://127.0.0.1:1/api/v2/flags/agents/refund-agent-enabled')
    expect(sent[0]!.headers['Content-Type']).toBe(SEMANTIC_PATCH_CONTENT_TYPE)
    expect(JSON.parse(sent[0]!.body!)).toEqual({
      environmentKey: 'production',
      comment: 'killswitch halt-42: INC-4411',
      instructions: [{ kind: 'turnFlagOff' }],
    })
  })

  it('waits out a 429 and retries, pacing every attempt', async () => {
    const { rest, sent, options, paced } = client([
      json(429, { code: 'rate_limited', message: 'slow down' }, { 'Retry-After': '0' }),
      json(429, { code: 'rate_limited', message: 'slow down' }, { 'X-Ratelimit-Reset': '1000000' }),
      json(200, { key: 'refund-agent-enabled' }),
    ])

    await rest.patchFlag(flag, 'turnFlagOn', 'killswitch restore-1: fixed', options)

    expect(sent).toHaveLength(3)
    expect(paced()).toBe(3)
  })

  it('retries a 5xx and a reset connection, and reports a 5xx that persists', async () => {
    const reset = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) })
    const answers: (Response | Error)[] = [json(502, { message: 'bad gateway' }), reset(), json(200, { environments: { production: { on: false } } })]
    const sent: string[] = []
    const fetchImpl = (async (url: string | URL | Request) => {
      sent.push(String(url))
      const next = answers.shift() ?? json(503, { code: 'service_unavailable', message: 'try later' })
      if (next instanceof Error) throw next
      return next
    }) as typeof fetch
    const rest = createFetchRestClient({ baseUri: 'http://127.0.0.1:1', token, apiTokenEnv: 'LD_API_TOKEN', fetch: fetchImpl, random: () => 0 })
    const options = { signal: new AbortController().signal, pace: async () => undefined }
    expect(onOf(await rest.readFlag(flag, options))).toBe(false)
    expect(sent).toHaveLength(3)
    sent.length = 0
    await expect(rest.readFlag(flag, options)).rejects.toThrow(/503.*try later/)
    expect(sent).toHaveLength(5)

    // A reset that persists names the request and the socket's error, not just "fetch failed".
    sent.length = 0
    answers.push(reset(), reset(), reset(), reset(), reset())
    await expect(rest.readFlag(flag, options)).rejects.toThrow(/could not be reached for GET \/api\/v2\/flags\/agents\/refund-agent-enabled\?env=production after 5 attempts: ECONNRESET/)
    expect(sent).toHaveLength(5)
  })

  it('honours a 503’s Retry-After, up to 5 s past its own back-off', () =>
    onFakeClock(async () => {
      const unavailable = (retryAfter: string) => new Response(JSON.stringify({ message: 'overloaded' }), { status: 503, headers: { 'Retry-After': retryAfter } })
      const answers = [unavailable('2'), unavailable('3600'), json(200, { environments: { production: { on: true } } })]
      const sentAt: number[] = []
      const fetchImpl = (async () => {
        sentAt.push(Date.now())
        return answers.shift()!
      }) as unknown as typeof fetch
      const rest = createFetchRestClient({ baseUri: 'http://127.0.0.1:1', token, apiTokenEnv: 'LD_API_TOKEN', fetch: fetchImpl, random: () => 0 })
      const read = rest.readFlag(flag, { signal: new AbortController().signal, pace: async () => undefined })
      await vi.advanceTimersByTimeAsync(10_000)
      expect(onOf(await read)).toBe(true)
      // Back-off alone would be 0 ms (random 0): the first retry waits the 2 s asked, the second 5 s, not an hour.
      expect(sentAt.map((t) => t - sentAt[0]!)).toEqual([0, 2_000, 7_000])
    }))

  it('does not count 429s against the attempts a transient failure gets', async () => {
    const limited = () => json(429, { message: 'slow down' }, { 'Retry-After': '0' })
    const answers = [limited(), limited(), limited(), limited(), limited(), json(500, {}), json(200, { environments: { production: { on: true } } })]
    const fetchImpl = (async () => answers.shift()!) as unknown as typeof fetch
    const rest = createFetchRestClient({ baseUri: 'http://127.0.0.1:1', token, apiTokenEnv: 'LD_API_TOKEN', fetch: fetchImpl, random: () => 0 })
    expect(onOf(await rest.readFlag(flag, { signal: new AbortController().signal, pace: async () => undefined }))).toBe(true)
    expect(answers).toHaveLength(0)
  })

  it('turns 401 into an operator error that names the token variable and never the token', async () => {
    const { rest, options } = client([json(401, { code: 'unauthorized', message: 'Invalid access token' })])

    const error = await rest.readFlag(flag, options).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(PrimitiveError)
    expect((error as PrimitiveError).code).toBe('LaunchDarklyUnauthorized')
    expect((error as PrimitiveError).message).toContain('401')
    expect((error as PrimitiveError).hint).toContain('LD_API_TOKEN')
    expect(`${(error as PrimitiveError).message} ${(error as PrimitiveError).hint}`).not.toContain(token)
  })

  it('reports required approvals (405) with what to do', async () => {
    const { rest, options } = client([json(405, { code: 'method_not_allowed', message: 'approval required' })])

    const error = (await rest.patchFlag(flag, 'turnFlagOff', 'c', options).catch((e: unknown) => e)) as PrimitiveError

    expect(error.code).toBe('LaunchDarklyApprovalRequired')
    expect(error.hint).toContain('bypassRequiredApproval')
  })

  it('refuses a flag read that lacks the environment', async () => {
    const { rest, options } = client([json(200, { key: 'refund-agent-enabled', environments: {} })])

    const error = (await rest.readFlag(flag, options).catch((e: unknown) => e)) as PrimitiveError

    expect(error.code).toBe('LaunchDarklyEnvironmentNotFound')
  })

  it("lists a project's environments page by page with their SDK keys and approval settings, null for an unknown project", async () => {
    const environment = (key: string, extra: object = {}) => ({ key, apiKey: `sdk-${key}`, mobileKey: `mob-${key}`, ...extra })
    const { rest, sent, options } = client([
      json(200, { items: [environment('production', { approvalSettings: { required: true } }), { key: 'hidden' }], totalCount: 3 }),
      json(200, { items: [environment('staging', { approvalSettings: { required: false } })], totalCount: 3 }),
      json(404, { code: 'not_found', message: 'Unknown project' }),
    ])

    expect(await rest.listEnvironments('agents', options)).toEqual([
      { key: 'production', sdkKey: 'sdk-production', approvalsRequired: true },
      { key: 'hidden', approvalsRequired: false },
      { key: 'staging', sdkKey: 'sdk-staging', approvalsRequired: false },
    ])
    expect(await rest.listEnvironments('agnets', options)).toBeNull()
    expect(sent.map((s) => s.url)).toEqual([
      'http://127.0.0.1:1/api/v2/projects/agents/environments?limit=100&offset=0',
      'http://127.0.0.1:1/api/v2/projects/agents/environments?limit=100&offset=2',
      'http://127.0.0.1:1/api/v2/projects/agnets/environments?limit=100&offset=0',
    ])
  })

  it("lists a flag's scheduled changes and triggers in its environment", async () => {
    const { rest, sent, options } = client([
      json(200, { items: [{ _id: 'sc1', executionDate: 1_900_000_000_000, instructions: [{ kind: 'turnFlagOn' }] }] }),
      json(200, { items: [{ _id: 't1', enabled: true, integrationKey: 'datadog', instructions: [{ kind: 'turnFlagOn' }] }, { _id: 't2', enabled: false, instructions: [] }] }),
    ])

    expect(await rest.listScheduledChanges(flag, options)).toEqual([{ id: 'sc1', executionDate: 1_900_000_000_000, instructions: ['turnFlagOn'] }])
    expect(await rest.listTriggers(flag, options)).toEqual([
      { id: 't1', enabled: true, integrationKey: 'datadog', instructions: ['turnFlagOn'] },
      { id: 't2', enabled: false, integrationKey: null, instructions: [] },
    ])
    expect(sent.map((s) => s.url)).toEqual([
      'http://127.0.0.1:1/api/v2/projects/agents/flags/refund-agent-enabled/environments/production/scheduled-changes',
      'http://127.0.0.1:1/api/v2/flags/agents/refund-agent-enabled/triggers/production',
    ])
  })
})

describe('RateWindow', () => {
  const report = (remaining: number, resetInMs: number, global = 500) =>
    new Headers({
      'X-Ratelimit-Route-Remaining': String(remaining),
      'X-Ratelimit-Global-Remaining': String(global),
      'X-Ratelimit-Reset': String(Date.now() + resetInMs),
    })
  const signal = new AbortController().signal
  const timed = async (w: RateWindow) => {
    const started = performance.now()
    await w.admit(signal)
    return performance.now() - started
  }

  it('lets requests go at once while the reported window has room for them and those in flight, then holds them until its reset', async () => {
    const w = new RateWindow(Date.now)
    expect(await timed(w)).toBeLessThan(50) // nothing reported yet
    w.settle(report(2, 300))
    expect(await timed(w)).toBeLessThan(50) // 2 left, none in flight
    expect(await timed(w)).toBeLessThan(50) // 2 left, one in flight
    expect(await timed(w)).toBeGreaterThanOrEqual(250) // 2 left, two in flight: waits for the reset
  })

  it('takes the smaller of the route and the token-wide counts', async () => {
    const w = new RateWindow(Date.now)
    await w.admit(signal)
    w.settle(report(50, 200, 0))
    expect(await timed(w)).toBeGreaterThanOrEqual(150)
  })

  it('follows the newest window and ignores reports of an older one', async () => {
    const w = new RateWindow(Date.now)
    for (let i = 0; i < 4; i++) await w.admit(signal)
    w.settle(report(0, 100_000)) // spent, far off: would hold requests
    w.settle(report(3, 200_000)) // a newer window with room: replaces it
    w.settle(report(0, 50)) // an older window: ignored
    expect(await timed(w)).toBeLessThan(50) // 3 left, one in flight
    w.settle(report(0, 200_000)) // the newer window, now spent
    const giveUp = new AbortController()
    let admitted = false
    const held = w.admit(giveUp.signal).then(() => (admitted = true), () => undefined)
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(admitted).toBe(false)
    giveUp.abort()
    await held
  })

  it('after a reset, sends no more than the largest window seen until an answer reports the new window', () =>
    onFakeClock(async () => {
      const w = new RateWindow(Date.now)
      for (let i = 0; i < 3; i++) await w.admit(signal)
      w.settle(report(2, 1_000)) // the window's first answer: it holds 3
      w.settle(report(1, 1_000))
      w.settle(report(0, 1_000))
      await vi.advanceTimersByTimeAsync(1_100) // reset passed; nothing reported of the next window yet
      for (let i = 0; i < 3; i++) await w.admit(signal)
      let admitted = false
      void w.admit(signal).then(() => (admitted = true))
      await vi.advanceTimersByTimeAsync(500)
      expect(admitted).toBe(false) // a fourth would find the new window full
      w.settle(report(2, 10_000)) // the new window's first answer: 2 left, 2 still in flight
      await vi.advanceTimersByTimeAsync(0)
      expect(admitted).toBe(false)
      w.settle(new Headers()) // an answer without counts only leaves flight
      await vi.advanceTimersByTimeAsync(0)
      expect(admitted).toBe(true) // 2 left, 1 in flight: woken at once, not at the window's reset
    }))

  it('after a reset with no answer at all, counts a fresh window once a window’s length has passed', () =>
    onFakeClock(async () => {
      const w = new RateWindow(Date.now)
      await w.admit(signal)
      w.settle(report(0, 100)) // a window of one, spent
      await vi.advanceTimersByTimeAsync(200)
      await w.admit(signal) // the next window's one request; its answer never comes
      let admitted = false
      void w.admit(signal).then(() => (admitted = true))
      await vi.advanceTimersByTimeAsync(10_000)
      expect(admitted).toBe(false)
      await vi.advanceTimersByTimeAsync(100)
      expect(admitted).toBe(true)
    }))

  it('after a wait cut short by a reset far off, lets through no more than a window of the held requests', () =>
    onFakeClock(async () => {
      const w = new RateWindow(Date.now)
      for (let i = 0; i < 3; i++) await w.admit(signal)
      w.settle(new Headers({ 'X-Ratelimit-Route-Remaining': '2', 'X-Ratelimit-Reset': String(Date.now() + 3_600_000) }))
      w.settle(new Headers({ 'X-Ratelimit-Route-Remaining': '0', 'X-Ratelimit-Reset': String(Date.now() + 3_600_000) }))
      w.settle(undefined)
      let admitted = 0
      for (let i = 0; i < 10; i++) void w.admit(signal).then(() => admitted++)
      await vi.advanceTimersByTimeAsync(10_100)
      expect(admitted).toBe(3) // the clocks disagree: the window is forgotten once, and the next holds 3
      w.settle(report(5, 10_000)) // an answer of the new window is taken, whatever the far-off reset said
      await vi.advanceTimersByTimeAsync(0)
      expect(admitted).toBe(6) // 5 left, 2 still in flight after that answer: 3 more
    }))

  it('does not count a 429 of the window known to be over against the next one', () =>
    onFakeClock(async () => {
      const w = new RateWindow(Date.now)
      await w.admit(signal)
      w.settle(report(0, 1_000)) // a window of one, spent
      await vi.advanceTimersByTimeAsync(1_100) // our clock says it reset
      await w.admit(signal)
      const stale = report(0, 0)
      stale.set('X-Ratelimit-Reset', String(Date.now() - 100)) // the server still counts the old window
      w.settle(stale, 429)
      let admitted = false
      void w.admit(signal).then(() => (admitted = true))
      await vi.advanceTimersByTimeAsync(0)
      expect(admitted).toBe(true) // the retry goes at once instead of waiting a window
    }))

  it('rejects at once for a signal already aborted, and when the signal aborts while held', async () => {
    const w = new RateWindow(Date.now)
    await w.admit(signal)
    w.settle(report(0, 60_000))
    const started = performance.now()
    await expect(w.admit(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone')
    const giveUp = new AbortController()
    const held = w.admit(giveUp.signal)
    setTimeout(() => giveUp.abort(new Error('halt over')), 20)
    await expect(held).rejects.toThrow('halt over')
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('never waits longer than a window, whatever reset the server reports', () =>
    onFakeClock(async () => {
      const w = new RateWindow(Date.now)
      await w.admit(signal)
      w.settle(report(0, 3_600_000)) // an hour: the clocks disagree
      let admitted = false
      void w.admit(signal).then(() => (admitted = true))
      await vi.advanceTimersByTimeAsync(10_049)
      expect(admitted).toBe(false)
      await vi.advanceTimersByTimeAsync(2)
      expect(admitted).toBe(true)
    }))
})

describe('retryDelayMs', () => {
  const headers = (init: Record<string, string>) => new Headers(init)

  it('prefers Retry-After in seconds or as an HTTP date', () => {
    expect(retryDelayMs(headers({ 'Retry-After': '2' }), 0)).toBe(2000)
    expect(retryDelayMs(headers({ 'Retry-After': new Date(5000).toUTCString() }), 2000)).toBe(3000)
  })

  it('falls back to X-Ratelimit-Reset in epoch milliseconds, then one second', () => {
    expect(retryDelayMs(headers({ 'X-Ratelimit-Reset': '1500' }), 1000)).toBe(500)
    expect(retryDelayMs(headers({ 'X-Ratelimit-Reset': '500' }), 1000)).toBe(0)
    expect(retryDelayMs(headers({}), 1000)).toBe(1000)
  })
})
