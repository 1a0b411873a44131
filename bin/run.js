#!/usr/bin/env node
// The `kv` binary: oclif finds the compiled commands in dist/commands through oclif.manifest.json
// (both written by `npm run build`, which `npm ci` runs via prepare), so a run loads one command module.
//
// Importing @oclif/core checks its own engines range with semver (47 modules, about a tenth of a
// `kv --version`) unless OCLIF_DISABLE_ENGINE_WARNING is set; package.json's engines already state the
// Node kv needs, so skip that check for this import only, and leave the variable as the caller had it.
const asked = process.env.OCLIF_DISABLE_ENGINE_WARNING
if (asked === undefined) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const {execute} = await import('@oclif/core')
if (asked === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

await execute({dir: import.meta.url})
