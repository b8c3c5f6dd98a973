// ctlog shard freeze NAME: the shard stops taking entries for good; its final STH is signed
// with its key and recorded (src/cli/shard-freeze.ts).
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions } from '../options.js';

export function registerShardFreeze(shard: Command): void {
  const cmd = shard
    .command('freeze')
    .description(
      'stop a shard for good: mark it read-only (every process follows within seconds), wait for entries in flight, ' +
        'then sign and record its final STH. get-sth answers that STH from then on. Idempotent.',
    )
    .argument('<name>', 'shard name from shards.yaml (its key signs the final STH)');
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (name: string, opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const { loadConfig } = await import('../../config/config.js');
    const { migrate } = await import('../../storage/database.js');
    const { runShardFreeze } = await import('../../cli/shard-freeze.js');
    const { withStorage } = await import('../with-storage.js');
    const config = loadConfig(o.config, o.data);
    await withStorage(o, async (s) => {
      await migrate(s.knex);
      await runShardFreeze({ storage: s, config, name });
    });
  });
}
