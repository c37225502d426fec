/**
 * The sandbox's seed: the resources it starts with. Written by hand as YAML/JSON (`--seed FILE`) or generated
 * from a runbook (`fleetFromRunbook`). Every plane takes its own section.
 */
import { z } from 'zod'
import { KubernetesSeed } from './kubernetes/seed.js'

const tags = z.record(z.string(), z.string()).default({})
/** Inline policies by name; a document may be given as an object or as its JSON text. */
const inlinePolicies = z.record(z.string(), z.union([z.string(), z.record(z.string(), z.unknown())])).default({})

const iamEntity = z
  .object({ name: z.string(), path: z.string().default('/'), tags, inlinePolicies })
  .strict()

export const LambdaFunctionSeed = z
  .object({
    name: z.string(),
    tags,
    /** Reserved concurrency; absent means unreserved (a different state from 0). */
    reservedConcurrency: z.number().int().min(0).optional(),
    runtime: z.string().default('nodejs22.x'),
    timeout: z.number().int().default(30),
    memorySize: z.number().int().default(256),
  })
  .strict()

export const AccountSeed = z
  .object({
    /** Lambda functions per region. */
    lambda: z.record(z.string(), z.array(LambdaFunctionSeed)).default({}),
    iam: z
      .object({ roles: z.array(iamEntity).default([]), users: z.array(iamEntity).default([]), groups: z.array(iamEntity).default([]) })
      .strict()
      .default({ roles: [], users: [], groups: [] }),
    /** The account's Lambda concurrency limit per region; AWS keeps 100 of it unreserved. */
    lambdaConcurrencyLimit: z.number().int().min(100).default(1000),
    /** SNS topic names per region. Publishing to a topic that does not exist answers NotFound, as AWS does. */
    sns: z.record(z.string(), z.array(z.string())).default({}),
  })
  .strict()

export const FlagSeed = z
  .object({
    key: z.string(),
    /** Whether targeting is on, per environment key. Environments not listed start off. */
    on: z.record(z.string(), z.boolean()).default({}),
    variations: z.array(z.unknown()).default([true, false]),
    /** The variation served while targeting is off; null: none is set, so each SDK caller gets its own fallback. */
    offVariation: z.number().int().nullable().default(1),
    fallthroughVariation: z.number().int().default(0),
    tags: z.array(z.string()).default([]),
    /** Archived flags are left out of flag lists, as LaunchDarkly leaves them out. */
    archived: z.boolean().default(false),
    /** Changes scheduled in an environment, each carried out `afterSeconds` after the sandbox starts. */
    scheduledChanges: z
      .array(
        z
          .object({
            environment: z.string(),
            afterSeconds: z.number().min(0),
            instructions: z.array(z.enum(['turnFlagOn', 'turnFlagOff'])).min(1),
          })
          .strict(),
      )
      .default([]),
    /** Flag triggers: a URL an outside tool calls to turn the flag on or off in one environment. */
    triggers: z
      .array(
        z
          .object({
            environment: z.string(),
            instruction: z.enum(['turnFlagOn', 'turnFlagOff']),
            enabled: z.boolean().default(true),
            integrationKey: z.string().default('generic-trigger'),
          })
          .strict(),
      )
      .default([]),
    /** Environments where an approval request for this flag is pending. */
    pendingApprovalRequests: z.array(z.string()).default([]),
  })
  .strict()

export const SeedSchema = z
  .object({
    aws: z
      .object({
        /** The account that unknown access keys belong to. */
        defaultAccount: z.string().regex(/^\d{12}$/).default('111122223333'),
        /** The identity of unknown access keys in the default account. */
        defaultPrincipal: z.string().default('arn:aws:iam::111122223333:role/killswitch-oncall'),
        /** Access keys with a fixed identity (for authority tests): key id → ARN. */
        principals: z.record(z.string(), z.string()).default({}),
        accounts: z.record(z.string().regex(/^\d{12}$/), AccountSeed).default({}),
      })
      .strict()
      .default({ defaultAccount: '111122223333', defaultPrincipal: 'arn:aws:iam::111122223333:role/killswitch-oncall', principals: {}, accounts: {} }),
    kubernetes: KubernetesSeed.prefault({}),
    launchdarkly: z
      .object({
        /** REST access tokens the sandbox accepts. Empty: any non-empty token is accepted. */
        apiTokens: z.array(z.string()).default([]),
        /** REST access tokens whose role has the bypassRequiredApproval action. */
        approvalBypassTokens: z.array(z.string()).default([]),
        projects: z
          .record(
            z.string(),
            z
              .object({
                /** Environment key → its server-side SDK key and approval settings. */
                environments: z.record(
                  z.string(),
                  z
                    .object({
                      sdkKey: z.string(),
                      /** Flag changes need an approval request: a direct PATCH is answered 405. */
                      approvalsRequired: z.boolean().default(false),
                      /** Flag changes must carry a comment. */
                      requireComments: z.boolean().default(false),
                    })
                    .strict(),
                ),
                flags: z.array(FlagSeed).default([]),
              })
              .strict(),
          )
          .default({}),
      })
      .strict()
      .default({ apiTokens: [], approvalBypassTokens: [], projects: {} }),
  })
  .strict()

export { KubernetesSeed, WorkloadSeed } from './kubernetes/seed.js'

export type Seed = z.infer<typeof SeedSchema>
export type SeedInput = z.input<typeof SeedSchema>
export type AccountSeed = z.infer<typeof AccountSeed>
export type FlagSeed = z.infer<typeof FlagSeed>
export type LambdaFunctionSeed = z.infer<typeof LambdaFunctionSeed>

export function parseSeed(input: unknown): Seed {
  return SeedSchema.parse(input)
}
