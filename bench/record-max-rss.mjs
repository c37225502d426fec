// Preload for the measured CLI (`node --import ./bench/record-max-rss.mjs bin/run.js ...`): on exit, writes the
// process's peak resident set size in KiB (`process.resourceUsage().maxRSS`) and the CPU seconds it used (user +
// system), separated by a space, to the file named by KILLSWITCH_BENCH_RSS_FILE. Plain JavaScript so that it loads
// without a TypeScript loader and costs nothing.
import { writeFileSync } from 'node:fs'

const file = process.env.KILLSWITCH_BENCH_RSS_FILE
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage()
    writeFileSync(file, `${usage.maxRSS} ${((usage.userCPUTime + usage.systemCPUTime) / 1e6).toFixed(2)}`)
  })
}
