/**
 * The runbook schema (apiVersion killswitch/v1). One definition serves three purposes: the loader validates with
 * it, the types below are inferred from it, and `schemas/runbook.schema.json` is generated from it for editors.
 */
import { z } from 'zod'
import { PRIMITIVE_KINDS } from '../primitive.js'

const accountId = z.string().regex(/^\d{12}$/, 'an AWS account id is 12 digits')
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region looks like us-east-1')
const tags = z
  .record(z.string().min(1), z.string())
  .refine((t) => Object.keys(t).length > 0, 'an empty tag map matches every resource: name at least one tag')
  .describe('Every tag must match (AND); at least one.')
/** Same bounds as durationMs (src/core/scope.ts): at least 1 ms, at most a day. */
const duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m)$/, 'a duration is a number with ms, s or m, like 30s')
  .refine((text) => {
    const [, n, unit] = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text) ?? []
    const ms = Math.round(Number(n) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000))
    return ms >= 1 && ms <= 24 * 60 * 60 * 1000
  }, 'a duration is between 1ms and 1440m (a day)')
  .describe('A duration such as 500ms, 10s or 2m, at most a day.')

export const LambdaConcurrencyZeroSpec = z
  .object({
    functions: z
      .object({
        names: z.array(z.string().min(1)).min(1).optional().describe('Function names or ARNs.'),
        tags: tags.optional(),
        accounts: z.array(accountId).min(1).optional().describe('Accounts to search; default: the break-glass account.'),
        regions: z.array(region).min(1).optional().describe('Regions to search; default: credentials.aws.region.'),
      })
      .strict()
      .refine((f) => f.names !== undefined || f.tags !== undefined, 'give functions.names or functions.tags'),
  })
  .strict()
  .describe('Set reserved concurrency to 0 (throttle every new invocation); restore puts back the prior value or removes the reservation.')

const iamSelector = z
  .object({
    names: z.array(z.string().min(1)).min(1).optional(),
    tags: tags.optional(),
    pathPrefix: z
      .string()
      .regex(/^\/([^/]+\/)*$/, 'a path prefix starts and ends with /, like /agents/')
      .refine((p) => p !== '/', 'pathPrefix "/" selects every principal in the account: give the agents\' own path, like /agents/')
      .optional(),
    accounts: z.array(accountId).min(1).optional(),
  })
  .strict()
  .refine((s) => s.names !== undefined || s.tags !== undefined || s.pathPrefix !== undefined, 'give names, tags or pathPrefix')

export const DenyAllSpec = z
  .object({
    roles: iamSelector.optional(),
    users: iamSelector.optional(),
    groups: iamSelector.optional(),
    policyName: z
      .string()
      .regex(/^[\w+=,.@-]{1,128}$/)
      .default('killswitch-deny-all')
      .describe("The inline policy killswitch owns; restore deletes only this one."),
  })
  .strict()
  .refine((s) => s.roles !== undefined || s.users !== undefined || s.groups !== undefined, 'give roles, users or groups')
  .describe('Attach an inline deny-all policy to IAM roles, users or groups.')

export const FlagOffSpec = z
  .object({
    project: z.string().min(1),
    environment: z.string().min(1),
    flags: z.array(z.string().min(1)).min(1),
    haltValue: z
      .union([z.boolean(), z.string(), z.number(), z.array(z.unknown()), z.record(z.string(), z.unknown())])
      .optional()
      .describe(
        "The value that stops the agents, which each flag's off variation must serve: default false for boolean flags, required for multivariate flags.",
      ),
  })
  .strict()
  .describe('Turn LaunchDarkly flags off in one environment (targeting untouched).')

export const ScaleToZeroSpec = z
  .object({
    namespace: z
      .string()
      .regex(/^([a-z0-9-]|\$\{(agent|class)\})+$/, 'a Kubernetes namespace is lower-case letters, digits and -, like agents (${class} and ${agent} may appear in it)'),
    selector: z.string().min(1).optional().describe('A Kubernetes label selector, like app=agent,tier!=canary.'),
    names: z
      .array(
        z
          .string()
          .regex(/^(deployment|statefulset|cronjob)\/[a-z0-9.-]+$/, 'name workloads as deployment/NAME, statefulset/NAME or cronjob/NAME'),
      )
      .min(1)
      .optional(),
    kinds: z
      .array(z.enum(['Deployment', 'StatefulSet', 'CronJob']))
      .min(1)
      .optional()
      .describe('What the selector matches; default Deployment, StatefulSet and CronJob (CronJobs skipped with a warning where they cannot be listed).'),
    gracePeriodSeconds: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Delete the workload's pods with this grace period instead of their own terminationGracePeriodSeconds."),
    reconcilers: z
      .enum(['pause', 'warn'])
      .default('pause')
      .describe('Controllers that would scale a halted workload back up (KEDA, Argo CD, Flux): pause them for the halt, or only warn.'),
    jobs: z
      .enum(['keep', 'delete'])
      .default('keep')
      .describe("Jobs already running for a suspended CronJob: keep them (named in a warning) or delete them with their pods."),
  })
  .strict()
  .refine((s) => s.selector !== undefined || s.names !== undefined, 'give selector or names')
  .describe('Scale Deployments and StatefulSets to zero replicas through the scale subresource, suspend CronJobs, and pause the controllers that would undo it.')

/** A step names exactly one primitive and its spec; `name` labels it in reports. */
export const StepSchema = z
  .object({
    name: z.string().optional(),
    flagOff: FlagOffSpec.optional(),
    denyAll: DenyAllSpec.optional(),
    lambdaConcurrencyZero: LambdaConcurrencyZeroSpec.optional(),
    scaleToZero: ScaleToZeroSpec.optional(),
  })
  .strict()
  .refine(
    (step) => PRIMITIVE_KINDS.filter((kind) => step[kind] !== undefined).length === 1,
    `a step names exactly one primitive: ${PRIMITIVE_KINDS.join(', ')}`,
  )

const scope = z.object({ steps: z.array(StepSchema).min(1) }).strict()

const secretSource = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'name an environment variable, like LD_API_TOKEN (the secret itself never goes in a runbook)')

export const RunbookSchema = z
  .object({
    apiVersion: z.literal('killswitch/v1'),
    kind: z.literal('Runbook'),
    metadata: z
      .object({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
        description: z.string().optional(),
      })
      .strict(),
    authority: z
      .object({
        principals: z
          .array(z.string().regex(/^arn:aws[a-z-]*:(iam|sts)::(\d{12}|\*):.+$/, 'an IAM or STS ARN, * allowed'))
          .min(1)
          .describe('Who may invoke: IAM role or user ARNs, matched against the STS caller identity.'),
      })
      .strict(),
    credentials: z
      .object({
        aws: z
          .object({
            profile: z.string().optional(),
            region: region.default('us-east-1'),
            accounts: z
              .record(accountId, z.object({ roleArn: z.string().startsWith('arn:aws'), externalId: z.string().optional() }).strict())
              .optional()
              .describe('Roles to assume for targets in other accounts.'),
          })
          .strict()
          .optional(),
        kubernetes: z.object({ kubeconfig: z.string().optional(), context: z.string().optional() }).strict().optional(),
        launchdarkly: z
          .object({
            apiTokenEnv: secretSource.default('LD_API_TOKEN'),
            sdkKeyEnv: z
              .union([secretSource, z.record(z.string(), secretSource)])
              .optional()
              .describe('The variable holding the server SDK key, or one variable per environment key.'),
            baseUri: z.url().optional(),
            streamUri: z.url().optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    slo: z.object({ agent: duration, class: duration, global: duration }).strict(),
    notify: z.object({ sns: z.array(z.string().startsWith('arn:aws')).default([]) }).strict().default({ sns: [] }),
    classes: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/)).min(1),
    agents: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe('Known agent ids per class; when given, --scope agent=ID is checked against them.'),
    scopes: z
      .object({ agent: scope.optional(), class: scope.optional(), global: scope.optional() })
      .strict()
      .refine((s) => s.agent || s.class || s.global, 'define at least one of agent, class, global'),
  })
  .strict()

export type Runbook = z.infer<typeof RunbookSchema>
export type Step = z.infer<typeof StepSchema>
export type FlagOffSpec = z.infer<typeof FlagOffSpec>
export type DenyAllSpec = z.infer<typeof DenyAllSpec>
export type LambdaConcurrencyZeroSpec = z.infer<typeof LambdaConcurrencyZeroSpec>
export type ScaleToZeroSpec = z.infer<typeof ScaleToZeroSpec>
export type RunbookCredentials = Runbook['credentials']
export type ScopeLevel = 'agent' | 'class' | 'global'
