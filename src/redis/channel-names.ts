/**
 * Every Redis channel, queue and key the cluster uses, in one module (bullmq's queue-keys.ts is the
 * model). All carry the cluster name, so several clusters share one Redis without seeing each other.
 * BullMQ job ids may not contain ':', and queue names here are used as BullMQ queue names under the
 * prefix below.
 */
export interface ClusterNames {
  readonly cluster: string
  /** A replica's own inbox: client requests and point-to-point peer messages. */
  inbox(id: string): string
  /** Broadcast: heartbeats and join announcements (both modes). */
  readonly membersTopic: string
  /** Broadcast: eventual-mode replication fan-out. */
  readonly replicationTopic: string
  /** Broadcast: quorum-mode Bully election (ELECTION / OK / COORDINATOR). */
  readonly electionTopic: string
  /** Broadcast: quorum-mode COMMIT notices. */
  readonly commitTopic: string
  /** Broadcast: fault injection (partition / heal) for replicas started with --allow-faults. */
  readonly controlTopic: string
  /** A client's private reply channel. */
  replyChannel(clientId: string): string
  /** Hash: replica id → JSON registration (mode, started at). Written by each replica at start. */
  readonly membersKey: string
  /** String with TTL: present while the replica is serving (refreshed with each heartbeat). */
  aliveKey(id: string): string
  /** String: the current partition (JSON), so a restarted replica resumes the fault. */
  readonly faultKey: string
  /** BullMQ prefix for this cluster's queues. */
  readonly queuePrefix: string
  /** BullMQ queue of hinted hand-offs waiting for replica `id`. */
  hintQueue(id: string): string
}

export function clusterNames(cluster: string): ClusterNames {
  const p = `kv:${cluster}`
  return {
    cluster,
    inbox: (id) => `${p}:inbox:${id}`,
    membersTopic: `${p}:members`,
    replicationTopic: `${p}:replication`,
    electionTopic: `${p}:election`,
    commitTopic: `${p}:commit`,
    controlTopic: `${p}:control`,
    replyChannel: (clientId) => `${p}:reply:${clientId}`,
    membersKey: `${p}:registry`,
    aliveKey: (id) => `${p}:alive:${id}`,
    faultKey: `${p}:fault`,
    queuePrefix: `kv-${cluster}`,
    hintQueue: (id) => `hints-${id}`,
  }
}
