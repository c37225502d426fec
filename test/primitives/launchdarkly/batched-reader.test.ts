import { describe, expect, it } from 'vitest'
import { createBatchedFlagReader, type FlagReader } from '../../../src/primitives/launchdarkly/batched-reader.js'
import type { FlagRef, LaunchDarklyRestClient, RequestOptions } from '../../../src/primitives/launchdarkly/rest-client.js'
import { FakeLaunchDarkly } from './fake-launchdarkly.js'

const flag = (key: string, environment = 'production') => ({ project: 'agents', environment, key })

/** Whether the flag reads on; null when it does not exist. */
const readOn = (reader: FlagReader, f: FlagRef, o: RequestOptions) => reader.read(f, o).then((view) => view?.on ?? null)

function options(pace: () => Promise<void> = async () => {}): RequestOptions & { abort(reason: Error): void } {
  const controller = new AbortController()
  return { signal: controller.signal, pace, abort: (reason) => controller.abort(reason) }
}

function setup(flags: Record<string, boolean>) {
  const ld = new FakeLaunchDarkly()
  for (const [key, on] of Object.entries(flags)) ld.set('agents', 'production', key, on)
  return { ld, reader: createBatchedFlagReader(() => ld) }
}

/** A pace the test releases by hand, telling when it was first asked. */
function heldPace() {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let asked!: () => void
  const wasAsked = new Promise<void>((resolve) => (asked = resolve))
  return {
    pace: () => {
      asked()
      return released
    },
    wasAsked,
    release,
  }
}

describe('batched flag reader', () => {
  it('keeps waiting for the other reads when the read it paced for gives up', async () => {
    const { ld, reader } = setup({ a: true, b: false })
    const controller = new AbortController()
    const first: RequestOptions = {
      signal: controller.signal,
      pace: () => new Promise<void>((_, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true })),
    }
    const a = readOn(reader, flag('a'), first)
    const b = readOn(reader, flag('b'), options())
    await new Promise((resolve) => setTimeout(resolve, 20))
    controller.abort(new Error('a: deadline'))
    await expect(a).rejects.toThrow('a: deadline')
    await expect(b).resolves.toBe(false)
    expect(ld.calls).toEqual([{ call: 'LIST', flag: 'agents/production' }])
  })

  it('answers concurrent reads of one environment with one list request, null for an unknown key', async () => {
    const { ld, reader } = setup({ a: true, b: false, c: true })

    const answers = await Promise.all(['a', 'b', 'c', 'a', 'ghost'].map((key) => readOn(reader, flag(key), options())))

    expect(answers).toEqual([true, false, true, true, null])
    expect(ld.calls).toEqual([{ call: 'LIST', flag: 'agents/production' }])
  })

  it('lists each project and environment once', async () => {
    const { ld, reader } = setup({ a: true })
    ld.set('agents', 'staging', 'a', false)

    const answers = await Promise.all([readOn(reader, flag('a'), options()), readOn(reader, flag('a', 'staging'), options()), readOn(reader, flag('a'), options())])

    expect(answers).toEqual([true, false, true])
    expect(ld.calls.map((c) => c.flag).sort()).toEqual(['agents/production', 'agents/staging'])
  })

  it('lets a read join a batch until its request leaves, and starts a new batch after', async () => {
    const { ld, reader } = setup({ a: true, b: true, c: true })
    const held = heldPace()

    const first = readOn(reader, flag('a'), options(held.pace))
    await held.wasAsked
    const joined = readOn(reader, flag('b'), options())
    held.release()
    expect(await Promise.all([first, joined])).toEqual([true, true])
    ld.set('agents', 'production', 'c', false)
    const later = await readOn(reader, flag('c'), options())

    expect(later).toBe(false)
    expect(ld.calls.map((c) => c.call)).toEqual(['LIST', 'LIST'])
  })

  it("pauses each reader's deadline while its batch waits for its turn, until the batch's request leaves", async () => {
    const { reader } = setup({ a: true, b: true })
    const held = heldPace()
    const log: string[] = []
    const counted = (name: string, pace?: () => Promise<void>): RequestOptions => ({
      ...options(pace),
      pauseDeadline: () => {
        log.push(`${name} paused`)
        return () => log.push(`${name} runs`)
      },
    })

    const first = readOn(reader, flag('a'), counted('a', held.pace))
    await held.wasAsked
    const joined = readOn(reader, flag('b'), counted('b'))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(log).toEqual(['a paused', 'b paused'])
    held.release()
    expect(await Promise.all([first, joined])).toEqual([true, true])
    expect(log.slice(2).sort()).toEqual(['a runs', 'b runs'])
  })

  it('reads a few flags one by one when listing the project takes more pages than that', async () => {
    const flags = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`flag-${i}`, i % 2 === 0]))
    const { ld, reader } = setup(flags)
    await readOn(reader, flag('flag-0'), options())
    expect(ld.calls).toHaveLength(3)
    ld.calls.length = 0

    const few = await Promise.all([readOn(reader, flag('flag-1'), options()), readOn(reader, flag('flag-2'), options())])
    expect(few).toEqual([false, true])
    expect(ld.calls).toEqual([
      { call: 'GET', flag: 'flag-1' },
      { call: 'GET', flag: 'flag-2' },
    ])
    ld.calls.length = 0

    const many = await Promise.all(['flag-3', 'flag-4', 'flag-5'].map((key) => readOn(reader, flag(key), options())))
    expect(many).toEqual([false, true, false])
    expect(ld.calls.map((c) => c.call)).toEqual(['LIST', 'LIST', 'LIST'])
  })

  it('chooses between a list and one read per flag when its turn comes, with every read that joined by then', async () => {
    const flags = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`flag-${i}`, i % 2 === 0]))
    const { ld, reader } = setup(flags)
    await readOn(reader, flag('flag-0'), options())
    ld.calls.length = 0

    // Listing takes three pages: one flag alone is read by itself, but the batch waits for its turn (as read-backs
    // wait behind patches) and three more flags join it meanwhile.
    const held = heldPace()
    const first = readOn(reader, flag('flag-1'), options(held.pace))
    await held.wasAsked
    const joined = ['flag-2', 'flag-3', 'flag-4'].map((key) => readOn(reader, flag(key), options()))
    held.release()
    expect(await Promise.all([first, ...joined])).toEqual([false, true, false, true])
    expect(ld.calls.map((c) => c.call)).toEqual(['LIST', 'LIST', 'LIST'])
  })

  it("stops pausing a reader's deadline once it has its answer, while another flag's read still waits", async () => {
    // A client that pauses the caller's deadline around its pacing, as the fetch client does around pace and the
    // rate window; flag b's request is held there.
    let releaseB!: () => void
    const bHeld = new Promise<void>((resolve) => (releaseB = resolve))
    const rest = {
      async listFlags(_project: string, _environment: string, init: RequestOptions) {
        await init.pace()
        const on = { on: true, variations: [true, false], offVariation: 1 }
        return { flags: new Map([['a', on], ['b', on]]), pages: 5 }
      },
      async readFlag(f: FlagRef, init: RequestOptions) {
        const end = init.pauseDeadline?.()
        await init.pace()
        if (f.key === 'b') await bHeld
        end?.()
        return { on: false, variations: [true, false], offVariation: 1 }
      },
    } as unknown as LaunchDarklyRestClient
    const reader = createBatchedFlagReader(() => rest)
    await readOn(reader, flag('a'), options()) // the list takes 5 pages: two flags are read one by one

    let pausesOfA = 0
    const a = readOn(reader, flag('a'), { ...options(), pauseDeadline: () => (pausesOfA++, () => void pausesOfA--) })
    const b = readOn(reader, flag('b'), options())
    expect(await a).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(pausesOfA).toBe(0)
    releaseB()
    expect(await b).toBe(false)
  })

  it('rejects an aborted read with its reason and still answers the others of its batch', async () => {
    const { ld, reader } = setup({ a: true, b: false })
    const aborted = options()

    const gone = readOn(reader, flag('a'), aborted)
    const kept = readOn(reader, flag('b'), options())
    aborted.abort(new Error('verify timeout'))

    await expect(gone).rejects.toThrow('verify timeout')
    expect(await kept).toBe(false)
    expect(ld.calls).toHaveLength(1)
  })

  it('fails every read of a batch whose list fails, and lists afresh on the next read', async () => {
    const { ld, reader } = setup({ a: true, b: false })
    ld.listFailure = new Error('LaunchDarkly answered 500')

    const failed = await Promise.allSettled([readOn(reader, flag('a'), options()), readOn(reader, flag('b'), options())])
    const retried = await readOn(reader, flag('a'), options())

    expect(failed.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : r.value))).toEqual([
      'LaunchDarkly answered 500',
      'LaunchDarkly answered 500',
    ])
    expect(retried).toBe(true)
    expect(ld.calls.map((c) => c.call)).toEqual(['LIST', 'LIST'])
  })
})
