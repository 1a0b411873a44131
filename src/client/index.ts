/**
 * The client library's public face; src/index.ts re-exports it for users of the package.
 */
export {KvClient, DEFAULT_TIMEOUT_MS, STATUS_WAIT_MS_MAX} from './kv-client.js'
export type {KvClientOptions, ReadOptions, WriteOptions} from './kv-client.js'
export type {ClusterStatus} from './cluster-status.js'
export type {ClientBroker} from './client-broker.js'
export type {Mode} from './node-picker.js'
export type {
  LogVersion,
  NodeStatus,
  PutResult,
  PutResultEventual,
  PutResultQuorum,
  ReadResult,
  ReadValue,
  ReplicaCount,
} from '../core/client-messages.js'
export {KvError} from '../core/errors.js'
export type {ErrorCode} from '../core/errors.js'
export {parseReplicaCount, parsePartitionGroups} from './validate-input.js'
