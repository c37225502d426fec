/**
 * Starts one moto server (an independent AWS emulator) for the whole run, on a free loopback port, and hands
 * its URL to the tests as `inject('motoUrl')`. moto ships on the machine image; .ci/run makes sure of it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    motoUrl: string
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

async function waitUntilUp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto server exited with code ${child.exitCode}`)
    try {
      const response = await fetch(`${url}/moto-api/`)
      if (response.status < 500) return
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`moto server did not answer on ${url} within ${timeoutMs} ms`)
}

export default async function setup(project: TestProject) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  try {
    await waitUntilUp(url, child, 30_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw new Error(`${(error as Error).message}\n${stderr}`)
  }
  project.provide('motoUrl', url)
  return async () => {
    child.kill('SIGTERM')
  }
}
