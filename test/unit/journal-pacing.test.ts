import { appendFile, mkdtemp, readFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { isAuthorized } from '../../src/core/authority.js'
import { Pacer } from '../../src/core/pacing.js'
import { predictTimeToHalt } from '../../src/core/plan.js'
import { Deadline } from '../../src/core/wait.js'
import { Journal, JournalCorruptError } from '../../src/journal/journal.js'
import { acquireLock, LockedError } from '../../src/journal/lock.js'

const target = (n: number) => ({ id: `t${n}`, kind: 'flagOff' as const, label: `t${n}`, locator: { n } })
const at = '2026-11-22T00:00:00Z'

describe('journal', () => {
  it('groups concurrent appends and replays holds, applies and restores', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'journal-'))
    const j = await Journal.open(dir)
    await Promise.all(
      Array.from({ length: 50 }, (_, n) => j.append({ type: 'snapshot', invocation: 'h1', scope: 'class=a', step: 0, target: target(n), snapshot: { on: true }, at })),
    )
    await j.append({ type: 'snapshot', invocation: 'h2', scope: 'global', step: 0, target: target(1), snapshot: { on: false }, at })
    await j.append({ type: 'restored', invocation: 'r1', targetId: 't2', at })
    await j.close()
    const state = await Journal.read(dir)
    expect(state.entries.size).toBe(49)
    expect(state.entries.get('t1')).toMatchObject({ snapshot: { on: true }, holds: ['class=a', 'global'], haltedBy: 'h1' })
  })

  it('ignores a torn last line and cuts it off before appending again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'journal-'))
    const j = await Journal.open(dir)
    await j.append({ type: 'snapshot', invocation: 'h1', scope: 'class=a', step: 0, target: target(1), snapshot: { on: true }, at })
    await j.close()
    await appendFile(join(dir, 'journal.jsonl'), '{"type":"snap')
    expect((await Journal.read(dir)).tornTail).toBe(true)
    const again = await Journal.open(dir)
    await again.append({ type: 'applied', invocation: 'h1', targetId: 't1', at })
    await again.close()
    const state = await Journal.read(dir)
    expect(state.tornTail).toBe(false)
    expect(state.entries.get('t1')!.applied).toBe(true)
  })

  it('refuses a journal corrupted in the middle', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'journal-'))
    await appendFile(join(dir, 'journal.jsonl'), 'garbage\n{"type":"end","invocation":"x","status":"ok","at":""}\n')
    await expect(Journal.read(dir)).rejects.toBeInstanceOf(JournalCorruptError)
  })
})

describe('lock', () => {
  it('keeps a second operator out and names the holder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'))
    const lock = await acquireLock(dir, 'halt --scope global')
    await expect(acquireLock(dir, 'restore --scope global')).rejects.toThrow(LockedError)
    await expect(acquireLock(dir, 'restore')).rejects.toThrow(/"halt --scope global"/)
    await lock.release()
    const again = await acquireLock(dir, 'restore')
    await again.release()
  })

  it('takes over a lock whose process is gone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'))
    await appendFile(join(dir, 'lock'), JSON.stringify({ pid: 2 ** 22 + 17, host: (await import('node:os')).hostname(), user: 'x', command: 'halt', since: at }))
    const lock = await acquireLock(dir, 'halt')
    expect(lock.tookOverFrom?.command).toBe('halt')
    expect(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid)
    await lock.release()
  })

  it('waits for a brief holder (a hold appending to the journal) instead of refusing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'))
    const brief = await acquireLock(dir, 'hold --scope global (journaling a reversion)', { brief: true })
    setTimeout(() => void brief.release(), 50)
    const started = Date.now()
    const lock = await acquireLock(dir, 'restore --scope global')
    expect(Date.now() - started).toBeGreaterThanOrEqual(40)
    expect(lock.tookOverFrom).toBeUndefined()
    await lock.release()
  })

  it('waits for a lock file that was just created and is not written yet, instead of taking it over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lock-'))
    await appendFile(join(dir, 'lock'), '')
    setTimeout(() => void appendFile(join(dir, 'lock'), JSON.stringify({ pid: process.pid, host: hostname(), user: 'x', command: 'halt --scope global', since: at })), 30)
    await expect(acquireLock(dir, 'restore --scope global')).rejects.toThrow(/"halt --scope global"/)
  })
})

describe('pacing', () => {
  it('spaces requests in a bucket at its documented rate, in order, with the burst allowed up front', () => {
    let now = 0
    const pacer = new Pacer(() => now)
    const bucket = { key: 'lambda-control:1:us-east-1', ratePerSecond: 15 }
    const waits = Array.from({ length: 4 }, () => pacer.reserve(bucket))
    expect(waits.map((w) => Math.round(w))).toEqual([0, 67, 133, 200])
    now = 1000
    expect(pacer.reserve(bucket)).toBe(0)
    const bursty = { key: 'b', ratePerSecond: 10, burst: 3 }
    expect([pacer.reserve(bursty), pacer.reserve(bursty), pacer.reserve(bursty), pacer.reserve(bursty)].map(Math.round)).toEqual([0, 0, 0, 100])
  })

  it('releases mutations before read-backs before snapshot reads, in order within each', async () => {
    const pacer = new Pacer()
    const bucket = { key: 'iam:1', ratePerSecond: 200 }
    const order: string[] = []
    const ask = (name: string, priority: 0 | 1 | 2) => pacer.pace(bucket, undefined, priority).then(() => order.push(name))
    await Promise.all([ask('read-1', 2), ask('read-2', 2), ask('read-3', 2), ask('verify-1', 1), ask('put-1', 0), ask('put-2', 0)])
    // read-1 takes the one token there is; the rest leave by priority as tokens come.
    expect(order).toEqual(['read-1', 'put-1', 'put-2', 'verify-1', 'read-2', 'read-3'])
  })

  it('drops a waiting request whose signal aborts', async () => {
    const pacer = new Pacer()
    const bucket = { key: 'slow', ratePerSecond: 1 }
    await pacer.pace(bucket)
    const controller = new AbortController()
    const waiting = pacer.pace(bucket, controller.signal)
    controller.abort(new Error('halt finished'))
    await expect(waiting).rejects.toThrow('halt finished')
  })

  it('keeps buckets independent', () => {
    const pacer = new Pacer(() => 0)
    pacer.reserve({ key: 'a', ratePerSecond: 1 })
    expect(pacer.reserve({ key: 'b', ratePerSecond: 1 })).toBe(0)
  })
})

describe('verification deadline', () => {
  /** Runs `body` with timers and Date on a fake clock; the deadline reads that clock. */
  async function onFakeClock(body: (deadline: (ms: number) => Deadline) => Promise<void> | void) {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    try {
      await body((ms) => new Deadline(ms, () => Date.now()))
    } finally {
      vi.useRealTimers()
    }
  }

  it('aborts with a TimeoutError once its time has run', () =>
    onFakeClock((deadline) => {
      const d = deadline(100)
      vi.advanceTimersByTime(99)
      expect(d.signal.aborted).toBe(false)
      vi.advanceTimersByTime(1)
      expect(d.signal.aborted).toBe(true)
      expect((d.signal.reason as DOMException).name).toBe('TimeoutError')
    }))

  it('does not count the time paused, and runs again when the last of nested pauses ends', () =>
    onFakeClock((deadline) => {
      const d = deadline(100)
      vi.advanceTimersByTime(60)
      const outer = d.pause()
      const inner = d.pause()
      vi.advanceTimersByTime(10_000)
      outer()
      outer()
      vi.advanceTimersByTime(1_000)
      expect(d.signal.aborted).toBe(false)
      inner()
      vi.advanceTimersByTime(39)
      expect(d.signal.aborted).toBe(false)
      vi.advanceTimersByTime(1)
      expect(d.signal.aborted).toBe(true)
    }))

  it('never aborts once disposed, whatever pauses end after', () =>
    onFakeClock((deadline) => {
      const d = deadline(100)
      const pause = d.pause()
      d.dispose()
      pause()
      vi.advanceTimersByTime(1_000)
      expect(d.signal.aborted).toBe(false)
    }))
})

describe('time-to-halt prediction', () => {
  it('is bound by the Lambda control-plane rate for many functions (300 functions ≥ 20 s)', () => {
    const fn = { calls: [{ key: 'get', ratePerSecond: 100 }, { key: 'control', ratePerSecond: 15 }, { key: 'get', ratePerSecond: 100 }], settleMs: 0 }
    const p = predictTimeToHalt({ startMs: 0, requestMs: 0, steps: [{ index: 0, targets: Array.from({ length: 300 }, () => fn) }] })
    expect(p.timeToHaltMs).toBeGreaterThanOrEqual(19_900)
    expect(p.timeToHaltMs).toBeLessThan(21_000)
    expect(p.bottleneck).toContain('control')
  })

  it('adds a settle time such as a pod grace period', () => {
    const pod = { calls: [{ key: 'k', ratePerSecond: 50 }], settleMs: 10_000 }
    const p = predictTimeToHalt({ startMs: 100, requestMs: 10, steps: [{ index: 0, targets: [pod] }] })
    expect(p.timeToHaltMs).toBe(10_110)
    expect(p.bottleneck).toContain('settle time')
  })
})

describe('authority', () => {
  const principals = ['arn:aws:iam::111122223333:role/ops/killswitch-oncall', 'arn:aws:iam::*:user/breakglass-*']
  it('matches an assumed-role session to its role, whatever the role path', () => {
    expect(isAuthorized('arn:aws:sts::111122223333:assumed-role/killswitch-oncall/alice', principals)).toBe(true)
    expect(isAuthorized('arn:aws:sts::111122223333:assumed-role/agent-role/alice', principals)).toBe(false)
    expect(isAuthorized('arn:aws:sts::999999999999:assumed-role/killswitch-oncall/alice', principals)).toBe(false)
  })
  it('supports wildcards and refuses an unknown caller', () => {
    expect(isAuthorized('arn:aws:iam::444455556666:user/breakglass-bob', principals)).toBe(true)
    expect(isAuthorized(null, principals)).toBe(false)
  })
})

describe('sandbox knobs', async () => {
  const { parseKnobs, buildProfile } = await import('../../src/sandbox/realism.js')
  it('sets one knob of one API, or a profile-wide one, over a profile', () => {
    const overrides = parseKnobs(['lambda.errorRate=0.1', 'iam.latencyMs=200', 'iamPropagationMs=5000', 'rateLimits=false'])
    const profile = buildProfile('realistic', overrides)
    expect(profile.apis.lambda.errorRate).toBe(0.1)
    expect(profile.apis.lambda.latencyMs).toBe(40)
    expect(profile.apis.iam.latencyMs).toBe(200)
    expect(profile.iamPropagationMs).toBe(5000)
    expect(profile.rateLimits).toBe(false)
  })
  it('names the valid knobs when one is wrong', () => {
    expect(() => parseKnobs(['lambda.errorRat=0.1'])).toThrow(/unknown knob "lambda.errorRat"; write API.KNOB=VALUE \(APIs: lambda, iam/)
    expect(() => parseKnobs(['lambda.errorRate=2'])).toThrow(/a probability from 0 to 1/)
  })
})
