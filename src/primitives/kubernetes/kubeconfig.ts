/**
 * Loads the break-glass kubeconfig: the runbook's `credentials.kubernetes.kubeconfig` (with `~` expanded), else
 * `KUBECONFIG` from the configured environment (a path list, merged as kubectl does), else the client's default
 * loading (~/.kube/config, then in-cluster). The context is the runbook's, else the kubeconfig's current one.
 */
import { homedir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { KubeConfig } from '@kubernetes/client-node'
import { PrimitiveError } from '../../core/primitive.js'

type KubernetesModule = typeof import('@kubernetes/client-node')

export interface KubeconfigSource {
  kubeconfig?: string
  /** Overrides the kubeconfig's current context. */
  context?: string
  env: NodeJS.ProcessEnv
}

export function expandHome(path: string, env: NodeJS.ProcessEnv): string {
  if (path === '~') return env.HOME ?? homedir()
  if (path.startsWith('~/')) return join(env.HOME ?? homedir(), path.slice(2))
  return path
}

export function loadKubeConfig(k8s: KubernetesModule, source: KubeconfigSource): KubeConfig {
  const config = new k8s.KubeConfig()
  const files = source.kubeconfig
    ? [expandHome(source.kubeconfig, source.env)]
    : (source.env.KUBECONFIG ?? '').split(delimiter).filter((file) => file.length > 0)
  if (files.length === 0) {
    config.loadFromDefault()
  } else {
    config.loadFromFile(files[0]!)
    for (const file of files.slice(1)) {
      const more = new k8s.KubeConfig()
      more.loadFromFile(file)
      config.mergeConfig(more, true)
    }
  }
  if (source.context !== undefined) {
    if (config.getContextObject(source.context) === null) {
      throw new PrimitiveError(
        `kubeconfig context ${source.context} does not exist (known: ${config.contexts.map((c) => c.name).join(', ') || 'none'})`,
        'set credentials.kubernetes.context to one of the kubeconfig contexts, or fix credentials.kubernetes.kubeconfig',
        'KubernetesContextNotFound',
      )
    }
    config.setCurrentContext(source.context)
  }
  if (!config.getCurrentContext() || config.getCurrentCluster() === null) {
    throw new PrimitiveError(
      'the kubeconfig names no usable current context',
      'set credentials.kubernetes.context in the runbook, or KUBECONFIG to a kubeconfig with a current-context',
      'KubernetesContextNotFound',
    )
  }
  return config
}
