// ctlog promote: make a replica the log's primary after the primary is lost
// (src/cli/promote-replica.ts; docs/OPERATIONS.md "Replication and failover").
import type { Command } from 'commander';
import { addConfigOptions, addDatabaseOption, commonOptions, databaseUrl, UsageError } from '../options.js';

export function registerPromote(program: Command): void {
  const cmd = program
    .command('promote')
    .helpGroup('Operating:')
    .description(
      'promote the MariaDB replica at --database to primary after the primary is lost: it applies what it received, ' +
        "its heads are checked against the fork guard's records under --data (run it where the sequencer's data directory is), " +
        'then replication is removed and writes allowed; --replica URL re-points other replicas at it. Then point every ctlog ' +
        'process at it and restart them.',
    )
    .option('--replica <url>', 'another replica to re-point at the promoted server (repeatable)', (v: string, acc: string[]) => [...acc, databaseUrl(v)], [] as string[])
    .option('--force', "promote even if a shard's published head is missing on it (the sequencer will still refuse that shard)", false);
  addConfigOptions(cmd);
  addDatabaseOption(cmd);
  cmd.action(async (opts: Record<string, unknown>) => {
    const o = commonOptions(opts);
    if (!o.database) throw new UsageError('promote needs --database mysql://…: the replica to promote');
    const { loadConfig } = await import('../../config/config.js');
    const { promoteReplica } = await import('../../cli/promote-replica.js');
    await promoteReplica({
      replicaUrl: o.database,
      otherReplicas: (opts.replica as string[] | undefined) ?? [],
      config: loadConfig(o.config, o.data),
      dataDir: o.data,
      force: Boolean(opts.force),
      progress: (line) => process.stderr.write(`ctlog promote: ${line}\n`),
    });
    process.stdout.write('promoted; now point CTLOG_DATABASE_URL of every ctlog process at it and restart them\n');
  });
}
