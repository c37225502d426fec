/**
 * What could undo a halt of a flag later without anyone running a restore: a scheduled change that turns the flag on
 * (or changes what it serves when off), and an enabled flag trigger that turns it on when an outside tool calls its
 * URL. Neither is removed here (the halt changes only on/off); the operator is told, target by target.
 */
import { PrimitiveError } from '../../core/primitive.js'
import type { FlagRef, LaunchDarklyRestClient, RequestOptions } from './rest-client.js'

/** Instructions that bring the agents back: targeting on, or another off variation. */
const REENABLING = new Set(['turnFlagOn', 'updateOffVariation'])

export interface LaterChangeRequests {
  scheduledChanges: RequestOptions
  triggers: RequestOptions
}

/**
 * One warning per scheduled change or trigger that could undo a halt of `flags`, and one per kind of lookup that
 * failed (LaunchDarkly offers both only on some plans). Flags that do not exist are answered 404 and skipped.
 */
export async function laterChangeWarnings(rest: LaunchDarklyRestClient, flags: readonly FlagRef[], requests: LaterChangeRequests): Promise<string[]> {
  const warnings: string[] = []
  const failures = { 'scheduled changes': [] as string[], triggers: [] as string[] }
  const failed = (kind: keyof typeof failures, flag: FlagRef) => (error: unknown) => {
    // The flag itself is missing: resolution reports that on its own.
    if (error instanceof PrimitiveError && error.code === 'LaunchDarklyNotFound') return
    failures[kind].push(`${flag.key}: ${(error as Error).message}`)
  }
  await Promise.all(
    flags.flatMap((flag) => [
      rest.listScheduledChanges(flag, requests.scheduledChanges).then((changes) => {
        for (const change of changes) {
          const reenabling = change.instructions.filter((kind) => REENABLING.has(kind))
          if (reenabling.length === 0) continue
          const when = change.executionDate === null ? 'at a date LaunchDarkly did not give' : `on ${new Date(change.executionDate).toISOString()}`
          warnings.push(
            `flag ${flag.key} in ${flag.environment}: a scheduled change (${change.id}) ${when} will ${reenabling.join(' and ')}, undoing a halt; delete it in LaunchDarkly (the flag's scheduled changes) if the agents must stay stopped`,
          )
        }
      }, failed('scheduled changes', flag)),
      rest.listTriggers(flag, requests.triggers).then((triggers) => {
        for (const trigger of triggers) {
          if (!trigger.enabled || !trigger.instructions.includes('turnFlagOn')) continue
          warnings.push(
            `flag ${flag.key} in ${flag.environment}: trigger ${trigger.integrationKey ?? 'of an unknown integration'} (${trigger.id}) is enabled and turns the flag on when its URL is called, undoing a halt; disable it in LaunchDarkly (the flag's triggers) if the agents must stay stopped`,
          )
        }
      }, failed('triggers', flag)),
    ]),
  )
  for (const [kind, errors] of Object.entries(failures)) {
    if (errors.length === 0) continue
    warnings.push(`could not check ${errors.length} flag(s) for ${kind} that would undo a halt (${errors.slice(0, 3).join('; ')}${errors.length > 3 ? '; …' : ''})`)
  }
  return warnings
}
