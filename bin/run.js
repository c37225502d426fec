#!/usr/bin/env -S node --max-semi-space-size=1 --optimize-for-size
// The flags: a halt keeps thousands of short-lived requests in flight, and V8's defaults let a 1,000-agent halt sit
// at over 300 MB resident for a live heap of about 45 MB: young-generation semi-spaces grown to 16 MB, and an old
// generation left to grow before a full collection. A 1 MB young generation and V8's memory-saving heuristics
// (--optimize-for-size) hold it near 165 MB with the same time-to-halt, for ~20 ms more start-up (bench/RESULTS.md).
// Thin launcher: refuse an unsupported Node before anything else is loaded, then hand over to oclif.
const [major, minor] = process.versions.node.split('.').map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `killswitch needs Node.js >= 22.12, but this is ${process.version} (${process.execPath}).\n` +
      'The project ships its own Node as a dev dependency: run it as `npx killswitch ...` or through `npm run`,\n' +
      'which put node_modules/.bin (and its node) first on PATH.\n',
  )
  process.exit(2)
}
// Cache compiled code between runs: a halt's start-up is part of its time-to-halt.
const { enableCompileCache } = await import('node:module')
enableCompileCache?.()
const { execute } = await import('@oclif/core/execute')
await execute({ dir: import.meta.url })
