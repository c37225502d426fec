#!/usr/bin/env -S node --max-semi-space-size=1
// The flag: a halt keeps thousands of short-lived requests in flight, and V8's default young generation (semi-spaces
// grown up to 16 MB) held a 1,000-agent halt at 337 MB resident where it takes 199 MB with 1 MB semi-spaces (both
// with the old-generation policy of src/cli/memory.ts; live heap about 45 MB). It costs nothing measurable at start-up.
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
// A reader that goes away (`killswitch status | head`, a `tee` that dies while a halt runs, a terminal that hung up)
// must not stop a halt half-way: Node raises EPIPE (EIO for the terminal) on the next write, which unhandled crashes
// the process, and oclif then waits forever for a 'drain' (exit 13). From the first error of a stream on, what is
// written to it is dropped and the command goes on; an error other than a gone reader (a full disk) is said on the
// other stream, if it still works.
const outputFailed = (stream) => (error) => {
  stream.write = (_chunk, encoding, callback) => {
    ;(typeof encoding === 'function' ? encoding : callback)?.()
    return true
  }
  // Whoever waits for the stream to drain (oclif before it exits) stops waiting.
  stream.emit('drain')
  if (error.code !== 'EPIPE' && error.code !== 'EIO') {
    const other = stream === process.stdout ? process.stderr : process.stdout
    other.write(`killswitch: ${stream === process.stdout ? 'stdout' : 'stderr'} failed (${error.code ?? error.message}); what would have gone there is dropped\n`)
  }
}
for (const stream of [process.stdout, process.stderr]) stream.on('error', outputFailed(stream))
// Cache compiled code between runs: a halt's start-up is part of its time-to-halt.
const { enableCompileCache } = await import('node:module')
enableCompileCache?.()
const { execute } = await import('@oclif/core/execute')
// Loading oclif's Command (every command extends it) adds a stdout 'error' listener that rethrows everything but
// EPIPE, which would turn a hung-up terminal's EIO into a crash: ours above is the one that decides.
const before = new Set(process.stdout.listeners('error'))
await import('@oclif/core/command')
for (const listener of process.stdout.listeners('error')) if (!before.has(listener)) process.stdout.off('error', listener)
await execute({ dir: import.meta.url })
