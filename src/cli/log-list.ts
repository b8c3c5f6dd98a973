// `ctlog loglist`: every shard as a log in the v3 log list JSON schema that browsers and
// monitors read (operators[].logs[] with log_id, key, url, mmd, state, temporal_interval),
// so a monitor such as certspotter can be pointed at the log with one file.
import type { LogConfig } from '../config/config.js';
import type { ShardRecord } from '../storage/log-storage.js';
import { b64 } from '../util/bytes.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

export function buildLogList(config: LogConfig, records: ShardRecord[], now: number, opts: { tiled?: boolean } = {}) {
  const byName = new Map(records.map((r) => [r.name, r]));
  const logs = config.shards.flatMap((s) => {
    const r = byName.get(s.name);
    if (!r) return [];
    // usable since the shard was created; read-only as of its latest tree head.
    const state =
      s.state === 'active' && r.state === 'active'
        ? { usable: { timestamp: iso(r.createdAt) } }
        : { readonly: { timestamp: iso(r.head.timestamp), final_tree_head: { sha256_root_hash: b64(r.head.rootHash), tree_size: r.head.treeSize } } };
    const url = `${config.baseUrl}${s.prefix}/`;
    const common = {
      description: `ctlog ${s.name}`,
      log_id: b64(r.logId),
      key: b64(r.publicKey),
      mmd: s.mmd,
      state,
      temporal_interval: { start_inclusive: iso(s.notAfterStart), end_exclusive: iso(s.notAfterLimit) },
    };
    return [opts.tiled ? { ...common, submission_url: url, monitoring_url: url } : { ...common, url }];
  });
  return {
    version: '1.0',
    log_list_timestamp: iso(now),
    operators: [{ name: config.operator, email: [], ...(opts.tiled ? { logs: [], tiled_logs: logs } : { logs }) }],
  };
}
