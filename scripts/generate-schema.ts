// Writes schemas/runbook.schema.json from the runbook's zod schema (run: npm run schema).
import { writeFileSync } from 'node:fs'
import { runbookJsonSchema } from '../src/core/runbook/json-schema.js'

writeFileSync(new URL('../schemas/runbook.schema.json', import.meta.url), JSON.stringify(runbookJsonSchema(), null, 2) + '\n')
