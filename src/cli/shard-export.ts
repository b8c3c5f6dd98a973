// `ctlog shard export NAME --out DIR`: checks the shard's state and the directory, runs the
// export (written and verified by the read service's exporter, which the entry point hands
// in: the CLI does not import the read service) and records the verified export.
import { resolve } from 'node:path';
import type { LogConfig } from '../config/config.js';
import type { LogStorage, ShardRecord } from '../storage/log-storage.js';
import { LifecycleError, recordExport, requireShard, shardLifecycle } from '../storage/shard-lifecycle.js';
import { progressPrinter } from './progress.js';

type Progress = { phase: string; done: number; total: number };

/** The exporter's shape (src/read/shard-export.ts exportShard). */
export type Exporter = (o: { storage: LogStorage; shard: ShardRecord; origin: string; dir: string; onProgress?: (p: Progress) => void }) => Promise<{
  manifest: { bytes: number; files: Record<string, string> };
  manifestSha256: Uint8Array;
  written: boolean;
  resumed: boolean;
}>;

export async function runShardExport(o: {
  storage: LogStorage;
  config: LogConfig;
  name: string;
  out: string | undefined;
  origin: (prefix: string) => string;
  exporter: Exporter;
  clock?: () => number;
  print?: (s: string) => void;
  progress?: (p: Progress) => void;
}): Promise<{ dir: string; manifestSha256: Uint8Array }> {
  const print = o.print ?? ((s: string) => process.stdout.write(s));
  if (!o.out) throw new LifecycleError(`shard export ${o.name}: needs --out DIR (a new or empty directory, or one an interrupted export of this shard left)`);
  const shard = await requireShard(o.storage, o.name);
  if (shard.state === 'active' || shard.state === 'read-only') throw new LifecycleError(`shard ${o.name} is ${shard.state}: only a frozen shard can be exported (its tree must never change again); run \`ctlog shard freeze ${o.name}\` first`);
  if (shard.state === 'pruned') {
    const lc = await shardLifecycle(o.storage, shard.id);
    throw new LifecycleError(`shard ${o.name} is pruned: its rows are gone, and its export is in ${lc.exportDir ?? '(unknown)'}`);
  }
  const cfg = o.config.shards.find((s) => s.name === o.name);
  if (!cfg) throw new LifecycleError(`shard export ${o.name}: the shard is not in ${o.config.file} (its prefix names the checkpoint origin)`);
  const dir = resolve(o.out);
  const t0 = Date.now();
  const r = await o.exporter({ storage: o.storage, shard, origin: o.origin(cfg.prefix), dir, onProgress: o.progress ?? progressPrinter(`export ${o.name}`) });
  await recordExport(o.storage, shard.id, dir, r.manifestSha256, (o.clock ?? Date.now)());
  const secs = (Date.now() - t0) / 1000;
  print(
    `${r.written ? (r.resumed ? 'resumed and finished' : 'exported') : 'already exported (re-verified)'} shard ${o.name} to ${dir}: ` +
      `${shard.head.treeSize} entries, ${Object.keys(r.manifest.files).length} files, ${(r.manifest.bytes / 1e6).toFixed(1)} MB in ${secs.toFixed(1)} s; verified; state exported\n`,
  );
  return { dir, manifestSha256: r.manifestSha256 };
}
