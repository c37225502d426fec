/**
 * The sandbox's AWS plane: Lambda, IAM, STS, SNS and the Resource Groups Tagging API, routed by the service of the
 * SigV4 credential scope. Every call passes the realism gate first (latency, injected faults), whose decision is
 * answered in the service's own wire format; the caller's account is that of its access key (see identity.ts).
 */
import type { ServerResponse } from 'node:http'
import { notFound, type Plane, type PlaneOptions, type SandboxRequest } from '../server.js'
import { createIamService } from './iam.js'
import { Identities } from './identity.js'
import { createLambdaService } from './lambda.js'
import type { AwsService } from './service.js'
import { createSnsService } from './sns.js'
import { createStsService } from './sts.js'
import { createTaggingService } from './tagging.js'
import { AwsWorld, type AwsPlaneState } from './world.js'

export type { AwsPlaneState } from './world.js'

export function createAwsPlane(options: PlaneOptions): Plane {
  const world = new AwsWorld(options.seed.aws)
  const identities = new Identities(options.seed.aws)
  const { realism } = options
  /** Keyed by the SigV4 signing name. */
  const services: Record<string, AwsService> = {
    lambda: createLambdaService(world, realism),
    iam: createIamService(world, realism),
    sts: createStsService(world, identities),
    sns: createSnsService(world),
    tagging: createTaggingService(world),
  }

  return {
    name: 'aws',
    async handle(req: SandboxRequest, res: ServerResponse) {
      const scope = req.aws
      const service = scope && Object.hasOwn(services, scope.service) ? services[scope.service] : undefined
      if (!scope || !service) return notFound(res, `AWS service ${scope?.service ?? '(unsigned)'}: ${req.method} ${req.url.pathname}`)
      const call = { req, res, caller: identities.resolve(scope.accessKeyId), region: scope.region }
      const decision = await realism.gate(service.api)
      if (decision.kind === 'reset') {
        res.socket?.destroy()
        return
      }
      if (decision.kind !== 'serve') return service.fault(call, decision)
      await service.serve(call)
    },
    state: (): AwsPlaneState => world.state(),
    close: async () => {},
  }
}
