// `ctlog shard status`: one line per shard, in the aligned-columns style of kubectl get.
import type { LogConfig } from '../config/config.js';
import type { ShardRecord } from '../storage/log-storage.js';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function formatShardStatus(config: LogConfig, records: ShardRecord[], now: number): string {
  const byName = new Map(records.map((r) => [r.name, r]));
  const rows = [['NAME', 'STATE', 'TREE SIZE', 'STH AGE', 'NOT AFTER', 'PREFIX']];
  for (const s of config.shards) {
    const r = byName.get(s.name);
    rows.push([
      s.name,
      r ? (r.state === 'active' ? s.state : r.state) : 'not created',
      r ? String(r.head.treeSize) : '-',
      r ? `${Math.max(0, Math.round((now - r.head.timestamp) / 1000))}s` : '-',
      `${day(s.notAfterStart)}..${day(s.notAfterLimit)}`,
      s.prefix,
    ]);
  }
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('   ').trimEnd()).join('\n');
}
