// ctlog migrate: create or update the schema (and the MariaDB database itself).
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions } from '../options.js';

export function registerMigrate(program: Command): void {
  const cmd = program
    .command('migrate')
    .helpGroup('Operating:')
    .description('create or update the database schema (creates the MariaDB database if missing); safe to re-run');
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    const { ensureMysqlDatabase, migrate } = await import('../../storage/database.js');
    const { withStorage } = await import('../with-storage.js');
    if (o.database) await ensureMysqlDatabase(o.database);
    const ran = await withStorage(o, (s) => migrate(s.knex));
    process.stdout.write(ran.length ? `applied ${ran.length} migration(s): ${ran.join(', ')}\n` : 'schema is up to date\n');
  });
}
