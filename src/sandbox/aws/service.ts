/** The contract between the AWS plane's router and each emulated service. */
import type { ServerResponse } from 'node:http'
import type { CallDecision, SandboxApi } from '../realism.js'
import type { SandboxRequest } from '../server.js'
import type { Caller } from './identity.js'

export interface AwsCall {
  req: SandboxRequest
  res: ServerResponse
  caller: Caller
  /** The region of the SigV4 credential scope. */
  region: string
}

export type FaultDecision = Extract<CallDecision, { kind: 'error' } | { kind: 'throttle' }>

export interface AwsService {
  /** The realism knobs (latency, faults) that apply to this service. */
  readonly api: SandboxApi
  serve(call: AwsCall): Promise<void> | void
  /** Answers an injected fault or throttle in the service's own wire format. */
  fault(call: AwsCall, decision: FaultDecision): void
}
