/** The editor schema for runbooks, generated from the same zod schema the loader validates with. */
import { z } from 'zod'
import { RunbookSchema } from './schema.js'

export function runbookJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(RunbookSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://killswitch.dev/schemas/runbook.schema.json',
    title: 'killswitch runbook (apiVersion killswitch/v1)',
  }
}
