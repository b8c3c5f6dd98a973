// ctlog shard witness NAME [--adopt-database-head]: the fork guard's record against the
// database (docs/OPERATIONS.md "Fork guard"). Exit 0 when the sequencer would extend the
// database head, 1 when the guard refuses it.
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions, UsageError } from '../options.js';

export function registerShardWitness(shard: Command): void {
  const cmd = shard
    .command('witness')
    .description(
      "show the fork guard's record of the newest published tree head (under --data) beside the database's head, " +
        'and whether the sequencer would extend it (exit 0) or stops (exit 1). --adopt-database-head replaces the record ' +
        'by the database head: run it with the sequencer stopped, and only once you know the database holds every head ' +
        'the shard published (docs/OPERATIONS.md "Fork guard").',
    )
    .argument('<name>', 'shard name from shards.yaml')
    .option('--adopt-database-head', "replace the record by the database's head (deliberate; never to get past a rollback)", false);
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (name: string, opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const { loadConfig } = await import('../../config/config.js');
    const { shardWitness } = await import('../../cli/shard-witness.js');
    const { withStorage } = await import('../with-storage.js');
    const config = loadConfig(o.config, o.data);
    const cfg = config.shards.find((s) => s.name === name);
    if (!cfg) throw new UsageError(`shard witness: no shard named ${name} in ${config.file}`);
    const r = await withStorage(o, (s) => shardWitness(s, cfg, { adopt: Boolean(opts.adoptDatabaseHead) }));
    process.stdout.write(r.text + '\n');
    if (!r.ok) process.exitCode = 1;
  });
}
