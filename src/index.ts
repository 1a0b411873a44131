/** The package entry point: `import {KvClient} from "kv"`. The CLI is a thin layer over the same client. */
export * from './client/index.js'
