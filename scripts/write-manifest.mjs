// Writes oclif.manifest.json after a build, so that start-up finds a command without importing every command
// module (oclif does that when no manifest exists). Run by `npm run build`.
import { rmSync, writeFileSync } from 'node:fs'
import { Config } from '@oclif/core'

const root = new URL('..', import.meta.url).pathname
// oclif reads an existing manifest instead of the commands: start from none.
rmSync(new URL('../oclif.manifest.json', import.meta.url), { force: true })
const config = await Config.load({ root, devPlugins: false, userPlugins: false })
const plugin = config.getPluginsList().find((p) => p.root === config.root || p.type === 'core')
writeFileSync(new URL('../oclif.manifest.json', import.meta.url), JSON.stringify(plugin.manifest, null, 2) + '\n')
console.error(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`)
