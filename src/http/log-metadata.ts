// One shard as a log of the v3 log list schema (log_id, key, url, mmd, state,
// temporal_interval; the tiled form has submission_url and monitoring_url): what `ctlog
// loglist` lists for every shard and what each shard serves about itself at
// <prefix>/log.v3.json. The state follows the database: usable while active; readonly with
// its final tree head once frozen (a read-only shard that is not yet frozen has no final
// tree head, so it is listed as usable until then, and `ctlog_state` says read-only).
import type { ShardConfig } from '../config/config.js';
import type { ShardState, TreeHead } from '../storage/log-storage.js';
import { b64 } from '../util/bytes.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

export interface LogMetadataInput {
  config: ShardConfig;
  baseUrl: string;
  logId: Uint8Array;
  publicKey: Uint8Array;
  state: ShardState;
  /** The current tree head: the final one once frozen. */
  head: TreeHead;
  /** When the shard was created (usable since), ms. */
  createdAt?: number;
  /** When the state last changed (readonly since), ms. */
  stateChangedAt?: number;
}

export function logMetadata(i: LogMetadataInput, opts: { tiled?: boolean } = {}) {
  const frozen = i.state === 'frozen' || i.state === 'exported' || i.state === 'pruned';
  const state = frozen
    ? { readonly: { timestamp: iso(i.stateChangedAt ?? i.head.timestamp), final_tree_head: { sha256_root_hash: b64(i.head.rootHash), tree_size: i.head.treeSize } } }
    : { usable: { timestamp: iso(i.createdAt ?? i.head.timestamp) } };
  const url = `${i.baseUrl}${i.config.prefix}/`;
  const common = {
    description: `ctlog ${i.config.name}`,
    log_id: b64(i.logId),
    key: b64(i.publicKey),
    mmd: i.config.mmd,
    state,
    temporal_interval: { start_inclusive: iso(i.config.notAfterStart), end_exclusive: iso(i.config.notAfterLimit) },
  };
  return opts.tiled ? { ...common, submission_url: url, monitoring_url: url } : { ...common, url };
}

/** `<prefix>/log.v3.json`: the log's own metadata, both URL forms, its lifecycle state and its operator. */
export function selfMetadata(i: LogMetadataInput, operator: { name: string; email?: string[] }) {
  const url = `${i.baseUrl}${i.config.prefix}/`;
  return {
    ...logMetadata(i),
    submission_url: url,
    monitoring_url: url,
    ctlog_state: i.state,
    operator: { name: operator.name, email: operator.email ?? [] },
  };
}
