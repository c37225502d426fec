/**
 * The benchmark's sandbox, in a process of its own so that the measured CLI's memory and CPU are only its own.
 * Started as `tsx bench/sandbox-process.ts <runbook.yaml> <seed.json> <profile> [KNOB=VALUE ...]` (knobs as in
 * `killswitch sandbox --knob`, e.g. `lambda.throttleRate=0.5`); prints one JSON line
 * `{url, env, kubeconfigPath}` (env: the sandbox's settings plus the runbook's secret variables) on stdout, records
 * every request (`GET /_sandbox/requests`, `GET /_sandbox/state`), and stops on SIGTERM or when stdin closes, so it
 * never outlives the benchmark that started it. Listens on 127.0.0.1 only, on a free port.
 */
import { readFile } from 'node:fs/promises'
import { parseRunbook } from '../src/core/runbook/load.js'
import { sandboxEnvironment } from '../src/sandbox/attach.js'
import { PROFILES, parseKnobs, type ProfileName } from '../src/sandbox/realism.js'
import { parseSeed } from '../src/sandbox/seed.js'
import { startSandbox } from '../src/sandbox/server.js'

const [runbookPath, seedPath, profileArg, ...knobs] = process.argv.slice(2)
if (!runbookPath || !seedPath || !profileArg || !(profileArg in PROFILES)) {
  process.stderr.write('usage: tsx bench/sandbox-process.ts <runbook.yaml> <seed.json> <instant|realistic|faulty> [KNOB=VALUE ...]\n')
  process.exit(2)
}
const runbook = parseRunbook(await readFile(runbookPath, 'utf8'), runbookPath)
const seed = parseSeed(JSON.parse(await readFile(seedPath, 'utf8')))
const overrides = parseKnobs(knobs)
const sandbox = await startSandbox({ seed, profile: profileArg as ProfileName, overrides, host: '127.0.0.1', recordRequests: true })

let stopping = false
const stop = async () => {
  if (stopping) return
  stopping = true
  await sandbox.stop()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('close', stop)
process.stdin.resume()

process.stdout.write(`${JSON.stringify({ url: sandbox.url, env: sandboxEnvironment(sandbox, runbook, seed), kubeconfigPath: sandbox.kubeconfigPath })}\n`)
