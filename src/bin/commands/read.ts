// ctlog read: the RFC 6962 and static-ct-api read server as its own process.
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, addListenOption, addRedisOptions, addWorkersOption, commonOptions } from '../options.js';

export function registerRead(program: Command): void {
  const cmd = program
    .command('read')
    .helpGroup('Serving:')
    .summary('RFC 6962 and static-ct-api reads (needs --database and --redis)')
    .description('RFC 6962 reads (get-sth, get-entries, proofs) and static-ct-api tiles and checkpoints. Needs --database and --redis. Runs until SIGTERM or SIGINT, then drains.');
  addConfigOptions(cmd);
  addListenOption(cmd, '127.0.0.1:6963', 'where to answer reads, /metrics and probes');
  addDatabaseOption(cmd);
  addRedisOptions(cmd);
  addWorkersOption(cmd, 'processes serving the port (default 1: each keeps its own caches, up to ~400 MiB; give more for cold get-entries on more cores); they never let tree_size go backwards between them');
  cmd.action(async (o: Record<string, unknown>) => {
    const { runServer } = await import('../run-server.js');
    await runServer(['read'], commonOptions(o));
  });
}
