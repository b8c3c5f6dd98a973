// ctlog shard status: one line per configured shard.
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions } from '../options.js';

export function registerShardStatus(shard: Command): void {
  const cmd = shard.command('status').description('one line per configured shard: state, tree size, STH age, NotAfter window, prefix');
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const { loadConfig } = await import('../../config/config.js');
    const { formatShardStatus } = await import('../../cli/shard-status.js');
    const { withStorage } = await import('../with-storage.js');
    const config = loadConfig(o.config, o.data);
    const records = await withStorage(o, async (s) => ((await s.knex.schema.hasTable('shards')) ? s.listShards() : []));
    process.stdout.write(formatShardStatus(config, records, Date.now()) + '\n');
  });
}
