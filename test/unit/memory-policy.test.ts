import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { EngineEvent } from '../../src/core/report.js'

describe('memory policy', () => {
  afterEach(() => {
    vi.doUnmock('../../src/cli/memory.js')
    vi.resetModules()
  })

  it('turns on once a change has been answered, not when an already-halted target is verified, and passes every event on', async () => {
    const favour = vi.fn()
    vi.doMock('../../src/cli/memory.js', () => ({ favourMemoryFromNowOn: favour }))
    const { createPorts } = await import('../../src/cli/ports.js')
    const seen: EngineEvent[] = []
    const ports = createPorts({ credentials: {}, stateDir: '/nonexistent', emit: (e) => seen.push(e) })
    const target = (id: string, state: 'reading' | 'applying' | 'verifying') => ({ type: 'target', step: 0, id, label: id, state, atMs: 1 }) as EngineEvent
    ports.emit(target('a', 'reading'))
    ports.emit(target('already-off', 'verifying'))
    ports.emit(target('a', 'applying'))
    expect(favour).not.toHaveBeenCalled()
    ports.emit(target('a', 'verifying'))
    expect(favour).toHaveBeenCalledTimes(1)
    expect(seen.map((e) => (e as { state: string }).state)).toEqual(['reading', 'verifying', 'applying', 'verifying'])
  })

  it('turns on at the first restored target of a restore', async () => {
    const favour = vi.fn()
    vi.doMock('../../src/cli/memory.js', () => ({ favourMemoryFromNowOn: favour }))
    const { createPorts } = await import('../../src/cli/ports.js')
    const ports = createPorts({ credentials: {}, stateDir: '/nonexistent', emit: () => undefined })
    ports.emit({ type: 'target', step: 0, id: 'a', label: 'a', state: 'restoring', atMs: 1 } as EngineEvent)
    expect(favour).not.toHaveBeenCalled()
    ports.emit({ type: 'target', step: 0, id: 'a', label: 'a', state: 'restored', atMs: 2 } as EngineEvent)
    expect(favour).toHaveBeenCalledTimes(1)
  })

  it('collects at once, and leaves no collector exposed to code that runs later', async () => {
    const { favourMemoryFromNowOn } = await import('../../src/cli/memory.js')
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, text: `garbage ${i}` }))
    const before = process.memoryUsage().heapUsed
    garbage = undefined
    favourMemoryFromNowOn()
    expect(garbage).toBeUndefined()
    expect(before - process.memoryUsage().heapUsed).toBeGreaterThan(10_000_000)
    expect(runInNewContext('typeof gc')).toBe('undefined')
  })
})
