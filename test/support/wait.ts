/**
 * Polling with a deadline (never a blind sleep). The implementation moved to src/cluster/wait-for.ts
 * so the nemesis can use it too; tests keep importing it from here.
 */
export {waitFor} from '../../src/cluster/wait-for.js'
