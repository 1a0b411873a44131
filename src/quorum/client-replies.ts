/**
 * Building the quorum mode's answers to clients, in the contract's exact shapes
 * (PutResultQuorum, ReadResult with `version` in place of `clock`).
 */
import {KvError, type ErrorCode} from '../core/errors.js'
import type {ClientReply, PutResultQuorum, ReadResult} from '../core/client-messages.js'
import type {KeyVersion, LogVersion} from './types.js'

/** The read context of a quorum read: names the version read ("q1.<term>.<index>", q1.0.0 for none). */
export function quorumContext(version: LogVersion | null): string {
  return version ? `q1.${version.term}.${version.index}` : 'q1.0.0'
}

/** A committed write's reply; `node` is the replica the client asked, `leader` the one that committed it. */
export function putReply(reqId: string, key: string, node: string, leader: string, version: LogVersion): ClientReply {
  const result: PutResultQuorum = {key, node, leader, version: {term: version.term, index: version.index}}
  return {type: 'client.reply', id: reqId, ok: true, result}
}

/** A read's reply: found only when the key's last write is a value (a tombstone reads as not found). */
export function readReply(
  reqId: string,
  key: string,
  node: string,
  state: KeyVersion | null,
  replicas: {wanted: number; answered: number},
): ClientReply {
  const found = state !== null && state.value !== null
  const result: ReadResult = {
    key,
    node,
    found,
    conflict: false,
    values: found ? [{value: state.value, version: {term: state.version.term, index: state.version.index}}] : [],
    context: quorumContext(state ? state.version : null),
    replicas,
  }
  return {type: 'client.reply', id: reqId, ok: true, result}
}

export function errorReply(reqId: string, code: ErrorCode, message: string): ClientReply {
  return {type: 'client.reply', id: reqId, ok: false, error: new KvError(code, message).toJSON()}
}
