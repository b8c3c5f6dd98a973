// `ctlog loglist`: every shard as a log in the v3 log list JSON schema that browsers and
// monitors read (operators[].logs[] with log_id, key, url, mmd, state, temporal_interval),
// so a monitor such as certspotter can be pointed at the log with one file.
import type { LogConfig } from '../config/config.js';
import type { ShardRecord } from '../storage/log-storage.js';
import { logMetadata } from '../http/log-metadata.js';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

export function buildLogList(config: LogConfig, records: ShardRecord[], now: number, opts: { tiled?: boolean } = {}) {
  const byName = new Map(records.map((r) => [r.name, r]));
  const logs = config.shards.flatMap((s) => {
    const r = byName.get(s.name);
    if (!r) return [];
    // The database's state: readonly with a final tree head only once frozen.
    return [logMetadata({ config: s, baseUrl: config.baseUrl, logId: r.logId, publicKey: r.publicKey, state: r.state, head: r.head, createdAt: r.createdAt }, opts)];
  });
  return {
    version: '1.0',
    log_list_timestamp: iso(now),
    operators: [{ name: config.operator, email: [], ...(opts.tiled ? { logs: [], tiled_logs: logs } : { logs }) }],
  };
}
