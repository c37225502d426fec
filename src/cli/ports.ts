/**
 * Wires the core's ports to the real world: primitives from the registry with the runbook's credentials, the
 * caller identity from STS, notifications on SNS, the state directory, and the process clock.
 */
import { hostname, userInfo } from 'node:os'
import { redactDeep, redactSecrets, registerSecret } from '../core/secrets.js'
import type { EnginePorts } from '../core/engine.js'
import type { EngineEvent } from '../core/report.js'
import type { RunbookCredentials } from '../core/runbook/schema.js'
import { SharedAwsClients } from '../primitives/aws/clients.js'
import { loadPrimitive, type PrimitiveConfig } from '../primitives/registry.js'
import { favourMemoryFromNowOn } from './memory.js'

/**
 * `KILLSWITCH_CRASH_AT=journaled:N|applied:N|restored:N` kills the process (SIGKILL, no clean-up) at that point:
 * the crash-recovery tests use it to prove that `halt` resumes and `restore` is exact after a crash anywhere.
 */
function crashPointFromEnv(env: NodeJS.ProcessEnv): EnginePorts['crashPoint'] {
  const spec = env.KILLSWITCH_CRASH_AT
  if (!spec) return undefined
  const [point, count] = spec.split(':')
  return (at, n) => {
    if (at === point && n === Number(count)) process.kill(process.pid, 'SIGKILL')
  }
}

export function createPorts(options: { credentials: RunbookCredentials; stateDir: string; emit: (e: EngineEvent) => void }): EnginePorts {
  const profile = options.credentials.aws?.profile
  if (profile) {
    // The runbook's profile is the break-glass identity, as `aws --profile` beats AWS_PROFILE. The SDK takes a
    // profile's endpoint_url and services sections only from AWS_PROFILE (a client's own `profile` option does not
    // reach them), so this process's AWS_PROFILE becomes the runbook's (docs/primitives/aws.md#credentials).
    process.env.AWS_PROFILE = profile
    delete process.env.AWS_DEFAULT_PROFILE
  }
  // The AWS secrets the SDK will read from the environment; the others are registered where they are read.
  registerSecret(process.env.AWS_SECRET_ACCESS_KEY)
  registerSecret(process.env.AWS_SESSION_TOKEN)
  const config: PrimitiveConfig = { credentials: options.credentials, env: process.env }
  config.aws = new SharedAwsClients(config)
  const applying = new Set<string>()
  return {
    loadPrimitive: (kind) => loadPrimitive(kind, config),
    async callerIdentity() {
      const { getCallerIdentity } = await import('../primitives/aws/identity.js')
      return getCallerIdentity(config)
    },
    async notify(topics, subject, message) {
      const body = JSON.stringify(redactDeep(message))
      subject = redactSecrets(subject)
      const sns = (await import('../primitives/aws/notify.js')).createSnsNotifier(config)
      try {
        await Promise.all(topics.map((topicArn) => sns.publish({ topicArn, subject: subject.slice(0, 99), message: body, attributes: { event: String(message.event ?? '') } })))
      } finally {
        await sns.close()
      }
    },
    stateDir: options.stateDir,
    now: () => performance.now(),
    osUser: userInfo().username,
    host: hostname(),
    emit: (event) => {
      if (event.type === 'target') {
        // Once a change has been answered (a halted target verifying, a target restored), start-up is over and the
        // heap may be kept small (./memory.ts). An already-halted target is verified without a change, before any
        // request of the others may have left.
        if (event.state === 'applying') applying.add(event.id)
        else if ((event.state === 'verifying' && applying.has(event.id)) || event.state === 'restored') favourMemoryFromNowOn()
      }
      options.emit(event)
    },
    crashPoint: crashPointFromEnv(process.env),
  }
}
