/**
 * Real replica processes started through bin/run.js, exactly as a user would (`kv node start`).
 * Each test makes its own TestCluster with a unique cluster name and data dirs under a temp dir.
 * The implementation moved to src/cluster/local-cluster.ts so the nemesis can use it too; tests
 * keep importing TestCluster from here.
 */
export {LocalCluster as TestCluster, RUN_JS, uniqueCluster} from '../../src/cluster/local-cluster.js'
export type {NodeOptions} from '../../src/cluster/local-cluster.js'
