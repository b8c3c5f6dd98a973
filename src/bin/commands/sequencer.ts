// ctlog sequencer: the single writer, as its own process.
import type { Command } from 'commander';
import { addConfigOptions, addCreateShardsOption, addDatabaseOption, addListenOption, addQueueKeyOption, addRedisOptions, commonOptions } from '../options.js';

export function registerSequencer(program: Command): void {
  const cmd = program
    .command('sequencer')
    .helpGroup('Serving:')
    .summary('the single writer: sequences, commits and signs (needs --database and --redis)')
    .description(
      'The single writer: takes submissions from the queue, commits them and signs tree heads. ' +
        'Needs --database and --redis and the shard keys under --data. It answers only /metrics and ' +
        'the probes (no log endpoints). Runs until SIGTERM or SIGINT, then drains.',
    );
  addConfigOptions(cmd);
  addListenOption(cmd, '127.0.0.1:6964', 'where to answer /metrics and the probes (/livez /readyz /healthz)');
  addDatabaseOption(cmd);
  addRedisOptions(cmd);
  addQueueKeyOption(cmd);
  addCreateShardsOption(cmd);
  cmd.action(async (o: Record<string, unknown>) => {
    const { runServer } = await import('../run-server.js');
    await runServer(['sequencer'], commonOptions(o));
  });
}
