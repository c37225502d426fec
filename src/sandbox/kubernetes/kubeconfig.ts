/**
 * The kubeconfig the sandbox writes: the admin user (`kubernetes-admin` in system:masters) in the current context
 * `killswitch-sandbox` over plain HTTP, and per seeded RBAC user a user with that user's bearer token and a context
 * `killswitch-sandbox-as-<name>` on the cluster `killswitch-sandbox-tls`, the plane's TLS endpoint (kubectl sends a
 * kubeconfig's token only over TLS). The admin user comes first, its token on a line of its own.
 */
import { ADMIN_TOKEN, userToken } from './rbac.js'
import type { RbacUserSeed } from './seed.js'

/** YAML's double-quoted scalars accept JSON strings, so names with `:` or spaces stay intact. */
const quote = (value: string) => JSON.stringify(value)

export function kubeconfigFor(server: string, users: readonly Pick<RbacUserSeed, 'name'>[] = [], secureServer?: string): string {
  const cluster = (name: string, url: string) => [`- name: ${name}`, '  cluster:', `    server: ${url}`, '    insecure-skip-tls-verify: true']
  const context = (name: string, clusterName: string, user: string) => [`- name: ${name}`, '  context:', `    cluster: ${clusterName}`, `    user: ${user}`]
  const restricted = secureServer === undefined ? [] : users
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:', ...cluster('killswitch-sandbox', server)]
  if (restricted.length > 0) lines.push(...cluster('killswitch-sandbox-tls', secureServer!))
  lines.push('users:', '- name: killswitch-sandbox', '  user:', `    token: ${ADMIN_TOKEN}`)
  for (const { name } of restricted) lines.push(`- name: ${quote(`killswitch-sandbox-as-${name}`)}`, '  user:', `    token: ${userToken(name)}`)
  lines.push('contexts:', ...context('killswitch-sandbox', 'killswitch-sandbox', 'killswitch-sandbox'))
  for (const { name } of restricted) lines.push(...context(quote(`killswitch-sandbox-as-${name}`), 'killswitch-sandbox-tls', quote(`killswitch-sandbox-as-${name}`)))
  lines.push('current-context: killswitch-sandbox', '')
  return lines.join('\n')
}
