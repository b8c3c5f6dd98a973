// ctlog shard export NAME --out DIR: a frozen shard as static-ct-api files, verified from the
// files alone and recorded (src/cli/shard-export.ts; the writer is the read service's).
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions, UsageError } from '../options.js';

export function registerShardExport(shard: Command): void {
  const cmd = shard
    .command('export')
    .description(
      'write a frozen shard as a static-ct-api tree (checkpoint, tiles, data tiles, issuers) plus a leaf-hash index ' +
        'and manifest.json (written last), verify it from the files, and record it. Resumes an interrupted export in ' +
        'the same directory; refuses any other non-empty directory.',
    )
    .argument('<name>', 'shard name from shards.yaml')
    .option('--out <dir>', 'a new or empty directory (or the one an interrupted export of this shard left)');
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (name: string, opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    if (!opts.out) throw new UsageError(`shard export ${name}: needs --out DIR`);
    const { loadConfig } = await import('../../config/config.js');
    const { migrate } = await import('../../storage/database.js');
    const { runShardExport } = await import('../../cli/shard-export.js');
    const { exportShard } = await import('../../read/index.js');
    const { shardOrigin } = await import('../start-log.js');
    const { withStorage } = await import('../with-storage.js');
    const config = loadConfig(o.config, o.data);
    await withStorage(o, async (s) => {
      await migrate(s.knex);
      await runShardExport({ storage: s, config, name, out: String(opts.out), origin: (p) => shardOrigin(config, p), exporter: exportShard });
    });
  });
}
