/**
 * Shared pieces of the Kubernetes plane's tests: a seed with one Deployment and two StatefulSets (one per pod
 * management policy), all with a 1-second grace period so terminations finish quickly, a poll on sandbox state, and
 * kubectl bound to a sandbox.
 */
import { execFile } from 'node:child_process'
import type { SeedInput } from '../../../src/sandbox/seed.js'
import type { NamespaceState } from '../../../src/sandbox/kubernetes/index.js'
import type { Sandbox } from '../../../src/sandbox/server.js'

export const NAMESPACE = 'agents'

export const seed: SeedInput = {
  kubernetes: {
    namespaces: {
      [NAMESPACE]: {
        deployments: [
          { name: 'refund', labels: { app: 'refund', class: 'refund' }, annotations: { team: 'payments' }, replicas: 2, terminationGracePeriodSeconds: 1 },
          { name: 'search', labels: { app: 'search', class: 'lookup', canary: 'true' }, replicas: 1, terminationGracePeriodSeconds: 30 },
        ],
        statefulsets: [
          { name: 'memory', labels: { app: 'memory', class: 'refund' }, replicas: 3, terminationGracePeriodSeconds: 1, podManagementPolicy: 'OrderedReady' },
          { name: 'ledger', labels: { app: 'ledger', class: 'refund' }, replicas: 3, terminationGracePeriodSeconds: 1, podManagementPolicy: 'Parallel' },
        ],
      },
    },
  },
}

export function namespaceState(sandbox: Sandbox, namespace = NAMESPACE): NamespaceState {
  const state = sandbox.state().kubernetes as Record<string, NamespaceState>
  return state[namespace]!
}

export function podsOf(sandbox: Sandbox, owner: string): NamespaceState['pods'] {
  return namespaceState(sandbox).pods.filter((pod) => pod.owner === owner)
}

/** Polls until `check` holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

export interface Kubectl {
  /** Runs kubectl against the sandbox's kubeconfig (namespace `agents` unless the args say otherwise); its stdout. */
  (...args: string[]): Promise<string>
  /** Runs kubectl and reports how it ended, without failing on a non-zero exit. */
  run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>
  /** The JSON kubectl prints for `-o json`. */
  json<T = Record<string, unknown>>(...args: string[]): Promise<T>
}

/** A kubectl bound to the sandbox, with its own discovery cache directory. */
export function kubectlFor(sandbox: () => Sandbox, cacheDir: () => string): Kubectl {
  const argv = (args: string[]) => ['--kubeconfig', sandbox().kubeconfigPath, '--cache-dir', cacheDir(), ...(args.includes('-n') || args.includes('-A') ? [] : ['-n', NAMESPACE]), ...args]
  const run = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile('kubectl', argv(args), (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }))
    })
  const kubectl = (async (...args: string[]) => {
    const result = await run(...args)
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
    return result.stdout
  }) as Kubectl
  kubectl.run = run
  kubectl.json = async <T>(...args: string[]) => JSON.parse(await kubectl(...args, '-o', 'json')) as T
  return kubectl
}
