// ctlog shard prune NAME: an exported shard's rows deleted and their space returned; read
// servers serve it from the export (src/cli/shard-prune.ts).
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions } from '../options.js';

export function registerShardPrune(shard: Command): void {
  const cmd = shard
    .command('prune')
    .description(
      "delete an exported shard's entries, tiles and tree heads (MariaDB: drop its partitions; SQLite: delete and VACUUM) " +
        'and report the bytes before and after. Refuses unless a verified export is recorded, and re-verifies it first. ' +
        'Read servers move the shard to its export within seconds.',
    )
    .argument('<name>', 'shard name')
    .option('--settle-ms <ms>', 'wait this long between marking the shard pruned and deleting, for read servers to switch', '5000');
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (name: string, opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const { migrate } = await import('../../storage/database.js');
    const { runShardPrune } = await import('../../cli/shard-prune.js');
    const { progressPrinter } = await import('../../cli/progress.js');
    const { verifyExport } = await import('../../read/index.js');
    const { withStorage } = await import('../with-storage.js');
    const settleMs = Number(opts.settleMs);
    await withStorage(o, async (s) => {
      await migrate(s.knex);
      await runShardPrune({ storage: s, name, dataDir: o.data, verify: verifyExport, settleMs: Number.isFinite(settleMs) && settleMs >= 0 ? settleMs : 5000, progress: progressPrinter(`prune ${name}: verify export`) });
    });
  });
}
