/**
 * Shared pieces of the Kubernetes plane's tests: a seed with one Deployment and two StatefulSets (one per pod
 * management policy), all with a 1-second grace period so terminations finish quickly, and a poll on sandbox state.
 */
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
