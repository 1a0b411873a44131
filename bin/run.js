#!/usr/bin/env node
// The `kv` binary: oclif finds the compiled commands in dist/commands (built by `npm ci` via prepare).
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
