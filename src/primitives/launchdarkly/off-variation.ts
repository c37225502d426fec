/**
 * Whether turning a flag off stops the agents. While targeting is off, LaunchDarkly serves the flag's off variation
 * to everyone; with none set, each SDK caller gets the fallback value its own code passes. So "off" stops the agents
 * only if the off variation serves the step's halt value: `haltValue`, default `false` for boolean flags, and
 * required for multivariate flags (no default value could be right for them).
 */
import { isDeepStrictEqual } from 'node:util'
import type { JsonValue, TargetState } from '../../core/primitive.js'
import type { FlagRef, FlagView } from './rest-client.js'

/** Why turning a flag off would not stop the agents, and what to change in LaunchDarkly or the runbook. */
export type Unfit = {
  reason: string
  fix: string
}

/**
 * A flag's state. `on` is what a halt changes and a restore puts back. `unfit`, present only when turning the flag
 * off would not serve the halt value, makes the state not halted whatever `on` is: the agents are not stopped.
 */
export type FlagState = {
  on: boolean
  unfit?: Unfit
}

export function isBooleanFlag(variations: readonly JsonValue[]): boolean {
  return variations.length === 2 && variations.every((value) => typeof value === 'boolean')
}

/** The value that stops the agents: the step's, else `false` for a boolean flag; undefined when none can be assumed. */
export function haltValueFor(declared: JsonValue | undefined, variations: readonly JsonValue[]): JsonValue | undefined {
  if (declared !== undefined) return declared
  return isBooleanFlag(variations) ? false : undefined
}

/** What the flag serves while off, or why that is not `haltValue`. */
export function unfitness(flag: FlagRef, view: FlagView, haltValue: JsonValue | undefined): Unfit | undefined {
  const where = `flag ${flag.key} in ${flag.environment}`
  const values = view.variations.map((value) => JSON.stringify(value)).join(', ')
  if (haltValue === undefined) {
    return {
      reason: `${where} is multivariate (variations ${values}) and the step declares no haltValue, so nothing says which value stops the agents`,
      fix: 'add haltValue to the flagOff step: the variation value that stops the agents (docs/runbook.md)',
    }
  }
  const wanted = JSON.stringify(haltValue)
  const setOffVariation = view.variations.some((value) => isDeepStrictEqual(value, haltValue))
    ? `set the off variation of ${flag.key} in ${flag.environment} to ${wanted} (LaunchDarkly: the flag's Targeting tab, "If targeting is off, serve"), then halt again`
    : `no variation of ${flag.key} has the value ${wanted}: add one and make it the off variation in ${flag.environment}, or correct haltValue in the runbook`
  const offVariation = view.offVariation
  if (offVariation === null || offVariation < 0 || offVariation >= view.variations.length) {
    return { reason: `${where} has no off variation: turned off, it would serve each agent its own fallback value, not ${wanted}`, fix: setOffVariation }
  }
  const served = view.variations[offVariation]!
  if (isDeepStrictEqual(served, haltValue)) return undefined
  return { reason: `${where} serves ${JSON.stringify(served)} when off, not the halt value ${wanted}: turning it off would not stop the agents`, fix: setOffVariation }
}

export function flagState(flag: FlagRef, view: FlagView, declaredHaltValue: JsonValue | undefined): FlagState {
  const unfit = unfitness(flag, view, haltValueFor(declaredHaltValue, view.variations))
  return unfit ? { on: view.on, unfit } : { on: view.on }
}

/** The state as a `FlagState`; a journal written before `unfit` existed holds `{on}` alone, which still reads. */
export function asFlagState(state: TargetState): FlagState {
  if (typeof state.on !== 'boolean') throw new Error(`not a flag state: ${JSON.stringify(state)}`)
  const unfit = state.unfit as Partial<Unfit> | undefined
  if (unfit && typeof unfit.reason === 'string' && typeof unfit.fix === 'string') return { on: state.on, unfit: { reason: unfit.reason, fix: unfit.fix } }
  return { on: state.on }
}
