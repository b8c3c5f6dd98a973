// ctlog shard <subcommand>: the shard operations. To add one, write shard-<name>.ts exporting
// registerShard<Name>(shard: Command) and add one line to SHARD_COMMANDS below.
import type { Command } from 'commander';
import { UsageError } from '../options.js';
import { registerShardCreate } from './shard-create.js';
import { registerShardStatus } from './shard-status.js';
import { registerShardWitness } from './shard-witness.js';
import { registerShardExport } from './shard-export.js';
import { registerShardFreeze } from './shard-freeze.js';
import { registerShardPrune } from './shard-prune.js';

/** The `ctlog shard` subcommands, in the order --help lists them. */
export const SHARD_COMMANDS: Array<(shard: Command) => void> = [
  registerShardStatus,
  registerShardCreate,
  registerShardWitness,
  registerShardFreeze,
  registerShardExport,
  registerShardPrune,
];

export function registerShard(program: Command): void {
  const shard = program
    .command('shard')
    .helpGroup('Operating:')
    // No subcommand, or an unknown one: name the ones there are (exit 2).
    .allowExcessArguments(true)
    .allowUnknownOption(true)
    .action((_opts: unknown, cmd: Command) => {
      const known = cmd.commands.map((c) => c.name()).join(' | ');
      const sub = cmd.args[0]?.startsWith('-') ? undefined : cmd.args[0];
      throw new UsageError(sub ? `unknown shard subcommand "${sub}"; expected ${known}` : `shard needs a subcommand: ${known}`);
    });
  for (const register of SHARD_COMMANDS) register(shard);
  shard.description(`shard operations: ${shard.commands.map((c) => c.name()).join(', ')} (ctlog shard <subcommand> --help)`);
}
