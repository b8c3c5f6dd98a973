// ctlog ctfe: the add-chain/add-pre-chain front end as its own processes (any number of them, each
// with --workers processes on one port).
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, addListenOption, addQueueKeyOption, addRedisOptions, addWorkersOption, commonOptions } from '../options.js';

export function registerCtfe(program: Command): void {
  const cmd = program
    .command('ctfe')
    .helpGroup('Serving:')
    .summary('add-chain / add-pre-chain front end (needs --database and --redis)')
    .description('The add-chain / add-pre-chain front end: checks chains and queues them for the sequencer. Needs --database and --redis. Runs --workers processes on one port (one per core), until SIGTERM or SIGINT, then drains them.');
  addConfigOptions(cmd);
  addListenOption(cmd, '127.0.0.1:6962', 'where to answer add-chain, add-pre-chain, /metrics and probes');
  addDatabaseOption(cmd);
  addRedisOptions(cmd);
  addQueueKeyOption(cmd);
  addWorkersOption(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const { runServer } = await import('../run-server.js');
    await runServer(['ctfe'], commonOptions(o));
  });
}
