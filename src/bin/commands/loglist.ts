// ctlog loglist: the created shards as a v3 log list, for monitors such as certspotter.
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions } from '../options.js';

export function registerLoglist(program: Command): void {
  const cmd = program
    .command('loglist')
    .helpGroup('Operating:')
    .description('print the shards in the database as a v3 log list (JSON, for monitors such as certspotter)')
    .option('--tiled', 'list them as tiled_logs (static-ct-api monitoring URLs)', false);
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const { loadConfig } = await import('../../config/config.js');
    const { buildLogList } = await import('../../cli/log-list.js');
    const { withStorage } = await import('../with-storage.js');
    const config = loadConfig(o.config, o.data);
    const records = await withStorage(o, async (s) => {
      if (!(await s.knex.schema.hasTable('shards'))) throw new Error('the database has no shards yet: run `ctlog serve` (embedded) or `ctlog migrate` and `ctlog shard create --all`');
      return s.listShards();
    });
    process.stdout.write(JSON.stringify(buildLogList(config, records, Date.now(), { tiled: Boolean(opts.tiled) }), null, 2) + '\n');
  });
}
