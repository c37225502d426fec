/** The steps every runbook-driven command shares: load the runbook, parse the scope, wire the ports. */
import type { EnginePorts } from '../core/engine.js'
import type { EngineEvent } from '../core/report.js'
import { loadRunbook, type LoadedRunbook } from '../core/runbook/load.js'
import { parseScope, type Scope } from '../core/scope.js'
import { createPorts } from './ports.js'

export interface Prepared {
  loaded: LoadedRunbook
  scope: Scope
  ports: EnginePorts
}

export async function prepare(runbookPath: string, scopeText: string, stateDir: string, emit: (e: EngineEvent) => void): Promise<Prepared> {
  const loaded = await loadRunbook(runbookPath)
  const scope = parseScope(scopeText, loaded.runbook)
  return { loaded, scope, ports: createPorts({ credentials: loaded.runbook.credentials, stateDir, emit }) }
}
