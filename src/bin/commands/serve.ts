// ctlog serve: the CTFE, the sequencer and the read server; one process on the embedded default,
// a primary (the sequencer) and --workers processes (CTFE + read) on MariaDB + Redis.
import type { Command } from 'commander';
import { addConfigOptions, addCreateShardsOption, addDatabaseOption, addListenOption, addQueueKeyOption, addRedisOptions, addWorkersOption, commonOptions } from '../options.js';

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .helpGroup('Serving:')
    .summary('CTFE + sequencer + read server in one process')
    .description(
      'CTFE + sequencer + read server in one process: embedded SQLite and an in-process queue unless ' +
        '--database/--redis are given. Embedded, it creates missing keys and shards on first run and ' +
        'migrates the schema. On --database and --redis the CTFE and read server run in --workers processes (one per core) ' +
        'and the sequencer in the first; it runs until SIGTERM or SIGINT, then drains.',
    );
  addConfigOptions(cmd);
  addListenOption(cmd, '127.0.0.1:6962', 'where to answer submissions, reads, /metrics and probes');
  addDatabaseOption(cmd);
  addRedisOptions(cmd);
  addQueueKeyOption(cmd);
  addWorkersOption(cmd);
  addCreateShardsOption(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const { runServer } = await import('../run-server.js');
    await runServer(['ctfe', 'sequencer', 'read'], commonOptions(o));
  });
}
